"""The "Spec Q&A and capability" section: graded answers about the spec, and
held-out perplexity (training should not damage general ability)."""

from __future__ import annotations

from msm.report.fmt import DASH, LEAD, fmt_ci, fmt_n, fmt_num, lead
from msm.report.load import metric_kind
from msm.report.render import Section, Table
from msm.report.state import ReportState


def add_spec_qa_capability(st: ReportState) -> None:
    """One table for the spec_qa.* metrics and one for capability.perplexity, if present."""
    qa = [m for m in st.all_metrics() if metric_kind(m) == "spec_qa"]
    cap = "capability.perplexity" in st.all_metrics()
    if not qa and not cap:
        return
    sec = st.section("Spec Q&A and capability")
    if qa:
        _add_spec_qa(st, sec, qa)
    if cap:
        _add_capability(st, sec)


def _add_spec_qa(st: ReportState, sec: Section, qa: list[str]) -> None:
    rows = []
    for k in st.groups:
        for m in qa:
            a = st.agg(k, m)
            if a is None or a.stats is None:
                continue
            rows.append([
                *lead(k, a.seeds), m.split(".", 1)[1],
                fmt_num(a.stats.mean, 2), fmt_ci(a.stats.ci95, 2), fmt_n(a.n),
                str(a.extra.get("grader_errors", 0) or 0), "\n".join(a.sources),
            ])  # fmt: skip
    sec.blocks.append(
        Table(
            [*LEAD, "question set", "grade", "95% interval", "answers", "grader errors", "source"],
            rows,
            numeric=frozenset({1, 4, 5, 6, 7}),
            source_col=8,
            caption="Spec Q&A: grader's score of answers about the spec (higher is better).",
        )  # fmt: skip
    )


def _add_capability(st: ReportState, sec: Section) -> None:
    rows = []
    for k in st.groups:
        a = st.agg(k, "capability.perplexity")
        if a is None or a.stats is None:
            continue
        rows.append([
            *lead(k, a.seeds), fmt_num(a.stats.mean, 2),
            fmt_ci(a.stats.ci95, 2) if a.stats.k > 1 else DASH, fmt_n(a.n),
            "\n".join(a.sources),
        ])  # fmt: skip
    sec.blocks.append(
        Table(
            [*LEAD, "perplexity", "95% interval (seeds)", "tokens", "source"],
            rows,
            numeric=frozenset({1, 3, 4, 5}),
            source_col=6,
            caption="Capability: perplexity of held-out prose (lower is better; a rise "
            "means training damaged general ability). One eval has no interval.",
        )  # fmt: skip
    )
