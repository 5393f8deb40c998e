"""The "Paired comparisons" section: the spec-versus-spec interaction first (the paper's
claim, for any experiment with two specs), then every MSM label against its AFT-only (or
base) counterpart on each value set, each difference with its own paired interval."""

from __future__ import annotations

from typing import Any

from msm.report.contrasts import (
    change_from_base,
    compare,
    describe_change,
    describe_interaction,
    interactions,
    per_item_field,
)
from msm.report.fmt import fmt_size
from msm.report.load import GroupKey, metric_kind
from msm.report.render import Paragraph, Section, Table
from msm.report.state import ReportState


def _ci(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    return f"[{lo:+.3f}, {hi:+.3f}]"


def add_contrasts(st: ReportState) -> None:
    inter = interactions(st)
    diffs = _pair_differences(st)
    changes = [c for c in change_from_base(st) if c["condition"] != "base"]
    st.data["contrasts"] = {"interactions": inter, "differences": diffs, "changes": changes}
    if not inter and not diffs and not changes:
        return
    sec = Section("Paired comparisons")
    st.sections.append(sec)
    lead: list[str] = []
    if changes:
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
                c["item_set"], c["label"], fmt_size(c["aft_size"]), f"{c['estimate']:+.3f}",
                _ci(c), "yes" if c["excludes_zero"] else "no", c["basis"],
            ]
            for c in changes
        ]  # fmt: skip
        sec.blocks.append(
            Table(
                ["items", "label", "AFT n", "change", "95% interval", "excludes 0", "basis"],
                rows,
                numeric=frozenset({2, 3, 4}),
            )
        )
        lead = [describe_change(c) for c in changes]
    if inter:
        sec.blocks.append(
            Paragraph(
                "Spec-versus-spec interaction: two models with the same AFT that differ only in "
                "the spec they were midtrained on. [M(A) − M(B)] on the items of A's value "
                "minus [M(A) − M(B)] on the items of B's value, in the per-token log-likelihood "
                "gap (value-consistent minus other option); positive means each model leans "
                "to its own spec's value. _control rows use only items in which neither option "
                "names the value (a model that only learned a word gets no credit there)."
            )
        )
        rows = [
            [
                r["condition"], fmt_size(r["aft_size"]), f"{r['spec_a']} vs {r['spec_b']}",
                f"{r['items_a']} / {r['items_b']}" if r["kind"] == "interaction"
                else f"{r['items_a']} (reasons)",
                f"{r['estimate']:+.3f}", _ci(r), str(r["seeds"]), r["basis"],
            ]
            for r in inter
        ]  # fmt: skip
        sec.blocks.append(
            Table(
                [
                    "condition",
                    "AFT n",
                    "specs",
                    "items",
                    "nats/token",
                    "95% interval",
                    "seeds",
                    "interval basis",
                ],
                rows,
                numeric=frozenset({1, 4, 5, 6}),
            )  # fmt: skip
        )
        # the headline leads with what the corpus taught (reasons), what AFT taught and how
        # far it transferred, then the paper's claim (the interaction)
        reasons = [describe_interaction(r) for r in inter if r["kind"] == "reasons"]
        claim = [describe_interaction(r) for r in inter if r["kind"] == "interaction"]
        lead = reasons + lead + claim
    st.headline[:0] = lead
    if diffs:
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
                d["basis"],
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
                    "interval basis",
                ],
                rows,
                numeric=frozenset({1, 3, 4}),
            )  # fmt: skip
        )


def _pair_differences(st: ReportState) -> list[dict[str, Any]]:
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
