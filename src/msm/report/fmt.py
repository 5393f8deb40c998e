"""Text formatting shared by the report sections: numbers, intervals, seeds, names.

Every cell of every report table goes through these, so one change here changes
them all; missing or non-finite values print as :data:`DASH`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from msm.evals.values.items import measures
from msm.report.load import Aggregate, GroupKey

DASH = "—"


def fmt_num(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals; fewer once it is large (>= 100), thousands separated."""
    if x is None or not math.isfinite(x):
        return DASH
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return DASH if ci is None else f"[{fmt_num(ci[0], digits)}, {fmt_num(ci[1], digits)}]"


def fmt_p(p: float | None) -> str:
    """A p-value with two significant digits; below 0.0001 as ``<0.0001``."""
    if p is None or not math.isfinite(p):
        return DASH
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def p_is(name: str, p: float | None) -> str:
    """``p=0.03``, ``Holm p<0.0001``: a named p-value as it reads in a sentence."""
    s = fmt_p(p)
    return f"{name}{s}" if s.startswith("<") else f"{name}={s}"


def p_note(r: dict[str, Any]) -> str:
    """``; primary, p=0.03`` or ``; exploratory, p=0.01, Holm p=0.2`` (empty without p)."""
    if r.get("p") is None:
        return ""
    if r.get("primary"):
        return f"; primary, {p_is('p', r['p'])}"
    holm = f", {p_is('Holm p', r['p_holm'])}" if r.get("p_holm") is not None else ""
    return f"; exploratory, {p_is('p', r['p'])}{holm}"


def fmt_size(s: int | None) -> str:
    return DASH if s is None else str(s)


def fmt_seeds(seeds: Sequence[int | None]) -> str:
    return ", ".join("?" if s is None else str(s) for s in seeds)


LEAD = ("label", "AFT n", "seeds")  # the first columns of every per-group table


def lead(k: GroupKey, seeds: Sequence[int | None]) -> list[str]:
    """The :data:`LEAD` cells of one group's row."""
    return [k.label, fmt_size(k.aft_size), fmt_seeds(seeds)]


def fmt_n(ns: Sequence[int | None]) -> str:
    """Sample sizes as one number or a ``lo–hi`` range."""
    vals = sorted({n for n in ns if n is not None})
    if not vals:
        return DASH
    return str(vals[0]) if len(vals) == 1 else f"{vals[0]}–{vals[-1]}"


def basis(a: Aggregate) -> str:
    """Where an aggregate's interval comes from: the eval itself or the spread of seeds."""
    if a.stats is None:
        return DASH
    if a.stats.method == "eval":
        return "one seed: items only"
    return f"t over {a.stats.k} seeds"


def direction(higher: bool, metric: str | None = None) -> str:
    """How to read a metric. A value set has no "better": it measures one value."""
    if metric is not None and metric.startswith("values."):
        name = metric.split(".")[1]
        what = measures(name) or "the value its items encode"
        return f"measures {what}; higher means more of that value, not better"
    return "higher is better" if higher else "lower is better"


def group_name(key: GroupKey) -> str:
    return key.label if key.aft_size is None else f"{key.label} n={key.aft_size}"


def safe_name(text: str) -> str:
    """A file-name stem from arbitrary text (labels may be model- or user-chosen)."""
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]+", "_", text)).strip("_") or "x"


def as_number(x: Any) -> float | None:
    """``x`` as a finite float, else None (bools are not numbers here)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def seed_note(a: Aggregate) -> str:
    """``seed 3`` for a single seed, ``k seeds`` otherwise."""
    if len(a.seeds) == 1:
        return f"seed {fmt_seeds(a.seeds)}"
    return f"{len(a.seeds)} seeds"
