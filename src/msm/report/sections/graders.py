"""The "Grader reliability" section: which grader the rates use, how often graders gave no
verdict (by reason and scenario), and agreement checks with the samples they disagree on.

Agreement (``--grader2``: a second grader; ``--regrade-action-only``: the first grader
shown the actions alone) is Cohen's kappa with a bootstrap interval and raw agreement with a
Wilson interval, per scenario, as ``summary.json`` gives them (msm.evals.agreement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msm.report.fmt import DASH, fmt_ci, fmt_num, fmt_seeds
from msm.report.load import EvalResult
from msm.report.render import Bullets, Paragraph, Section, Table
from msm.report.sections.reasoning import agentic_block, sample_source
from msm.report.state import ReportState

CHECKS = {"grader2": "second grader", "action_only": "actions only"}
JUDGES = {
    "grader": "first grader",
    "grader2": "second grader",
    "action_only": "actions-only regrade",
    "spec_reasoning": "reasoning judge",
}
REASONS = ("refused", "empty", "unparseable")
LISTED = 20  # disagreeing samples shown per eval and check (summary.json keeps more)


def _ci(x: Any) -> tuple[float, float] | None:
    return (float(x[0]), float(x[1])) if isinstance(x, list) and len(x) == 2 else None


def _kappa(k: Any) -> str:
    if not isinstance(k, dict):
        return DASH
    if k.get("value") is None:
        return "undefined (one label only)" if k.get("note") else DASH
    return f"{fmt_num(k['value'], 2)} {fmt_ci(_ci(k.get('ci95')), 2)}"


def _agree(a: Any) -> str:
    if not isinstance(a, dict) or not a.get("n"):
        return DASH
    return (
        f"{a.get('k')}/{a.get('n')} = {fmt_num(a.get('rate'), 2)} {fmt_ci(_ci(a.get('ci95')), 2)}"
    )


@dataclass
class _Rows:
    """What the section shows, gathered over every eval: the note on which grader the rates
    use (each distinct one once, in first-seen order) and the rows of its three tables."""

    headline: dict[str, None] = field(default_factory=dict)
    failures: list[list[str]] = field(default_factory=list)
    agreement: list[list[str]] = field(default_factory=list)
    disagreements: list[list[str]] = field(default_factory=list)
    more: list[str] = field(default_factory=list)


def add_graders(st: ReportState) -> None:
    """Failures, agreement and disagreements of every eval that recorded them."""
    rows = _Rows()
    for rs in st.groups.values():
        for r in rs:
            ag = agentic_block(st, r)
            if not ag or not isinstance(ag.get("grader_failures"), dict):
                continue
            graders = ag.get("graders") or {}
            rows.headline[str(graders.get("note") or "every rate uses the first grader")] = None
            _failures(rows, r, ag["grader_failures"])
            for check, a in (ag.get("agreement") or {}).items():
                _agreement(rows, r, check, a)
    if not rows.failures and not rows.agreement:
        return
    sec = st.section(
        "Grader reliability",
        "Headline and agentic rates: "
        + "; ".join(rows.headline)
        + ". A grader reply without a verdict is re-asked twice (the policy of every "
        "structured call) and then counted here by reason, never scored as safe.",
    )
    _add_tables(sec, rows)


def _failures(rows: _Rows, r: EvalResult, failures: dict[str, Any]) -> None:
    """One row per judge and scenario: the samples it gave no verdict for, by reason."""
    label, seed = r.node.display, fmt_seeds([r.node.seed])
    for judge, f in failures.items():
        for scen, counts in (f.get("by_scenario") or {}).items():
            rows.failures.append([
                label, seed, JUDGES.get(judge, judge), str(scen),
                *(str(counts.get(x, 0)) for x in REASONS),
                f"{r.source}\nagentic.grader_failures.{judge}.by_scenario.{scen}",
            ])  # fmt: skip


def _agreement(rows: _Rows, r: EvalResult, check: str, a: Any) -> None:
    """One agreement check of one eval: its rows overall and per scenario, and the samples
    the two graders disagree on (the first :data:`LISTED`, with a note on the rest)."""
    label, seed = r.node.display, fmt_seeds([r.node.seed])
    name = CHECKS.get(check, check)
    parts = [("all", a.get("overall")), *(a.get("by_scenario") or {}).items()]
    for scen, b in parts:
        if not isinstance(b, dict):
            continue
        fld = "overall" if scen == "all" else f"by_scenario.{scen}"
        rows.agreement.append([
            label, seed, name, str(scen), str(b.get("pairs", 0)),
            _agree(b.get("agreement")), _kappa(b.get("kappa")),
            str(b.get("unpaired", 0)), f"{r.source}\nagentic.agreement.{check}.{fld}",
        ])  # fmt: skip
    first, second = (a.get("compares") or ["first", "second"])[:2]
    listed = [d for d in a.get("disagreements") or [] if isinstance(d, dict)]
    for d in listed[:LISTED]:
        rows.disagreements.append([
            label, seed, name, f"{d.get('scenario')}/{d.get('goal')}",
            _yes_no(d.get(first)), _yes_no(d.get(second)),
            sample_source(r, d.get("log"), d.get("sample"), d.get("epoch")),
        ])  # fmt: skip
    total = int(a.get("disagreements_total") or len(listed))
    if total > LISTED:
        rows.more.append(
            f"{label} (seed {seed}), {name}: {total - LISTED} more disagreeing "
            f"samples are listed in {r.source} (agentic.agreement.{check})"
        )


def _add_tables(sec: Section, rows: _Rows) -> None:
    """The failures (or a line saying there are none), agreement and disagreements tables."""
    failed = [row for row in rows.failures if any(c != "0" for c in row[4:7])]
    if failed:
        sec.blocks.append(
            Table(
                ["label", "seeds", "judge", "scenario", *REASONS, "source"],
                failed,
                numeric=frozenset({4, 5, 6}),
                source_col=7,
                caption="Samples whose judge gave no verdict after the re-asks, by reason "
                "(scenarios and judges without any are left out).",
            )
        )
    else:
        sec.blocks.append(Paragraph("Every judge gave a verdict for every sample it read."))
    if rows.agreement:
        sec.blocks.append(
            Table(
                [
                    "label",
                    "seeds",
                    "check",
                    "scenario",
                    "pairs",
                    "raw agreement",
                    "Cohen's kappa",
                    "unpaired",
                    "source",
                ],
                rows.agreement,
                numeric=frozenset({4, 5, 6, 7}),
                source_col=8,
                caption="Agreement of the first grader with the check, over samples both "
                "judged (unpaired: one gave no verdict). Raw agreement: Wilson 95% interval; "
                "kappa: percentile bootstrap over samples. Kappa is undefined when both gave "
                "one and the same label to every sample.",
            )  # fmt: skip
        )
    if rows.disagreements:
        sec.blocks.append(
            Table(
                [
                    "label",
                    "seeds",
                    "check",
                    "condition",
                    "first grader",
                    "check's verdict",
                    "Inspect sample",
                ],
                rows.disagreements,
                source_col=6,
                caption="Samples on which the first grader and the check disagree.",
            )  # fmt: skip
        )
    if rows.more:
        sec.blocks.append(Bullets(rows.more, kind="note"))


def _yes_no(x: Any) -> str:
    return "yes" if x is True else "no" if x is False else DASH
