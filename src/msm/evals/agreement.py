"""Agreement between two yes/no graders: raw agreement and Cohen's kappa, with intervals.

Raw agreement is the share of samples both graders judged alike, with a Wilson interval.
Cohen's kappa corrects it for the agreement two graders with the same yes-rates would
reach by chance: ``kappa = (p_o - p_e) / (1 - p_e)``, ``p_o`` the observed agreement and
``p_e = p_a p_b + (1 - p_a)(1 - p_b)`` the expected one.

**When the expected agreement is 1** (both graders gave the same single label to every
sample: all yes, or all no), kappa is 0/0. msm reports it as *undefined* (``None``, with a
note), never as 0 or 1: chance alone explains the agreement, and the raw agreement (then
1.0) is the number to read. The interval is a percentile bootstrap over samples (2000
resamples, fixed seed): a resample of the pairs is a multinomial draw over the four cells of
the 2x2 table; resamples in which kappa is undefined are left out and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msm.evals.stats import rate_record

BOOTSTRAP_REPS = 2000
KAPPA_METHOD = f"percentile bootstrap over samples ({BOOTSTRAP_REPS} resamples, seed 0)"
UNDEFINED_NOTE = (
    "kappa undefined: both graders gave one and the same label to every sample "
    "(expected agreement 1); read the raw agreement"
)


def table(pairs: Sequence[tuple[bool, bool]]) -> tuple[int, int, int, int]:
    """Counts (yes/yes, yes/no, no/yes, no/no) of (first, second) verdicts."""
    yy = sum(1 for a, b in pairs if a and b)
    yn = sum(1 for a, b in pairs if a and not b)
    ny = sum(1 for a, b in pairs if not a and b)
    return yy, yn, ny, len(pairs) - yy - yn - ny


def kappa_from_table(yy: int, yn: int, ny: int, nn: int) -> float | None:
    """Cohen's kappa of a 2x2 table; None when there are no pairs or it is undefined.

    Computed on integer counts, so "expected agreement is exactly 1" is an exact test,
    not a float comparison: ``n^2 (1 - p_e) = n^2 - (a_yes b_yes + a_no b_no)``.
    """
    n = yy + yn + ny + nn
    if n == 0:
        return None
    a_yes, b_yes = yy + yn, yy + ny
    expected = a_yes * b_yes + (n - a_yes) * (n - b_yes)  # n^2 * p_e
    if expected == n * n:
        return None
    return ((yy + nn) * n - expected) / (n * n - expected)


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of (first, second) yes/no verdicts (see the module note for None)."""
    return kappa_from_table(*table(pairs))


def kappa_interval(
    cells: tuple[int, int, int, int], reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> tuple[tuple[float, float] | None, int]:
    """(95% percentile bootstrap interval or None, resamples where kappa was undefined)."""
    import numpy as np

    n = sum(cells)
    if n == 0:
        return None, 0
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [c / n for c in cells], size=reps).astype(np.int64)
    yy, yn, ny, nn = draws.T
    a_yes, b_yes = yy + yn, yy + ny
    expected = a_yes * b_yes + (n - a_yes) * (n - b_yes)
    defined = expected != n * n
    undefined = int(reps - defined.sum())
    if not defined.any():
        return None, undefined
    num = (yy + nn)[defined] * n - expected[defined]
    kappas = num / (n * n - expected[defined])
    lo, hi = np.percentile(kappas, [2.5, 97.5])
    return (float(lo), float(hi)), undefined


def agreement_stats(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Raw agreement (Wilson interval) and kappa (bootstrap interval) of verdict pairs."""
    cells = table(pairs)
    n, agree = len(pairs), cells[0] + cells[3]
    kappa = kappa_from_table(*cells)
    ci, undefined = kappa_interval(cells) if kappa is not None else (None, 0)
    out: dict[str, Any] = {
        "pairs": n,
        "agreement": rate_record(agree, n),
        "kappa": {
            "value": kappa,
            "ci95": list(ci) if ci else None,
            "method": KAPPA_METHOD,
            "undefined_resamples": undefined,
        },
        "table": dict(zip(("yes_yes", "yes_no", "no_yes", "no_no"), cells, strict=True)),
    }
    if kappa is None and n:
        out["kappa"]["note"] = UNDEFINED_NOTE
    return out
