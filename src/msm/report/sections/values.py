"""The "Value generalization" section: value-consistent choice per item set."""

from __future__ import annotations

from collections import defaultdict

from msm.evals.values.items import measures
from msm.report import plots
from msm.report.fmt import DASH, LEAD, fmt_ci, fmt_n, fmt_num, group_name, lead
from msm.report.load import metric_kind
from msm.report.render import Table
from msm.report.state import ReportState


def add_values(st: ReportState) -> None:
    """A table of every values.* item set by group, and grouped bars of the same."""
    sets = [m for m in st.all_metrics() if metric_kind(m) == "values"]
    if not sets:
        return
    sec = st.section("Value generalization")
    rows = []
    n_by_set: dict[str, set[int]] = defaultdict(set)
    for k in st.groups:
        cells, srcs, seeds = [], [], []
        for m in sets:
            a = st.agg(k, m)
            if a is None or a.stats is None:
                cells.append(DASH)
                continue
            cells.append(f"{fmt_num(a.stats.mean)} {fmt_ci(a.stats.ci95)}")
            n_by_set[m].update(n for n in a.n if n is not None)
            srcs += [s for s in a.sources if s not in srcs]
            seeds = a.seeds
        if any(c != DASH for c in cells):
            rows.append([*lead(k, seeds), *cells, "\n".join(srcs)])
    names = [m.split(".", 1)[1] for m in sets]
    n_txt = "; ".join(
        f"{nm} {fmt_n(sorted(n_by_set[m]))}" for nm, m in zip(names, sets, strict=True)
    )
    sec.blocks.append(
        Table(
            [*LEAD, *names, "source"],
            rows,
            numeric=frozenset(range(3, 3 + len(sets))) | {1},
            source_col=3 + len(sets),
            caption="Share of items where the model prefers the set's value-consistent "
            "option, mean [95% interval]; 0.5 = indifferent. Each set measures one value, "
            "so higher means more of THAT value, not better (a pro-affordability model "
            "scoring low on america items is doing what its spec says). "
            + "".join(
                f"{nm}: {measures(nm)}. "
                for nm in dict.fromkeys(n.split(".")[0] for n in names)
                if measures(nm)
            )
            + f"Items per set: {n_txt}."
            + (
                " Columns ending in change_from_base (loglik scoring): the per-item change of "
                "the gap log p(value-consistent) - log p(other) from the base model, in "
                "nats/token; 0 = no change from the base model."
                if any(m.endswith(".change_from_base") for m in sets)
                else ""
            ),
        )
    )
    chosen, which = st.chosen_groups()
    series = [k for k in chosen if any(st.agg(k, m) for m in sets)]
    if series:
        means, cis = [], []
        for k in series:
            row_m, row_c = [], []
            for m in sets:
                a = st.agg(k, m)
                row_m.append(a.stats.mean if a and a.stats else None)
                row_c.append(a.stats.ci95 if a and a.stats else None)
            means.append(row_m)
            cis.append(row_c)
        png = plots.grouped_bars(
            names, [group_name(k) for k in series], means, cis,
            "value-consistent choice by item set", "share value-consistent",
        )  # fmt: skip
        cap = f"Error bars: 95% intervals. {which}".strip()
        sec.blocks.append(st.image("values_by_set", png, "values by item set", cap))
