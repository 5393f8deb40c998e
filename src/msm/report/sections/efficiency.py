"""The "Data efficiency" section: how many AFT-only examples match MSM+AFT at each size.

The arithmetic lives in :mod:`msm.report.efficiency`; this module lays out its table,
plots, headline lines and caveats.
"""

from __future__ import annotations

from typing import Any

from msm.report import plots
from msm.report.contrasts import compare
from msm.report.efficiency import (
    EfficiencyPoint,
    describe,
    efficiency_curve,
    multiplier_interval,
)
from msm.report.fmt import fmt_num
from msm.report.load import GroupKey
from msm.report.render import Image, Paragraph, Table
from msm.report.state import Pair, ReportState

Points = list[tuple[float, float | None]]


def add_efficiency(st: ReportState) -> None:
    """Efficiency table and one plot per (MSM+AFT, AFT-only) pair of the headline metric."""
    metric = st.metric
    pairs = st.pairs(with_msm_only=False)
    if not st.evals or not metric or not pairs:
        st.data["efficiency"] = []
        return
    sec = st.section("Data efficiency")
    hib = bool(st.metric_direction(metric))
    sec.blocks.append(
        Paragraph(
            f"{metric} against the number of AFT examples, MSM+AFT against AFT alone. The "
            "efficiency multiplier at MSM+AFT size n is the AFT-only size needed to reach "
            "the MSM+AFT value at n, divided by n. The needed size is interpolated linearly "
            "in log(size) between AFT-only sizes, seeds averaged first; on a non-monotone "
            "AFT-only curve the first crossing in increasing size is used. '≤' means "
            "AFT-only already matches at its smallest size (an upper bound); '>' means it "
            "never reaches the value within its sizes (a lower bound). The multiplier's "
            "95% interval is a jackknife over seeds (each seed left out of both curves in "
            "turn, a t interval on log(multiplier) with seeds - 1 degrees of freedom); with "
            "one seed there is no interval, and a bound has none either."
        )
    )
    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for p in pairs:
        msm_pts, msm_src = _points(st, p.msm, metric)
        aft_pts, aft_src = _points(st, p.aft, metric)
        if not msm_pts or not aft_pts:
            continue
        points = efficiency_curve(aft_pts, msm_pts, hib)
        by_seed = _seed_points(st, p.aft, metric), _seed_points(st, p.msm, metric)
        for pt in points:
            ci = multiplier_interval(*by_seed, pt.n, hib)
            ci_txt = (
                f"[{ci['ci95'][0]:.2f}×, {ci['ci95'][1]:.2f}×]"
                if ci
                else "— (needs 2+ seeds and an exact multiplier)"
            )
            rows.append([
                p.msm, p.aft, f"{pt.n:g}", fmt_num(pt.msm_value), _rel_txt(pt, "size"),
                _rel_txt(pt, "mult"), ci_txt, _eff_note(pt),
            ])  # fmt: skip
            rec = _record(pt, p, metric, msm_pts, msm_src, aft_src)
            rec["multiplier_ci95"] = ci["ci95"] if ci else None
            rec["multiplier_interval"] = (
                {k: ci[k] for k in ("seeds", "method", "bound_share")} if ci else None
            )
            records.append(rec)
        if points and not points[0].needed.monotone:
            st.notes.append(
                f"the {p.aft} curve of {metric} is not monotone in AFT size; the efficiency "
                "multiplier uses its first crossing"
            )
        if points:
            _summarize(st, p, metric, points[-1], aft_pts)
        sec.blocks.append(_efficiency_plot(st, p, metric))
    st.data["efficiency"] = records
    if rows:
        sec.blocks.insert(
            1,
            Table(
                [
                    "MSM label",
                    "AFT-only label",
                    "n",
                    "MSM+AFT value",
                    "AFT-only needs",
                    "multiplier",
                    "95% interval",
                    "note",
                ],
                rows,
                numeric=frozenset({2, 3, 4, 5}),
                caption="sources: the summary.json files in the headline table; "
                "report.json lists them per row",
            ),  # fmt: skip
        )
    else:
        sec.blocks.append(Paragraph("Not enough finished evals to draw any curve yet."))


def _record(
    pt: EfficiencyPoint, p: Pair, metric: str, msm_pts: Points, msm_src: list[str],
    aft_src: list[str],
) -> dict[str, Any]:  # fmt: skip
    """One efficiency point for report.json, with the summaries it came from."""
    return {
        "metric": metric, "msm_label": p.msm, "aft_label": p.aft,
        "n": int(pt.n) if pt.n.is_integer() else pt.n,
        "msm_value": pt.msm_value, "needed": pt.needed.size,
        "relation": pt.relation, "multiplier": pt.multiplier,
        "aft_only_monotone": pt.needed.monotone,
        "sources": {
            "msm": [s for (n, _), s in zip(msm_pts, msm_src, strict=True) if n == pt.n],
            "aft_only": aft_src,
        },
    }  # fmt: skip


def _summarize(
    st: ReportState, p: Pair, metric: str, last: EfficiencyPoint, aft_pts: Points
) -> None:
    """The headline line for a pair at its largest MSM+AFT size, with its caveats as notes."""
    caveats = []
    if len({n for n, _ in aft_pts}) < 2:
        caveats.append(f"{p.aft} has one AFT size, so this is a bound, not a curve")
    am = st.agg(GroupKey(p.msm, int(last.n)), metric)
    aa = st.agg(GroupKey(p.aft, int(last.n)), metric)
    if am and aa and am.stats and aa.stats:
        diff = compare(st, GroupKey(p.msm, int(last.n)), GroupKey(p.aft, int(last.n)), metric)
        if diff is None or not diff["excludes_zero"]:
            caveats.append(
                f"at n={last.n:g} the interval of the difference {p.msm} - {p.aft} includes 0 "
                "(or cannot be computed), so it is not evidence of a difference"
            )
    st.headline.append(
        f"efficiency {p.msm} vs {p.aft} ({metric}): "
        + describe(last, baseline=p.aft)
        + "".join(f"; {c}" for c in caveats)
    )
    st.notes.extend(f"efficiency {p.msm} vs {p.aft}: {c}" for c in caveats)


def _rows(st: ReportState, label: str, metric: str) -> list[tuple[Any, float, float, str]]:
    """(seed, AFT size, value, summary it came from) of every eval of ``label``."""
    out = []
    for key in st.keys_of(label):
        if key.aft_size is None:
            continue
        for r in st.groups[key]:
            m = r.metrics.get(metric)
            if m is not None and m.mean is not None:
                out.append((r.node.seed, float(key.aft_size), m.mean, r.source))
    return out


def _points(st: ReportState, label: str, metric: str) -> tuple[Points, list[str]]:
    """Every seed's (AFT size, value) of ``label``, and the summary each came from."""
    rows = _rows(st, label, metric)
    return [(size, v) for _, size, v, _ in rows], [src for *_, src in rows]


def _seed_points(st: ReportState, label: str, metric: str) -> dict[Any, Points]:
    """Each seed's (AFT size, value) points of ``label``."""
    out: dict[Any, Points] = {}
    for seed, size, v, _ in _rows(st, label, metric):
        out.setdefault(seed, []).append((size, v))
    return out


def _efficiency_plot(st: ReportState, p: Pair, metric: str) -> Image:
    curves = []
    for label in (p.aft, p.msm):
        pts = []
        for key in st.keys_of(label):
            a = st.agg(key, metric)
            if key.aft_size is not None and a is not None and a.stats is not None:
                pts.append((float(key.aft_size), a.stats.mean, a.stats.ci95))
        curves.append((label, pts))
    refs: list[tuple[str, float]] = []
    spec = next((r.node.spec for k in st.keys_of(p.msm) for r in st.groups[k]), None)
    for key, rs in st.groups.items():
        node = rs[0].node
        if node.condition == "base" or (node.condition == "msm_only" and node.spec == spec):
            a = st.agg(key, metric)
            if a is not None and a.stats is not None:
                refs.append((key.label, a.stats.mean))
    png = plots.efficiency_plot(curves, refs, f"{p.msm} vs {p.aft}", metric)
    return st.image(
        f"efficiency_{p.msm}_vs_{p.aft}",
        png,
        f"{metric} against AFT size: {p.msm} vs {p.aft}",
        "Error bars: 95% intervals; dotted lines: conditions without AFT.",
    )


def _rel_txt(pt: EfficiencyPoint, what: str) -> str:
    if what == "size":
        sym = {"=": "≈", "<=": "≤ ", ">": "> "}[pt.relation]
        return f"{sym}{pt.needed.size:.0f}"
    sym = {"=": "", "<=": "≤ ", ">": "> "}[pt.relation]
    return f"{sym}{pt.multiplier:.2f}×"


def _eff_note(pt: EfficiencyPoint) -> str:
    note = {
        "=": "interpolated",
        "<=": "AFT-only matches at its smallest size",
        ">": "not reached within AFT-only sizes",
    }[pt.relation]
    if not pt.needed.monotone:
        note += "; AFT-only curve not monotone (first crossing)"
    return note
