"""The primary contrast and the exploratory family.

An experiment declares one contrast before it runs (``report.primary``, see
:mod:`msm.study.primary`); the report finds it among the spec-versus-spec contrasts and states it
alone, with its plain p-value. Every other contrast of the "Paired comparisons" section (the
spec contrasts, the changes from the base model, the label-versus-label differences) is
exploratory: its p-value is Holm-adjusted over that whole family. Without a declared
primary, every contrast is exploratory and Holm covers them all.
"""

from __future__ import annotations

import math
from typing import Any

from msm.errors import MsmError
from msm.evals.stats import ONE_SEED, holm
from msm.report.load import read_json
from msm.report.state import ReportState
from msm.report.variance import covers as run_covers
from msm.study.primary import DEFAULT_AFT_CONDITION, parse_primary

NONE_DECLARED = "no primary contrast declared: every contrast is exploratory"


def declared(st: ReportState) -> tuple[dict[str, Any] | None, str | None]:
    """The run's ``report.primary`` in its normal form (None when none is declared), and a
    note when run.json holds one the report cannot read."""
    rep = st.run.config.get("report")
    raw = rep.get("primary") if isinstance(rep, dict) else None
    if raw is None:
        return None, None
    try:
        return parse_primary(raw), None
    except ValueError as e:
        return None, f"report.primary in run.json cannot be read ({e}): no primary contrast"


def find(decl: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The contrast row ``decl`` names; at the largest AFT size when it names none."""
    cond = decl.get("condition") or DEFAULT_AFT_CONDITION
    a, b = decl["specs"]
    found = [
        r
        for r in rows
        if r["kind"] == decl["kind"]
        and r.get("subset") == decl["items"]
        and r["condition"] == cond
        and (
            (r["spec_a"], r["spec_b"]) == (a, b)
            if decl["kind"] == "direction"  # the interactions are symmetric in A and B
            else {r["spec_a"], r["spec_b"]} == {a, b}
        )
    ]
    if decl.get("aft_size") is not None:
        found = [r for r in found if r["aft_size"] == decl["aft_size"]]
    return max(found, key=lambda r: r["aft_size"] or 0, default=None)


def mark(primary: dict[str, Any] | None, family: list[dict[str, Any]]) -> int:
    """Set ``primary``, ``exploratory`` and ``p_holm`` on every row of ``family`` (the primary
    row may be among them): Holm over every other row with a p-value. Returns how many rows
    Holm covered. The primary is a family of one: its ``p_holm`` is its own p."""
    others = [r for r in family if r is not primary]
    adj = holm([_p(r) for r in others])
    for r, q in zip(others, adj, strict=True):
        r.update(primary=False, exploratory=True, p_holm=q if math.isfinite(q) else None)
        r.setdefault("p", None)
    if primary is not None:
        primary.update(primary=True, exploratory=False, p_holm=primary.get("p"))
    return sum(1 for q in adj if math.isfinite(q))


def _p(r: dict[str, Any]) -> float:
    p = r.get("p")
    return float(p) if isinstance(p, int | float) and math.isfinite(p) else math.nan


def covers(st: ReportState, row: dict[str, Any]) -> str:
    """What the primary's interval covers, in plain words: the run's sources of variance
    (``msm.report.variance.covers``) for a paired interval over seeds and items, else the
    interval's own basis."""
    if ONE_SEED in row["basis"] or "seeds and items" in row["basis"]:
        return run_covers(st.run, k=int(row["seeds"]))
    return str(row["basis"])


def split_of(st: ReportState, row: dict[str, Any]) -> str:
    """The item split the primary's items came from (the eval summaries' ``values_split``,
    written by ``EvalConfig.split``), else "all items"."""
    conds = {row["condition"], row.get("baseline_condition")}
    specs = {row["spec_a"], row["spec_b"]}
    sets = {row["items_a"], row.get("items_b")} - {None}
    found: set[str] = set()
    for r in st.evals:
        n = r.node
        if n.condition not in conds or n.spec not in specs:
            continue
        if n.condition == row["condition"] and n.aft_size != row["aft_size"]:
            continue
        try:
            summary = read_json(st.run.run_dir / r.source, r.source)
        except MsmError:  # a summary that changed since loading: it names no split
            continue
        found |= _splits(summary, sets)
    if not found:
        return "all items"
    return " / ".join(sorted(found)) + (" split" if len(found) == 1 else " splits (mixed)")


def _splits(summary: Any, sets: set[str]) -> set[str]:
    """The split named in one eval summary ("all" is no split); ``sets`` kept for callers."""
    if not isinstance(summary, dict):
        return set()
    split = summary.get("values_split")
    return {split} if isinstance(split, str) and split and split != "all" else set()


def verdict(row: dict[str, Any]) -> str:
    """Shown or a null, from the interval alone, in the same words for both."""
    if not row["excludes_zero"]:
        return "a null at this scale (the interval includes 0)"
    if row["estimate"] > 0:
        return "shown (the interval excludes 0)"
    return "shown with the opposite sign (the interval excludes 0, below it)"
