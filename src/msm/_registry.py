"""Inspect entry point: registers msm's model APIs (msm-fake, msm-local)."""

from msm.llm import fake as _fake  # noqa: F401
from msm.llm import local as _local  # noqa: F401
