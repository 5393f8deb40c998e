"""Intervals for eval metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """Proportion ``k/n`` with its Wilson score interval: (p, low, high).

    Preferred over the normal interval because it stays inside [0, 1] and is
    sensible at 0 or n successes, which misalignment rates often are.
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


Cells = dict[int | None, dict[str, float]]  # seed -> item id -> value


def bootstrap_contrast(
    parts: Sequence[tuple[float, Cells, Cells]], reps: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """A paired contrast between models, with a percentile bootstrap interval.

    Each part is (weight, a, b): the mean over seeds and items of ``a - b``, on the
    items and seeds ``a`` and ``b`` share, is weighted and summed over the parts (one
    part: a paired difference; two parts with weights +1 and -1: an interaction).
    The bootstrap resamples the seeds (shared by all parts: the same trained models)
    and, within each part, the items, so it covers both sources of variation; with one
    seed it covers item sampling only, and ``basis`` says so.
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
        mats.append(np.array([[a[s][i] - b[s][i] for i in items] for s in seeds]))
    weights = [w for w, _, _ in parts]
    est = float(sum(w * m.mean() for w, m in zip(weights, mats, strict=True)))
    rng = np.random.default_rng(seed)
    k = len(seeds)
    boot = np.zeros(reps)
    # one draw of seeds for every part: the parts are measured on the same trained models
    s_idx = rng.integers(0, k, size=(reps, k)) if k > 1 else np.zeros((reps, 1), dtype=int)
    for w, m in zip(weights, mats, strict=True):
        i_idx = rng.integers(0, m.shape[1], size=(reps, m.shape[1]))
        per_seed = np.stack([m[:, i_idx[r]].mean(axis=1) for r in range(reps)])  # reps x k
        boot += w * np.take_along_axis(per_seed, s_idx, axis=1).mean(axis=1)
    q: Any = np.percentile(boot, [2.5, 97.5])
    lo, hi = float(q[0]), float(q[1])
    return {
        "estimate": est,
        "ci95": [float(lo), float(hi)],
        "seeds": k,
        "items": int(sum(m.shape[1] for m in mats)),
        "basis": "paired bootstrap over seeds and items"
        if k > 1
        else "paired bootstrap over items (one seed: covers item sampling only)",
    }
