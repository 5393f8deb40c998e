"""Data efficiency: how much AFT-only data matches what MSM+AFT reaches with ``n`` examples.

Pure functions over curves of ``(aft_size, value)`` points; no files, no plotting.

Rules
-----
* Points that share a size (several seeds, or a repeated size) are averaged first.
* The AFT-only curve is read in increasing size. The size needed to reach a target
  is found by linear interpolation in ``log(size)`` between the last point that
  misses the target and the first point that reaches it.
* Non-monotone curves: the *first* crossing in increasing size is used (a later dip
  back below the target is ignored); the result carries ``monotone=False`` so the
  report can say the curve wobbles.
* Already matched: if the smallest AFT-only size already reaches the target, all we
  know is ``needed <= smallest`` (relation ``"<="``), so the multiplier is an upper
  bound ``smallest / n``.
* Not reached: if no AFT-only size reaches the target, all we know is
  ``needed > largest`` (relation ``">"``), and the multiplier is a lower bound
  ``largest / n``.
* Direction: for a metric where lower is better, "reaches" means ``value <= target``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from msm.evals.stats import t95

Relation = Literal["=", "<=", ">"]


@dataclass(frozen=True)
class Needed:
    """The AFT-only size needed to reach a target value.

    ``relation`` says how to read ``size``: ``"="`` interpolated estimate, ``"<="``
    upper bound (matched at the smallest size), ``">"`` lower bound (never reached).
    """

    target: float
    size: float
    relation: Relation
    monotone: bool


@dataclass(frozen=True)
class EfficiencyPoint:
    """One MSM+AFT size ``n`` against the AFT-only curve.

    ``multiplier`` is ``needed.size / n`` read with the same ``relation``.
    """

    n: float
    msm_value: float
    needed: Needed
    multiplier: float

    @property
    def relation(self) -> Relation:
        return self.needed.relation

    @property
    def reached(self) -> bool:
        return self.needed.relation != ">"


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def average_by_size(points: Iterable[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Mean value per size, sorted by size; points with a missing/NaN value or size <= 0 dropped."""
    acc: dict[float, list[float]] = defaultdict(list)
    for size, value in points:
        if not _finite(size) or size <= 0 or not _finite(value):
            continue
        acc[float(size)].append(float(value))  # type: ignore[arg-type]
    return [(s, sum(v) / len(v)) for s, v in sorted(acc.items())]


def is_monotone(curve: list[tuple[float, float]], higher_is_better: bool = True) -> bool:
    """Whether the (size-sorted) curve never gets worse as size grows."""
    vals = [v for _, v in curve]
    if higher_is_better:
        return all(b >= a for a, b in zip(vals, vals[1:], strict=False))
    return all(b <= a for a, b in zip(vals, vals[1:], strict=False))


def size_needed(
    curve: Iterable[tuple[float, float | None]], target: float, higher_is_better: bool = True
) -> Needed | None:
    """The AFT-only size needed to reach ``target``; None when the curve has no usable point.

    See the module docstring for the rules (log-size interpolation, first crossing,
    bounds when matched at the smallest size or never reached).
    """
    pts = average_by_size(curve)
    if not pts or not _finite(target):
        return None
    mono = is_monotone(pts, higher_is_better)

    def reaches(v: float) -> bool:
        return v >= target if higher_is_better else v <= target

    if reaches(pts[0][1]):
        return Needed(target, pts[0][0], "<=", mono)
    for (s0, v0), (s1, v1) in zip(pts, pts[1:], strict=False):
        if not reaches(v1):
            continue
        if v1 == target:
            return Needed(target, s1, "=", mono)
        # v0 misses and v1 reaches, so v1 != v0 and the fraction lies in (0, 1)
        frac = (target - v0) / (v1 - v0)
        size = math.exp(math.log(s0) + frac * (math.log(s1) - math.log(s0)))
        return Needed(target, size, "=", mono)
    return Needed(target, pts[-1][0], ">", mono)


def efficiency_curve(
    aft_only: Iterable[tuple[float, float | None]],
    msm: Iterable[tuple[float, float | None]],
    higher_is_better: bool = True,
) -> list[EfficiencyPoint]:
    """For each MSM+AFT size ``n`` (duplicates averaged), the AFT-only size needed and multiplier.

    Empty when either curve has no usable point.
    """
    base = average_by_size(aft_only)
    out: list[EfficiencyPoint] = []
    if not base:
        return out
    for n, value in average_by_size(msm):
        need = size_needed(base, value, higher_is_better)
        if need is None:
            continue
        out.append(EfficiencyPoint(n=n, msm_value=value, needed=need, multiplier=need.size / n))
    return out


def describe(point: EfficiencyPoint, baseline: str = "AFT-only") -> str:
    """One plain sentence for a point, e.g. ``at n=100, AFT-only needs ~400 (4.0x)``."""
    n = _fmt_size(point.n)
    need, mult = _fmt_size(point.needed.size), f"{point.multiplier:.2g}"
    if point.relation == "=":
        return f"at n={n}, {baseline} needs ~{need} examples to match ({mult}x)"
    if point.relation == "<=":
        return (
            f"at n={n}, {baseline} already matches at its smallest size {need} "
            f"(needs <= {need}; multiplier <= {mult}x)"
        )
    return (
        f"at n={n}, {baseline} does not reach this within its sizes (up to {need}; "
        f"multiplier > {mult}x)"
    )


def _fmt_size(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.3g}"


def multiplier_interval(
    aft_only: dict[Any, list[tuple[float, float | None]]],
    msm: dict[Any, list[tuple[float, float | None]]],
    n: float,
    higher_is_better: bool = True,
) -> dict[str, Any] | None:
    """A 95% interval for the multiplier at MSM+AFT size ``n``: a jackknife over seeds.

    ``aft_only`` and ``msm`` map each seed to its (size, value) points. Each seed shared
    by both curves is left out in turn (from both), the multiplier recomputed; the
    jackknife variance of log(multiplier) over the k leave-one-out values gives a t
    interval with k - 1 degrees of freedom, mapped back by exp. For a mean this is the
    paired t over seeds exactly; a percentile bootstrap over 2-4 seeds is far too narrow
    (2 seeds give 3 distinct resamples). Needs 2+ shared seeds and an exact multiplier
    (not a bound) on all data; otherwise None. Leave-one-out values that are only bounds
    count at that bound, and their share is returned.
    """
    seeds = [s for s in msm if s in aft_only and any(q[0] == n for q in msm[s])]
    if len(seeds) < 2:
        return None

    def mult(keep: list[Any]) -> EfficiencyPoint | None:
        aa = [q for s in keep for q in aft_only[s]]
        mm = [q for s in keep for q in msm[s] if q[0] == n]
        pts = efficiency_curve(aa, mm, higher_is_better)
        return pts[0] if pts else None

    full = mult(seeds)
    if full is None or full.relation != "=" or full.multiplier <= 0:
        return None
    logs: list[float] = []
    bounds = 0
    for s in seeds:
        pt = mult([x for x in seeds if x != s])
        if pt is None or pt.multiplier <= 0:
            return None
        logs.append(math.log(pt.multiplier))
        bounds += pt.relation != "="
    k = len(logs)
    mean = sum(logs) / k
    se = math.sqrt((k - 1) / k * sum((x - mean) ** 2 for x in logs))
    centre, half = math.log(full.multiplier), t95(k - 1) * se
    return {
        "ci95": [math.exp(centre - half), math.exp(centre + half)],
        "seeds": k,
        "method": f"jackknife over {k} seeds, t({k - 1}) on log(multiplier)",
        "bound_share": bounds / k,
    }
