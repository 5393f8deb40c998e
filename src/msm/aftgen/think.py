"""``<think>`` handling for AFT data (lives in :mod:`msm.think`, shared with docgen and parsers)."""

from msm.think import has_think, strip_reasoning, strip_think

__all__ = ["has_think", "strip_reasoning", "strip_think"]
