"""The "Spec belief" section: how deeply each model holds a spec's statements.

Per label, each belief set's share of items where the model prefers the spec's statement
over its altered version (and, scored by log-likelihood, the change of the per-item gap from
the base model), with the judged open and challenge grades beside it when they were run.
Then the contrasts: each MSM label against its AFT-only (or base) counterpart, and labels of
one condition midtrained on different specs against each other (the suite's positive
control: a model should hold its own spec's statements more than a model of another spec).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from msm.evals.belief.items import measures
from msm.report.contrasts import compare, verdict
from msm.report.fmt import DASH, LEAD, fmt_ci, fmt_num, lead
from msm.report.load import GroupKey, metric_kind
from msm.report.render import Section, Table
from msm.report.state import ReportState

KINDS = ("spec_belief", "spec_belief_open", "spec_belief_challenge")


def add_belief(st: ReportState) -> None:
    """A table of every spec_belief metric by group, and the contrasts between groups."""
    names = [m for m in st.all_metrics() if metric_kind(m) in KINDS]
    if not names:
        return
    sec = st.section("Spec belief")
    rows = []
    for k in st.groups:
        cells, srcs, seeds = [], [], []
        for m in names:
            a = st.agg(k, m)
            if a is None or a.stats is None:
                cells.append(DASH)
                continue
            digits = 2 if metric_kind(m) != "spec_belief" else 3
            cells.append(f"{fmt_num(a.stats.mean, digits)} {fmt_ci(a.stats.ci95, digits)}")
            srcs += [s for s in a.sources if s not in srcs]
            seeds = a.seeds
        if any(c != DASH for c in cells):
            rows.append([*lead(k, seeds), *cells, "\n".join(srcs)])
    sets = sorted({m.split(".")[1] for m in names})
    sec.blocks.append(
        Table(
            [*LEAD, *names, "source"],
            rows,
            numeric=frozenset(range(3, 3 + len(names))) | {1},
            source_col=3 + len(names),
            caption="spec_belief.SET: share of items where the model prefers the spec's "
            "statement over its minimally altered false version (value reversed or reason "
            "swapped), mean [95% interval]; 0.5 = indifferent. .change_from_base: the per-item "
            "change of the gap log p(statement) - log p(altered) from the base model, "
            "nats/token. spec_belief_open / spec_belief_challenge: the grader's 1-10 grade of "
            "open answers, and of answers to a user arguing for the altered version. "
            + "".join(f"{s}: {measures(s)}. " for s in sets if measures(s)),
        )
    )
    contrasts = _contrasts(st, [m for m in names if metric_kind(m) == "spec_belief"])
    if contrasts:
        _add_contrasts(sec, contrasts)
    st.data["spec_belief_contrasts"] = contrasts


def _contrasts(st: ReportState, metrics: list[str]) -> list[dict[str, Any]]:
    """MSM against AFT-only (or base), and spec against spec within one condition."""
    # prefer the change from base where it was measured: it cancels each option's prior
    change = [m for m in metrics if m.endswith(".change_from_base")]
    use = change or metrics
    pairs: list[tuple[GroupKey, GroupKey, str]] = []
    for p in st.pairs():
        for ka in st.keys_of(p.msm):
            kb = next((k for k in st.keys_of(p.aft) if k.aft_size in (ka.aft_size, None)), None)
            if kb is not None:
                pairs.append((ka, kb, "MSM vs its counterpart"))
    for labels in st.labels_by_condition().values():
        for la, lb in combinations(labels, 2):
            for ka in st.keys_of(la):
                kb = GroupKey(lb, ka.aft_size)
                if kb in st.groups and st.groups[ka][0].node.spec != st.groups[kb][0].node.spec:
                    pairs.append((ka, kb, "spec vs spec"))
    out = []
    for ka, kb, what in pairs:
        for m in use:
            res = compare(st, ka, kb, m)
            if res is not None:
                out.append({**res, "what": what})
    return out


def _add_contrasts(sec: Section, contrasts: list[dict[str, Any]]) -> None:
    rows = [
        [r["what"], f"{r['a']} - {r['b']}", DASH if r["aft_size"] is None else str(r["aft_size"]),
         r["metric"], verdict(r)]
        for r in contrasts
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            ["comparison", "a - b", "AFT size", "metric", "difference [95% interval]"],
            rows,
            numeric=frozenset({3}),
            caption="Differences between groups on each belief set, paired item by item where "
            "both have per-item rows. A model midtrained on a spec should hold that spec's "
            "statements more than a model midtrained on another spec (spec vs spec, on the "
            "first spec's set), and equally on a set neither spec speaks to (a null control).",
        )
    )
