"""Inspect entry point: msm's model APIs and tasks (msm/agentic, msm/values, msm/spec_qa,
msm/spec_belief)."""

from msm.evals import spec_qa as _spec_qa  # noqa: F401
from msm.evals.agentic import task as _agentic  # noqa: F401
from msm.evals.belief import task as _belief  # noqa: F401
from msm.evals.values import task as _values  # noqa: F401
from msm.llm import fake as _fake  # noqa: F401
from msm.llm import local as _local  # noqa: F401
