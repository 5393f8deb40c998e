"""Inspect metrics shared by msm's tasks."""

from __future__ import annotations

import math

from inspect_ai.scorer import Metric, SampleScore, metric


@metric
def defined_mean() -> Metric:
    """Mean over the scores that are not NaN.

    msm's scorers mark a sample they could not score (an answer naming neither option, a
    grader reply without a score or verdict) with NaN; it is counted elsewhere, never
    averaged in as a 0.
    """

    def compute(scores: list[SampleScore]) -> float:
        vals = [float(s.score.value) for s in scores if not math.isnan(float(s.score.value))]  # type: ignore[arg-type]
        return sum(vals) / len(vals) if vals else math.nan

    return compute
