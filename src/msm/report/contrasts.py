"""Paired comparisons between conditions: every difference the report states, with an
interval computed on the difference itself.

Two models evaluated on the same items are compared item by item (and seed by seed):
the per-item rows an eval writes (``values/<set>.jsonl``, loglik scoring) give a
paired t interval over seeds and items (``msm.evals.stats.paired_contrast``). Without per-item
rows, two or more shared seeds give a paired t interval over the seeds' differences;
with neither, the two marginal intervals are combined into an unpaired interval
for the difference (normal approximation) and the basis says so. A difference is
called only when its own interval excludes zero, never from overlapping marginal
intervals.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from pathlib import Path
from typing import Any

from msm.evals.loglik import rows_name
from msm.evals.stats import Z95, Cells, paired_contrast, t95, t_sf2
from msm.evals.values.items import BUILTIN_VALUE_SETS, CONTROL_SUFFIX, load_value_items
from msm.report.fmt import p_note
from msm.report.load import Aggregate, EvalResult, GroupKey, metric_kind
from msm.report.state import ReportState
from msm.study.primary import SPEC_VALUE_SETS

BELIEF_ROWS = "spec_belief"  # the spec_belief suite's rows folder beside summary.json


def _rows_file(run_dir: Path, r: EvalResult, item_set: str) -> Path:
    """A set's per-item rows beside the summary (``spec_belief/SET``: spec_belief's rows)."""
    folder = BELIEF_ROWS if item_set.startswith(f"{BELIEF_ROWS}/") else "values"
    return (run_dir / r.source).parent / folder / f"{rows_name(item_set)}.jsonl"


@functools.lru_cache(maxsize=256)
def _read_rows(path: Path, field: str, mtime_ns: int) -> dict[str, float] | None:
    """id -> ``field`` of one rows file (read once per report, not once per contrast);
    None when the file is not msm's rows or is damaged."""
    vals: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            v = float(row[field])
        except (ValueError, KeyError, TypeError):
            return None
        if math.isfinite(v):
            vals[str(row["id"])] = v
    return vals


def per_item_field(metric: str) -> tuple[str, str] | None:
    """(item set, per-item field) behind a values metric; None for other metrics.

    ``values.S`` is the share of items won (``acc``); ``values.S.change_from_base`` the
    gap per token (the base model's gap cancels in any difference of two models); the same
    for ``spec_belief.S``, whose item set reads ``spec_belief/S`` (its rows' folder).
    """
    kind, _, rest = metric.partition(".")
    if kind not in ("values", BELIEF_ROWS) or not rest:
        return None
    prefix = "" if kind == "values" else f"{BELIEF_ROWS}/"
    if rest.endswith(".change_from_base"):
        return prefix + rest[: -len(".change_from_base")], "gap_per_token"
    return prefix + rest, "acc"


def _control_ids(item_set: str) -> set[str] | None:
    """The item ids of a bundled control subset (``america_control``), else None."""
    full = item_set.removesuffix(CONTROL_SUFFIX)
    if full == item_set or full not in BUILTIN_VALUE_SETS:
        return None
    return {it.id for it in load_value_items(item_set)}


def cells(st: ReportState, key: GroupKey, item_set: str, field: str) -> Cells | None:
    """seed -> item -> value for one group, from its evals' per-item rows; None if missing.

    A control subset not evaluated on its own is read from its full set's rows.
    """
    out: Cells = {}
    for r in st.groups.get(key, []):
        path = _rows_file(st.run.run_dir, r, item_set)
        keep = None
        if not path.is_file() and (keep := _control_ids(item_set)) is not None:
            path = _rows_file(st.run.run_dir, r, item_set.removesuffix("_control"))
        try:
            vals = _read_rows(path, field, path.stat().st_mtime_ns)
        except OSError:
            return None
        if vals is None:
            return None  # not msm's rows (or damaged): no paired interval from them
        out[r.node.seed] = vals if keep is None else {k: v for k, v in vals.items() if k in keep}
    return out or None


def _from_seeds(a: Aggregate, b: Aggregate) -> dict[str, Any] | None:
    pa = {s: v for s, v in zip(a.seeds, a.per_seed, strict=True) if v is not None}
    pb = {s: v for s, v in zip(b.seeds, b.per_seed, strict=True) if v is not None}
    shared = [s for s in pa if s in pb]
    if len(shared) < 2:
        return None
    d = [pa[s] - pb[s] for s in shared]
    m, sd = statistics.fmean(d), statistics.stdev(d)
    se = sd / math.sqrt(len(d))
    half = t95(len(d) - 1) * se
    return {
        "estimate": m,
        "ci95": [m - half, m + half],
        "p": t_sf2(m / se, len(d) - 1) if se > 0 else (1.0 if m == 0 else 0.0),
        "seeds": len(d),
        "basis": f"paired t over {len(d)} seeds' differences",
    }


def _unpaired(a: Aggregate, b: Aggregate) -> dict[str, Any] | None:
    sa, sb = a.stats, b.stats
    if not (sa and sb and sa.ci95 and sb.ci95):
        return None
    if not all(math.isfinite(x) for x in (*sa.ci95, *sb.ci95)):
        return None
    ha, hb = (sa.ci95[1] - sa.ci95[0]) / 2, (sb.ci95[1] - sb.ci95[0]) / 2
    d, half = sa.mean - sb.mean, math.hypot(ha, hb)
    return {
        "estimate": d,
        "ci95": [d - half, d + half],
        "p": math.erfc(abs(d) / (half / Z95) / math.sqrt(2)) if half > 0 else float("nan"),
        "basis": "unpaired: the two intervals combined (normal approximation; no per-item "
        "rows or shared seeds to pair on)",
    }


def compare(st: ReportState, ka: GroupKey, kb: GroupKey, metric: str) -> dict[str, Any] | None:
    """``metric`` of group ``ka`` minus group ``kb``, with the best interval the data allow."""
    res: dict[str, Any] | None = None
    spec = per_item_field(metric)
    if spec is not None:
        ca, cb = cells(st, ka, *spec), cells(st, kb, *spec)
        if ca and cb:
            try:
                res = paired_contrast([(1.0, ca, cb)])
            except ValueError:
                res = None
    a, b = st.agg(ka, metric), st.agg(kb, metric)
    if res is None and a is not None and b is not None:
        res = _from_seeds(a, b) or _unpaired(a, b)
    if res is None:
        return None
    res["excludes_zero"] = excludes_zero(res["ci95"])
    res.update({"metric": metric, "a": ka.label, "b": kb.label, "aft_size": ka.aft_size})
    return res


def verdict(res: dict[str, Any]) -> str:
    """Plain words for a difference and its interval."""
    lo, hi = res["ci95"]
    word = "higher" if res["estimate"] > 0 else "lower"
    txt = f"{res['estimate']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    if res["excludes_zero"]:
        return f"{txt}: {res['a']} is {word} (the interval of the difference excludes 0)"
    return f"{txt}: no difference shown (the interval of the difference includes 0)"


def spec_value_sets(st: ReportState) -> dict[str, str]:
    """Experiment spec key -> the value item set that measures that spec's value."""
    exp = st.run.config
    specs = exp.get("specs")
    report = exp.get("report")
    chosen = report.get("value_sets") if isinstance(report, dict) else None
    chosen = chosen if isinstance(chosen, dict) else {}
    out = {}
    for key, path in (specs if isinstance(specs, dict) else {}).items():
        v = chosen.get(key) or SPEC_VALUE_SETS.get(str(path))
        if isinstance(v, str):
            out[str(key)] = v
    return out


def excludes_zero(ci: list[float]) -> bool:
    return bool(ci[0] > 0 or ci[1] < 0)


# change-from-base sets that say whether a stage taught what it trained, and how far it went
CONTROL_SETS = {
    "cheese_aft": "the AFT data's own phrasing (AFT's positive control)",
    "cheese_fit": "phrasings the AFT data never used (transfer)",
    "cheese_why": "the value's logic over the same words with the wrong logic (the 'why' control)",
}


def change_from_base(st: ReportState) -> list[dict[str, Any]]:
    """Per label and AFT size (the base model left out), on each of :data:`CONTROL_SETS`: the
    mean per-item change of the gap from the base model (nats/token) with its interval.

    Paired item by item and seed by seed against the base model's rows where both have
    them (which gives a p-value too); else the eval's own interval (items) or a t over seeds,
    without a p-value."""
    base = next((k for k, rs in st.groups.items() if rs[0].node.condition == "base"), None)
    out = []
    for item_set, what in CONTROL_SETS.items():
        metric = f"values.{item_set}.change_from_base"
        for key in st.groups:
            a = st.agg(key, metric)
            if a is None or a.stats is None or a.stats.ci95 is None or a.condition == "base":
                continue
            res: dict[str, Any] | None = None
            if base is not None:
                ca, cb = (
                    cells(st, key, item_set, "gap_per_token"),
                    cells(st, base, item_set, "gap_per_token"),
                )
                if ca and cb:
                    try:
                        res = paired_contrast([(1.0, ca, cb)])
                    except ValueError:
                        res = None
            if res is None:
                res = {
                    "estimate": a.stats.mean,
                    "ci95": [float(a.stats.ci95[0]), float(a.stats.ci95[1])],
                    "p": None,
                    "seeds": a.stats.k,
                    "basis": "one seed: the eval's interval over items (no p-value)"
                    if a.stats.method == "eval"
                    else "t over seeds (no p-value)",
                }
            out.append(
                {
                    **res,
                    "item_set": item_set,
                    "what": what,
                    "label": key.label,
                    "condition": a.condition,
                    "aft_size": key.aft_size,
                    "unit": "nats/token",
                    "excludes_zero": excludes_zero(res["ci95"]),
                }
            )
    return out


def pair_differences(st: ReportState) -> list[dict[str, Any]]:
    """Each MSM label minus its AFT-only (or base) counterpart, at each AFT size they share
    (any size of the MSM label against base), on every values metric with per-item rows."""
    metrics = [m for m in st.all_metrics() if metric_kind(m) == "values"]
    out = []
    for p in st.pairs():
        sizes_m = {k.aft_size for k in st.keys_of(p.msm)}
        sizes_a = {k.aft_size for k in st.keys_of(p.aft)}
        if sizes_a == {None}:  # against base: any size of the MSM label
            pairs = [
                (GroupKey(p.msm, s), GroupKey(p.aft, None))
                for s in sorted(sizes_m, key=lambda x: x or 0)
            ]
        else:
            shared = sorted(sizes_m & sizes_a, key=lambda x: x or 0)
            pairs = [(GroupKey(p.msm, s), GroupKey(p.aft, s)) for s in shared]
        for ka, kb in pairs:
            for m in metrics:
                if per_item_field(m) is None:
                    continue
                res = compare(st, ka, kb, m)
                if res is not None:
                    out.append(res)
    return out


def describe_change(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    call = "excludes 0" if r["excludes_zero"] else "includes 0: no change shown"
    return (
        f"{r['label']} on {r['item_set']} ({r['what']}): {r['estimate']:+.2f} nats/token "
        f"[{lo:+.2f}, {hi:+.2f}] from the base model (the interval {call}{p_note(r)})"
    )


__all__ = [
    "change_from_base",
    "describe_change",
    "compare",
    "excludes_zero",
    "pair_differences",
    "per_item_field",
    "verdict",
]
