"""Intervals for eval metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float, float]:
    """Proportion ``k/n`` with its Wilson score interval: (p, low, high).

    Preferred over the normal interval because it stays inside [0, 1] and is
    sensible at 0 or n successes, which misalignment rates often are. ``k`` may be
    fractional (a tie counted as half an item, a sum of per-item shares: see
    :func:`share_summary`).
    """
    if n <= 0:
        return (float("nan"), 0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (p, max(0.0, centre - half), min(1.0, centre + half))


MIN_ITEMS_T = 2  # a t interval estimates the spread of the items: one item has none
MIN_ITEMS_SHARE = 1  # a Wilson interval needs one item, and says how many it had
TOO_FEW = "too few items"


def too_few(n: int, need: int) -> str:
    """The reason an interval is missing, as ``summary.json`` states it (``ci95_reason``)."""
    return f"{TOO_FEW}: {n} (this interval needs at least {need})"


def share_summary(
    values: Sequence[float], scale: tuple[float, float] = (0.0, 1.0), count: str = "items"
) -> dict[str, Any]:
    """Mean of per-item values on a bounded ``scale`` with a Wilson 95% interval inside it.

    For 0/1 outcomes (ties counted as 1/2) this is the Wilson interval of the share. For
    per-item values anywhere in the scale (a probability averaged over answer orders, a
    1-10 grade) the values are mapped to [0, 1] and their sum is taken as the count: a
    variable in [0, 1] with mean p has variance at most p(1 - p), the variance of a 0/1
    outcome, so the interval covers at least as well as Wilson's on as many 0/1 outcomes
    (conservative: wider than a t interval when the items agree with each other), and,
    unlike a t interval, it never leaves the scale and needs no spread (one item works; the
    record says how many). No items: ``ci95`` is None and ``ci95_reason`` says why.
    """
    n, (a, b) = len(values), scale
    if n < MIN_ITEMS_SHARE:
        return {
            "mean": math.nan,
            "ci95": None,
            "ci95_reason": too_few(n, MIN_ITEMS_SHARE),
            count: n,
        }
    if any(not a <= v <= b for v in values):
        raise ValueError(f"values outside the scale [{a}, {b}]")
    k = sum((v - a) / (b - a) for v in values)
    _, lo, hi = wilson(min(max(k, 0.0), float(n)), n)  # min/max: float rounding of the sum
    return {"mean": sum(values) / n, "ci95": [a + lo * (b - a), a + hi * (b - a)], count: n}


def rate_record(k: int, n: int) -> dict[str, Any]:
    """A rate of 0/1 outcomes: ``rate``, its Wilson 95% interval, ``k`` and ``n``; with
    no outcomes, ``ci95`` is None and ``ci95_reason`` says why (not the whole [0, 1])."""
    p, lo, hi = wilson(k, n)
    rec: dict[str, Any] = {"rate": p, "ci95": [lo, hi], "k": k, "n": n}
    if n < MIN_ITEMS_SHARE:
        rec["ci95"], rec["ci95_reason"] = None, too_few(n, MIN_ITEMS_SHARE)
    return rec


def t_summary(values: Sequence[float], count: str = "items", **extra: Any) -> dict[str, Any]:
    """Mean with a t 95% interval, for quantities with no bounded scale (nats, differences).

    Fewer than :data:`MIN_ITEMS_T` values: ``ci95`` is None and ``ci95_reason`` says why
    (never a zero-width or made-up interval).
    """
    m, lo, hi = mean_interval(values)
    rec: dict[str, Any] = {"mean": m, "ci95": [lo, hi], count: len(values), **extra}
    if len(values) < MIN_ITEMS_T:
        rec["ci95"], rec["ci95_reason"] = None, too_few(len(values), MIN_ITEMS_T)
    return rec


def ci_text(ci: Sequence[float] | None, fmt: str = ".3f") -> str:
    """``[lo, hi]`` for printing, or ``(too few items)`` where no interval exists."""
    if ci is None or any(x is None or not math.isfinite(x) for x in ci):
        return f"({TOO_FEW})"
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom
_T95 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t95(df: int) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"need at least 1 degree of freedom, got {df}")
    if df <= len(_T95):
        return _T95[df - 1]
    z = Z95  # Cornish-Fisher expansion: within 1e-4 of the exact quantile above 30 df
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean with a t interval over the values: (mean, low, high).

    One value has no spread to estimate: its interval is (nan, nan), never zero-width.
    """
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"), float("nan"))
    m = sum(values) / n
    if n == 1:
        return (m, float("nan"), float("nan"))
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    half = t95(n - 1) * math.sqrt(var / n)
    return (m, m - half, m + half)


def t_sf2(t: float, df: float) -> float:
    """Two-sided p-value of a t statistic with ``df`` degrees of freedom."""
    if not math.isfinite(t):
        return 0.0 if math.isinf(t) else float("nan")
    from scipy.stats import t as student

    return float(2 * student.sf(abs(t), df))


def t_quantile95(df: float) -> float:
    """Two-sided 95% quantile of Student's t for any positive (fractional) ``df``."""
    if df >= 1 and float(df).is_integer():
        return t95(int(df))
    from scipy.stats import t as student

    return float(student.ppf(0.975, df))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (family-wise error control), in the input's order.

    NaN p-values (a contrast with no interval) stay NaN and do not count in the family.
    """
    idx = [i for i, p in enumerate(pvalues) if math.isfinite(p)]
    m = len(idx)
    out = [float("nan")] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


Cells = dict[int | None, dict[str, float]]  # seed -> item id -> value

ONE_SEED = "covers item sampling only"


def paired_contrast(parts: Sequence[tuple[float, Cells, Cells]]) -> dict[str, Any]:
    """A paired contrast between models, with a t interval that covers what varies.

    Each part is (weight, a, b): the mean over seeds and items of ``a - b``, on the
    items and seeds ``a`` and ``b`` share, is weighted and summed over the parts (one
    part: a paired difference; two parts with weights +1 and -1: an interaction).

    The variance of the estimate is that of a seeds x items design with both random:
    the spread of the per-seed contrasts over seeds (which carries the seed-to-seed
    variation and the seed-by-item noise, and counts the parts' shared seeds once), plus
    for each part the variance of its item effects, estimated from the items' means over
    seeds less their within-seed noise (the ANOVA mean squares; a negative estimate
    counts as 0). Degrees of freedom by Welch-Satterthwaite, never fewer than seeds - 1:
    with no item effect this is the paired t over per-seed differences (k - 1 df). A
    percentile bootstrap over 2-4 seeds cannot do this (2 seeds give 3 resamples); its
    95% intervals covered a planted null 67-79% of the time, this one 93% or more
    (``tests/unit/test_contrasts.py``). One seed: the interval covers item sampling
    only, and ``basis`` says so in those words.
    """
    import numpy as np

    seeds: list[int | None] | None = None
    mats = []
    for _, a, b in parts:
        shared_seeds = sorted((set(a) & set(b)), key=lambda s: (s is None, s or 0))
        seeds = shared_seeds if seeds is None else [s for s in seeds if s in shared_seeds]
    if not seeds:
        raise ValueError("the models share no seed")
    for _, a, b in parts:
        items = sorted(set.intersection(*(set(a[s]) & set(b[s]) for s in seeds)))
        if not items:
            raise ValueError("the models share no item")
        mats.append(np.array([[a[s][i] - b[s][i] for i in items] for s in seeds], dtype=float))
    weights = [w for w, _, _ in parts]
    k = len(seeds)
    per_seed = sum(w * m.mean(axis=1) for w, m in zip(weights, mats, strict=True))
    est = float(np.mean(per_seed))
    n_items = int(sum(m.shape[1] for m in mats))
    terms: list[tuple[float, float]] = []  # (variance term, its degrees of freedom)
    if k > 1:
        terms.append((float(np.var(per_seed, ddof=1)) / k, k - 1.0))
        for w, m in zip(weights, mats, strict=True):
            n = m.shape[1]
            if n < 2:
                continue
            ms_items = k * float(np.var(m.mean(axis=0), ddof=1))
            resid = m - m.mean(axis=1, keepdims=True) - m.mean(axis=0) + m.mean()
            ms_err = float((resid**2).sum()) / ((k - 1) * (n - 1))
            if ms_items > ms_err:  # item effects beyond the within-seed noise
                # both mean squares enter the degrees of freedom, the subtracted one too:
                # with a noisy, small item variance the df stay near the seeds' k - 1
                terms.append((w * w * ms_items / (k * n), n - 1.0))
                terms.append((-w * w * ms_err / (k * n), (k - 1.0) * (n - 1.0)))
        basis = f"paired t over {k} seeds and the items (seeds and items both vary)"
    else:
        for w, m in zip(weights, mats, strict=True):
            n = m.shape[1]
            if n < 2:
                raise ValueError("one seed and one item: too few items for an interval")
            terms.append((w * w * float(np.var(m[0], ddof=1)) / n, n - 1.0))
        basis = f"paired t over items (one seed: {ONE_SEED})"
    var = sum(v for v, _ in terms)
    denom = sum(v * v / d for v, d in terms)
    df = var * var / denom if denom > 0 else float(max(d for _, d in terms))
    df = max(df, 1.0)
    se = math.sqrt(var)
    half = t_quantile95(df) * se
    p = t_sf2(est / se, df) if se > 0 else (1.0 if est == 0 else 0.0)
    return {
        "estimate": est,
        "ci95": [est - half, est + half],
        "p": p,
        "df": df,
        "seeds": k,
        "items": n_items,
        "basis": basis,
    }


def rate_difference(k1: int, n1: int, k2: int, n2: int) -> dict[str, Any]:
    """``k1/n1 - k2/n2`` of two independent samples, with Newcombe's hybrid score interval
    (from the two Wilson intervals; it stays in [-1, 1] and behaves at 0 and n)."""
    if n1 < 1 or n2 < 1:
        return {"estimate": None, "ci95": None, "ci95_reason": too_few(min(n1, n2), 1),
                "n": [n1, n2], "basis": "unpaired"}  # fmt: skip
    p1, l1, u1 = wilson(k1, n1)
    p2, l2, u2 = wilson(k2, n2)
    d = p1 - p2
    lo = d - math.hypot(p1 - l1, u2 - p2)
    hi = d + math.hypot(u1 - p1, p2 - l2)
    return {"estimate": d, "ci95": [max(-1.0, lo), min(1.0, hi)], "n": [n1, n2],
            "basis": "unpaired: Newcombe's interval of two independent rates"}  # fmt: skip


def paired_rate_difference(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """The second rate minus the first over paired 0/1 outcomes, with Newcombe's interval
    for paired proportions (his method 10: the two Wilson intervals joined with the
    correlation of the pairs). ``counts``: both, only the first, only the second, neither."""
    n = len(pairs)
    a = sum(1 for x, y in pairs if x and y)
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if y and not x)
    d = n - a - b - c
    counts = {"both": a, "first_only": b, "second_only": c, "neither": d}
    if n < 1:
        return {"estimate": None, "ci95": None, "ci95_reason": too_few(0, 1), "pairs": 0,
                "counts": counts, "basis": "paired"}  # fmt: skip
    p1, l1, u1 = wilson(a + b, n)
    p2, l2, u2 = wilson(a + c, n)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's phi*, corrected towards 0 by N/2 when the pairs agree (a*d > b*c)
    cross: float = a * d - b * c
    cross = max(cross - n / 2, 0.0) if cross > 0 else cross
    phi = cross / math.sqrt(den) if den > 0 else 0.0
    diff = p2 - p1
    dl, du = p2 - l2, u1 - p1
    el, eu = u2 - p2, p1 - l1
    lo = diff - math.sqrt(max(0.0, dl * dl - 2 * phi * dl * du + du * du))
    hi = diff + math.sqrt(max(0.0, el * el - 2 * phi * el * eu + eu * eu))
    return {
        "estimate": diff,
        "ci95": [max(-1.0, lo), min(1.0, hi)],
        "pairs": n,
        "counts": counts,
        "basis": "paired over the same (condition, epoch): Newcombe's interval (method 10)",
    }
