"""Evaluations as Inspect tasks (``msm eval``; ``inspect eval msm/<task>``)."""
