"""The "Paired comparisons" section: what each stage taught (change from the base model),
the spec-versus-spec contrasts (directions, interaction, AFT generalization, reasons), then
every MSM label against its AFT-only (or base) counterpart on each value set. Each
difference has its own paired interval, its p-value and, unless it is the declared primary
contrast, its Holm-adjusted p-value as an exploratory contrast. The contrasts themselves
are computed once by :func:`msm.report.sections.primary.add_primary`."""

from __future__ import annotations

from typing import Any

from msm.report.contrasts import describe_change
from msm.report.fmt import fmt_p, fmt_size
from msm.report.render import Paragraph, Section, Table
from msm.report.spec_contrasts import describe, describe_contrast
from msm.report.state import ReportState

STATUS = ("p", "Holm p", "status")


def _ci(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    return f"[{lo:+.3f}, {hi:+.3f}]"


def _status(r: dict[str, Any]) -> list[str]:
    """The p-value, the Holm-adjusted p-value and whether the row is the primary."""
    if r.get("primary"):
        return [fmt_p(r.get("p")), "—", "primary"]
    return [fmt_p(r.get("p")), fmt_p(r.get("p_holm")), "exploratory"]


def add_contrasts(st: ReportState) -> None:
    """The section, and its lead lines for the headline (right after the primary's)."""
    c = st.data.get("contrasts") or {}
    spec, diffs, changes = c.get("interactions", []), c.get("differences", []), c.get("changes", [])
    if not spec and not diffs and not changes:
        return
    sec = st.section(
        "Paired comparisons",
        "Exploratory unless marked primary: p is two-sided; Holm p is adjusted over the "
        f"{c.get('holm_family', 0)} exploratory contrasts of this section (the primary "
        "excluded). 'excludes 0' says only that the interval does.",
    )
    lead = _add_changes(sec, changes) if changes else []
    if spec:
        reasons, claim = _add_spec(sec, spec)
        lead = reasons + lead + claim
    at = 1 if (st.data.get("primary") or {}).get("headline") else 0
    st.headline[at:at] = lead
    if diffs:
        _add_differences(sec, diffs)


def _add_changes(sec: Section, changes: list[dict[str, Any]]) -> list[str]:
    """What each stage taught (change from the base model); returns its headline lines."""
    sec.blocks.append(
        Paragraph(
            "What each stage taught, read as the per-item change of the log-likelihood gap "
            "(liked minus disliked cheese, nats/token) from the base model on the same "
            "items: cheese_aft asks in the preference AFT data's own phrasing (AFT's "
            "positive control); cheese_fit asks the same choices in phrasings the AFT data "
            "never used (how far the preference transfers)."
        )
    )
    rows = [
        [
            x["item_set"], x["label"], fmt_size(x["aft_size"]), f"{x['estimate']:+.3f}",
            _ci(x), "yes" if x["excludes_zero"] else "no", *_status(x), x["basis"],
        ]
        for x in changes
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            [
                "items",
                "label",
                "AFT n",
                "change",
                "95% interval",
                "excludes 0",
                *STATUS,
                "basis",
            ],
            rows,
            numeric=frozenset({2, 3, 4, 6, 7}),
        )  # fmt: skip
    )
    return [describe_change(x) for x in changes]


def _add_spec(sec: Section, spec: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The spec-versus-spec contrasts; returns their headline lines: (reasons, the claim's
    interactions and AFT generalization, the primary left out)."""
    sec.blocks.append(
        Paragraph(
            "Spec-versus-spec contrasts: models that differ only in the spec they were "
            "midtrained on, in the per-token log-likelihood gap (value-consistent minus "
            "other option). Direction: [M(A) − M(B)] on the items of A's value (does A's "
            "model lean to A's value?), one row per spec. Interaction: the direction on A's "
            "items minus [M(A) − M(B)] on B's items (each leans to its own value). AFT "
            "generalization: the interaction after MSM+AFT minus after MSM-only, paired by "
            "seed and item (does AFT generalize differently because of the spec?). "
            "[control] rows use only items in which neither option names the value (a model "
            "that only learned a word gets no credit there)."
        )
    )
    rows = [
        [
            describe(r) + (f" [{r['subset']}]" if r.get("subset") else ""),
            f"{r['estimate']:+.3f}", _ci(r), str(r["seeds"]), *_status(r), r["basis"],
        ]
        for r in spec
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            ["contrast", "nats/token", "95% interval", "seeds", *STATUS, "interval basis"],
            rows,
            numeric=frozenset({1, 2, 3, 4, 5}),
        )
    )
    # the headline leads (after the primary) with what the corpus taught (reasons), what
    # AFT taught and how far it transferred, then the spec contrasts of the paper's claim
    reasons = [describe_contrast(r) for r in spec if r["kind"] == "reasons"]
    claim = [
        describe_contrast(r)
        for r in spec
        if r["kind"] in ("interaction", "aft_generalization") and not r.get("primary")
    ]
    return reasons, claim


def _add_differences(sec: Section, diffs: list[dict[str, Any]]) -> None:
    """Each MSM label minus its AFT-only (or base) counterpart, per value set."""
    sec.blocks.append(
        Paragraph(
            "Each MSM label minus its AFT-only (or base) counterpart at the same AFT size, "
            "per value set. values.SET: share of items won; .change_from_base: nats/token. "
            "A difference is called only when its own interval excludes 0."
        )
    )
    rows = [
        [
            d["metric"], fmt_size(d["aft_size"]), f"{d['a']} − {d['b']}",
            f"{d['estimate']:+.3f}", _ci(d), "yes" if d["excludes_zero"] else "no",
            *_status(d), d["basis"],
        ]
        for d in diffs
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            [
                "metric",
                "AFT n",
                "difference",
                "estimate",
                "95% interval",
                "excludes 0",
                *STATUS,
                "interval basis",
            ],
            rows,
            numeric=frozenset({1, 3, 4, 6, 7}),
        )  # fmt: skip
    )
