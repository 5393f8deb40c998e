"""``<think>`` handling for AFT data (lives in :mod:`msm.llm.think`, shared with docgen)."""

from msm.llm.think import has_think, strip_reasoning, strip_think

__all__ = ["has_think", "strip_reasoning", "strip_think"]
