"""Agentic misalignment under pressure: the scenario grid and templates, the exfiltration
variants, the task, and the graders (harm checks and the reasoning judge)."""
