"""How one cell of the "Cost and time" tables reads: ``actual / projected (×ratio)``.

Shared by the table by node kind (:mod:`msm.report.sections.cost`) and the table by role
(:mod:`msm.report.sections.cost_roles`), so both write numbers, prices, durations and
what was not recorded the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from msm._util.fmt import fmt_seconds
from msm.report.fmt import DASH

NOT_RECORDED = "not recorded"


def ratio(a: float | None, p: float | None) -> float | None:
    """Actual over projected; None when either is missing or nothing was projected."""
    return a / p if a is not None and p is not None and p > 0 else None


def count(x: float | None) -> str:
    """A count of calls or tokens with thousands separators."""
    return NOT_RECORDED if x is None else f"{int(x):,}"


def usd(x: float | None) -> str:
    """Dollars; None means a model the price table does not know."""
    return "unknown price" if x is None else f"${x:,.2f}"


def secs(x: float | None) -> str:
    """A duration as people read it."""
    return NOT_RECORDED if x is None else fmt_seconds(x)


def cell(
    a: float | None,
    p: float | None,
    fmt: Callable[[float | None], str],
    note: str,
    proj: bool,
    recorded: bool = True,
) -> str:
    """``actual / projected (×ratio)``; ``recorded`` False: the actual is not recorded."""
    text = fmt(a) if recorded else NOT_RECORDED
    text += f" ({note})" if note and recorded and a is not None else ""
    if not proj:
        return text
    r = ratio(a, p) if recorded else None
    pt = DASH if p is None else fmt(p)
    return f"{text} / {pt}" + (f" (×{r:.2f})" if r is not None else "")
