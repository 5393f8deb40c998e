"""The "Headline metric by condition" section, and the headline lines and notes that
compare each MSM label with its AFT-only (or base) counterpart."""

from __future__ import annotations

from typing import Any

from msm.report import plots
from msm.report.contrasts import compare, verdict
from msm.report.fmt import (
    LEAD,
    basis,
    direction,
    fmt_ci,
    fmt_n,
    fmt_num,
    fmt_seeds,
    fmt_size,
    group_name,
    p_note,
    seed_note,
)
from msm.report.load import GroupKey
from msm.report.render import Paragraph, Section, Table
from msm.report.state import Pair, ReportState


def add_headline(st: ReportState) -> None:
    """One row per (label, AFT size) for the headline metric, a bar chart, headline lines."""
    sec = st.section("Headline metric by condition")
    n_evals = sum(1 for n in st.run.nodes if n.kind == "eval")
    if not st.evals:
        msg = f"No evaluations finished yet (0 of {n_evals} eval nodes done)."
        sec.blocks.append(Paragraph(msg))
        st.headline.append(f"no evaluations finished yet (0 of {n_evals} eval nodes done)")
        return
    metric = st.metric
    if metric is None:
        sec.blocks.append(Paragraph("No headline metric: run.json names none and no eval "
                                    "summary holds a usable metric."))  # fmt: skip
        return
    rows = []
    for key in st.groups:
        a = st.agg(key, metric)
        if a is None:
            continue
        s = a.stats
        rows.append([
            key.label, fmt_size(key.aft_size), fmt_seeds(a.seeds),
            fmt_num(s.mean if s else None), fmt_ci(s.ci95 if s else None), basis(a),
            fmt_n(a.n), "\n".join(a.sources),
        ])  # fmt: skip
    hib = st.metric_direction(metric)
    if not rows:
        sec.blocks.append(Paragraph(f"No finished eval reports {metric}."))
        st.notes.append(f"headline metric {metric} is not in any eval summary")
        st.headline.append(f"{metric}: not reported by any finished eval")
        return
    sec.blocks.append(
        Paragraph(
            f"{metric} ({direction(bool(hib), metric)}). One row per label and AFT size; "
            "n is the eval's sample size (items, answers or judged samples) per seed."
        )
    )
    sec.blocks.append(
        Table(
            [*LEAD, "mean", "95% interval", "interval basis", "n", "source"],
            rows,
            numeric=frozenset({1, 3, 4, 6}),
            source_col=7,
        )  # fmt: skip
    )
    _add_bars(st, sec, metric)
    _headline_lines(st, metric)


def _add_bars(st: ReportState, sec: Section, metric: str) -> None:
    chosen, which = st.chosen_groups()
    bars = [(k, st.agg(k, metric)) for k in chosen]
    bars_ok = [(k, a) for k, a in bars if a is not None and a.stats is not None]
    if bars_ok:
        names = [group_name(k) for k, _ in bars_ok]
        means = [a.stats.mean for _, a in bars_ok if a.stats]
        cis = [a.stats.ci95 for _, a in bars_ok if a.stats]
        png = plots.bar_chart(names, means, cis, f"{metric} by condition", metric)
        cap = f"Error bars: 95% intervals (see the interval basis column). {which}".strip()
        sec.blocks.append(st.image(f"headline_{metric}", png, f"{metric} by label", cap))


def _headline_lines(st: ReportState, metric: str) -> None:
    pairs = st.pairs()
    if not pairs:
        for key in st.chosen_groups()[0]:
            a = st.agg(key, metric)
            if a and a.stats:
                st.headline.append(
                    f"{metric}: {group_name(key)} {fmt_num(a.stats.mean, 2)} "
                    f"{fmt_ci(a.stats.ci95, 2)} ({seed_note(a)})"
                )
        return
    for p in pairs:
        shared = sorted(
            {k.aft_size for k in st.keys_of(p.msm)} & {k.aft_size for k in st.keys_of(p.aft)},
            key=lambda s: s or 0,
        )
        if not shared:
            st.notes.append(f"{p.msm} and {p.aft} share no AFT size: not compared directly")
            continue
        for size in shared:
            _compare(st, p, metric, size, last=size == shared[-1])


def _compare(st: ReportState, p: Pair, metric: str, size: int | None, last: bool) -> None:
    """Note the pair's difference at ``size`` with its own (paired where possible)
    interval; at the ``last`` (largest) shared size also add a headline line."""
    am = st.agg(GroupKey(p.msm, size), metric)
    aa = st.agg(GroupKey(p.aft, size), metric)
    if not (am and aa and am.stats and aa.stats):
        return
    where = f" at n={size}" if size is not None else ""
    compare_txt = (
        f"{metric}{where}: {p.msm} {fmt_num(am.stats.mean)} {fmt_ci(am.stats.ci95)} vs "
        f"{p.aft} {fmt_num(aa.stats.mean)} {fmt_ci(aa.stats.ci95)}"
    )
    ka, kb = GroupKey(p.msm, size), GroupKey(p.aft, size)
    diff = _marked(st, ka, kb, metric) or compare(st, ka, kb, metric)
    if diff is None:
        st.notes.append(compare_txt + ": no interval for the difference, cannot judge")
    else:
        better = ""
        if diff["excludes_zero"] and not metric.startswith("values."):
            good = (diff["estimate"] > 0) == am.higher_is_better
            better = f" ({p.msm} {'better' if good else 'worse'} by this metric's direction)"
        st.notes.append(
            f"{compare_txt}; difference {verdict(diff)}{better} [{diff['basis']}{p_note(diff)}]"
        )
    if last:
        size_txt = f"n={size}, " if size is not None else ""
        tail = ""
        if diff is not None:
            lo, hi = diff["ci95"]
            shown = "" if diff["excludes_zero"] else ", includes 0"
            tail = f"; difference {diff['estimate']:+.2f} [{lo:+.2f}, {hi:+.2f}]{shown}"
            tail += p_note(diff)
        st.headline.append(
            f"{metric}: {p.msm} {fmt_num(am.stats.mean, 2)} {fmt_ci(am.stats.ci95, 2)} vs "
            f"{p.aft} {fmt_num(aa.stats.mean, 2)} {fmt_ci(aa.stats.ci95, 2)} "
            f"({size_txt}{seed_note(am)}){tail}"
        )


def _marked(st: ReportState, ka: GroupKey, kb: GroupKey, metric: str) -> dict[str, Any] | None:
    """The same difference as computed for the paired comparisons, with its Holm p."""
    for d in (st.data.get("contrasts") or {}).get("differences", []):
        if (d["a"], d["b"], d["metric"], d["aft_size"]) == (
            ka.label, kb.label, metric, ka.aft_size,
        ):  # fmt: skip
            return dict(d)
    return None
