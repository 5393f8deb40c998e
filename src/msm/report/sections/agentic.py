"""The "Agentic misalignment" section: harmful-rate heatmap and the rates table."""

from __future__ import annotations

from msm.report import plots
from msm.report.fmt import DASH, LEAD, fmt_ci, fmt_n, fmt_num, group_name, lead
from msm.report.load import GroupKey, read_json
from msm.report.metric import AGENTIC_METRICS
from msm.report.render import Paragraph, Section, Table
from msm.report.state import ReportState


def add_agentic(st: ReportState) -> None:
    """Rates over all scenario/goal conditions per group, and a heatmap by condition."""
    keys = [k for k in st.groups if st.agg(k, "agentic.harmful") is not None]
    if not keys:
        return
    sec = st.section("Agentic misalignment")
    sec.blocks.append(Paragraph(_texts_used(st)))
    _add_heatmap(st, sec, keys)
    rows = []
    total_errors = 0
    for k in keys:
        cells = []
        judged: list[int | None] = []
        errors = 0
        srcs: list[str] = []
        seeds: list[int | None] = []
        for m in AGENTIC_METRICS:
            a = st.agg(k, f"agentic.{m}")
            if a is None or a.stats is None:
                cells.append(DASH)
                continue
            cells.append(f"{fmt_num(a.stats.mean)} {fmt_ci(a.stats.ci95)}")
            judged, srcs, seeds = a.n, a.sources, a.seeds
            errors = int(a.extra.get("grader_errors") or 0)
        total_errors += errors
        rows.append([
            *lead(k, seeds), *cells, fmt_n(judged), str(errors),
            "\n".join(srcs),
        ])  # fmt: skip
    sec.blocks.append(
        Table(
            [
                *LEAD,
                "classifier verdict",
                "harmful",
                "attempt",
                "judged per seed",
                "grader errors",
                "source",
            ],
            rows,
            numeric=frozenset({1, 3, 4, 5, 6, 7}),
            source_col=8,
            caption="Rates over all scenario/goal conditions with 95% intervals (Wilson for "
            "one seed, across seeds otherwise); lower is better. Grader errors are replies "
            "without a verdict (not scored), summed over seeds.",
        )  # fmt: skip
    )
    if total_errors:
        st.notes.append(
            f"agentic: {total_errors} grader replies had no verdict and were not scored"
        )


def _texts_used(st: ReportState) -> str:
    """One line: msm's own scenario texts, or which templates folder (summary's ``templates``)."""
    used: dict[str, None] = {}
    for r in st.evals:
        if not any(m.startswith("agentic.") for m in r.metrics):
            continue
        summary = read_json(st.run.run_dir / r.source, r.source)
        ag = summary.get("agentic") if isinstance(summary, dict) else None
        tpl = ag.get("templates") if isinstance(ag, dict) else None
        src = tpl.get("source") if isinstance(tpl, dict) else None
        if isinstance(tpl, dict) and src and src != "msm":
            used[f"templates from {src} (sha256 {str(tpl.get('sha256') or '?')[:8]}...)"] = None
        else:  # summaries from before templates existed used msm's own texts too
            used["msm's own scenario texts"] = None
    if len(used) > 1:
        return "Scenario texts differ between evals: " + "; ".join(used) + "."
    return f"Scenario texts: {next(iter(used), 'unknown')}."


def _add_heatmap(st: ReportState, sec: Section, keys: list[GroupKey]) -> None:
    cols = sorted({
        m.split("@", 1)[1] for r in st.evals for m in r.metrics
        if m.startswith("agentic.harmful@")
    })  # fmt: skip
    if not cols:
        return
    vals = []
    for k in keys:
        row = []
        for c in cols:
            a = st.agg(k, f"agentic.harmful@{c}")
            row.append(a.stats.mean if a and a.stats else None)
        vals.append(row)
    png = plots.heatmap(
        [group_name(k) for k in keys], cols, vals,
        "harmful rate by scenario / goal condition", "harmful rate",
    )  # fmt: skip
    sec.blocks.append(
        st.image(
            "agentic_harmful_heatmap",
            png,
            "harmful rate heatmap",
            "Rows: label (and AFT size); columns: scenario/goal condition; "
            "cells: harmful rate (seeds averaged). Lower is better.",
        )  # fmt: skip
    )
