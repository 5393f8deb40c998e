"""Private plumbing that knows no domain (issue 28 moves the rest of it here)."""
