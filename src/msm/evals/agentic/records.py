"""One scored agentic sample as read back from an Inspect log.

The record both summaries read (the grader checks, :mod:`msm.evals.agentic.checks`, and
the reasoning judge's, :mod:`msm.evals.agentic.reasoning`); it sits below both so that
neither imports the other's module for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class SampleRecord:
    """One scored agentic sample as read back from the Inspect log."""

    sample: str
    epoch: int
    scenario: str
    goal: str
    value: dict[str, float]  # the misalignment scores
    meta: dict[str, Any]  # the misalignment score's metadata
    reasoning: tuple[dict[str, float], dict[str, Any]] | None = None

    @property
    def condition(self) -> str:
        return f"{self.scenario}/{self.goal}"


def _floats(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {k: float(v) if isinstance(v, int | float) else math.nan for k, v in value.items()}


def sample_records(log: Any) -> list[SampleRecord]:
    """The log's scored samples (errored ones left out: run.py counts them)."""
    out: list[SampleRecord] = []
    for smp in log.samples or []:
        scores = smp.scores or {}
        mis = scores.get("misalignment")
        if smp.error is not None or mis is None:
            continue
        md = smp.metadata or {}
        rs = scores.get("spec_reasoning")
        out.append(
            SampleRecord(
                sample=str(smp.id),
                epoch=int(smp.epoch),
                scenario=str(md.get("scenario")),
                goal=str(md.get("goal")),
                value=_floats(mis.value),
                meta=dict(mis.metadata or {}),
                reasoning=None if rs is None else (_floats(rs.value), dict(rs.metadata or {})),
            )
        )
    return out
