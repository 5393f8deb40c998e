"""The "Primary result" section, first after the run summary and before any other table:
the one contrast declared before the run, its estimate, interval (and what the interval
covers), p-value and item split, and a figure of it beside the spec-versus-spec contrasts.

It also computes every contrast of the report once (``st.data["contrasts"]``) and marks
each: the primary, or exploratory with its Holm-adjusted p-value (:mod:`msm.report.family`).
"""

from __future__ import annotations

from typing import Any

from msm.report import plots
from msm.report.contrasts import change_from_base, pair_differences
from msm.report.family import NONE_DECLARED, covers, declared, find, mark, split_of, verdict
from msm.report.fmt import p_is
from msm.report.render import Bullets, Paragraph, Section
from msm.report.spec_contrasts import describe, short, spec_contrasts
from msm.report.state import ReportState
from msm.study.primary import KINDS
from msm.study.primary import describe as describe_decl

PRIMARY_LINE = "primary (declared before the run)"
FIGURE_KINDS = ("direction", "interaction", "aft_generalization")


def add_primary(st: ReportState) -> None:
    spec = spec_contrasts(st)
    changes = change_from_base(st)
    diffs = pair_differences(st)
    decl, note = declared(st)
    if note:
        st.notes.append(note)
    row = find(decl, spec) if decl else None
    n = mark(row, [*spec, *changes, *diffs])
    st.data["contrasts"] = {
        "interactions": spec, "changes": changes, "differences": diffs, "holm_family": n,
    }  # fmt: skip
    info: dict[str, Any] = {"declared": decl, "result": row, "holm_family": n}
    st.data["primary"] = info
    if decl is None and n == 0:
        return
    sec = st.section("Primary result")
    if decl is None:
        sec.blocks.append(
            Paragraph(
                f"{NONE_DECLARED.capitalize()}: Holm-adjusted p-values over all {n} contrasts "
                "of the paired comparisons (report.primary in the experiment declares one)."
            )
        )
        st.headline.insert(0, f"{NONE_DECLARED} (Holm over {n})")
        info["headline"] = st.headline[0]
        _figure(st, sec, spec, None)
        return
    what = f"{describe_decl(decl)}: {KINDS[decl['kind']]}"
    if row is None:
        sec.blocks.append(Paragraph(
            f"Declared before the run (report.primary): {what}. Not computed: this run has no "
            "per-item rows for every model it needs (are those evals done?). Every contrast "
            f"below is exploratory (Holm over {n})."
        ))  # fmt: skip
        st.headline.insert(0, f"{PRIMARY_LINE}: {describe_decl(decl)}: not computed")
        info["headline"] = st.headline[0]
        return
    info["covers"] = covers(st, row)
    info["split"] = split_of(st, row)
    info["verdict"] = verdict(row)
    lo, hi = row["ci95"]
    est = f"{row['estimate']:+.3f} nats/token, 95% interval [{lo:+.3f}, {hi:+.3f}]"
    sec.blocks.append(Paragraph(f"Declared before the run (report.primary): {what}."))
    sec.blocks.append(
        Bullets(
            [
                f"Contrast: {describe(row)}",
                f"Estimate: {est}; {p_is('p', row['p'])} (two-sided, not adjusted: the "
                "one declared test)",
                f"The interval {info['covers']} ({row['basis']}).",
                f"Items: {info['split']}; {row['items']} items, "
                f"{row['seeds']} seed{'s' if row['seeds'] != 1 else ''}.",
                f"Verdict: {info['verdict']}.",
            ]
        )
    )
    sec.blocks.append(Paragraph(
        f"Every other contrast in this report is exploratory: its p-value is Holm-adjusted "
        f"over the {n} other contrasts of the paired comparisons, and an interval there that "
        "excludes 0 is a lead for a new run, not a finding."
    ))  # fmt: skip
    _figure(st, sec, spec, row)
    st.headline.insert(
        0,
        f"{PRIMARY_LINE}: {describe(row)}: {row['estimate']:+.2f} [{lo:+.2f}, {hi:+.2f}], "
        f"{p_is('p', row['p'])}; {info['verdict']}",
    )
    info["headline"] = st.headline[0]


def _figure(
    st: ReportState, sec: Section, rows: list[dict[str, Any]], primary: dict[str, Any] | None
) -> None:
    """The primary (highlighted) beside the other spec contrasts at its AFT size (or the
    largest) and without AFT."""
    size = primary["aft_size"] if primary else max((r["aft_size"] or 0 for r in rows), default=0)
    shown = [
        r for r in rows
        if r["kind"] in FIGURE_KINDS and r["aft_size"] in (None, size or None)
    ]  # fmt: skip
    if not shown:
        return
    labels = [short(r) for r in shown]
    hl = next((i for i, r in enumerate(shown) if r is primary), None)
    png = plots.forest(
        labels, [r["estimate"] for r in shown], [tuple(r["ci95"]) for r in shown], hl,
        "Primary contrast (top) and exploratory spec contrasts",
        "nats/token (paired 95% interval)",
    )  # fmt: skip
    cap = (
        "Each row: a paired contrast with its 95% interval; the dotted line is 0. "
        + ("The primary is drawn first, in colour; the grey rows are exploratory."
           if primary else "No primary declared: every row is exploratory.")
    )  # fmt: skip
    sec.blocks.append(st.image("primary_contrast", png, "primary contrast and others", cap))
