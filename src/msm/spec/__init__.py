"""Everything read from a Model Spec: its text and placeholders (``core``), its sections
and units, the context generation prompts show, lint, and the specs shipped with msm."""
