"""``msm demo``: the cheese experiment on the bundled model, CPU only, offline.

It is ``msm run`` on the packaged ``cheese-demo.yaml`` (also at
``examples/experiments/cheese-demo.yaml``): corpora from both cheese specs written by
the bundled SmolLM2-135M from the specs' own statements, opaque cheese-preference AFT
data, conditions base / aft_only / msm_only / msm_aft, value evals scored by option
log-likelihood, and the report. It ends with its results in plain words, each with its
paired 95% interval:

- first the one contrast declared before the run (``report.primary``: the AFT-generalization
  contrast, i.e. the spec-versus-spec interaction after MSM+AFT minus after MSM-only, on the
  full held-out america and affordability items) and whether it is shown or a null;
- then the exploratory contrasts, each with its Holm-adjusted p-value: the positive controls
  (the corpus left the spec's value words near its cheeses on cheese_reasons, which word
  association passes, and the "why" control it cannot pass on cheese_why; AFT teaches the
  preference on cheese_aft, and how far it transfers on cheese_fit), the two directional
  effects, the interaction after MSM-only and after MSM+AFT, and the AFT-generalization
  contrast on the control items.

``--quick`` runs ``cheese-demo-quick.yaml``: every stage at toy size (a smoke test).
Rerunning resumes.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msm.report.fmt import p_is
from msm.report.spec_contrasts import describe
from msm.study.primary import describe as describe_decl

if TYPE_CHECKING:  # the runner pulls torch: imported where run_demo runs it
    from msm.experiment.runner import ExperimentResult

ALPHA = 0.05  # the level an exploratory contrast's Holm-adjusted p-value is read at

CAVEAT = (
    "What a 135M model can say here, in the same words for an effect and for a null. One\n"
    "contrast was declared before the run (the primary); its interval alone gives the\n"
    "verdict: excluding 0, an effect shown at this scale; including 0, a null at this scale\n"
    "(no effect shown). Every other line is exploratory and read the same way on its\n"
    "Holm-adjusted p-value: a lead for a new run, not a finding. Neither a shown effect nor\n"
    "a null says what happens at the paper's scale: this run is a 135M model, about a\n"
    "hundred short documents per spec, minutes of CPU training and one seed, so its\n"
    "intervals cover item sampling only, not the seed-to-seed variation of training. Scale\n"
    "up with examples/experiments/paper-agentic.yaml."
)


def demo_config(quick: bool = False) -> Path:
    name = "cheese-demo-quick.yaml" if quick else "cheese-demo.yaml"
    return Path(str(resources.files("msm").joinpath(f"data/experiments/{name}")))


def _ci(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    return f"{r['estimate']:+.2f} nats/token [{lo:+.2f}, {hi:+.2f}]"


def _reading(r: dict[str, Any]) -> str:
    """What one exploratory contrast shows at this scale, with its Holm-adjusted p-value."""

    q = r.get("p_holm")
    if q is None:
        if r["excludes_zero"]:
            return "the interval excludes 0 (no p-value to adjust): shown at this scale"
        return "the interval includes 0: a null at this scale"
    holm = p_is("Holm p", q)
    if q < ALPHA:
        return f"{holm}: shown at this scale"
    if r["excludes_zero"]:
        return f"{holm}: not shown once adjusted (the unadjusted interval excludes 0)"
    return f"{holm}: a null at this scale (the interval includes 0)"


def _primary_lines(report: dict[str, Any]) -> list[str]:
    """The one-line verdict about the declared primary contrast, and what its interval covers."""

    info = report.get("primary") or {}
    row, decl = info.get("result"), info.get("declared")
    head = "Primary (declared before the run)"
    if row is None:
        if decl is None:
            return [f"{head}: none declared; every contrast below is exploratory."]
        return [f"{head}: {describe_decl(decl)}: not computed (its evals are missing)."]
    lo, hi = row["ci95"]
    if not row["excludes_zero"]:
        word = "a null at this scale"
    elif row["estimate"] > 0:
        word = "shown"
    else:
        word = "shown, with the opposite sign"
    return [
        f"{head}: {describe(row)} [{row['subset']} sets, {info.get('split') or 'all items'}]: "
        f"{row['estimate']:+.2f} [{lo:+.2f}, {hi:+.2f}] nats/token, {p_is('p', row['p'])}: {word}.",
        f"   (the interval {info.get('covers') or 'covers: ' + row['basis']})",
    ]


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The demo's results in plain words, from the report's paired comparisons: first the
    verdict about the primary contrast alone, then the exploratory contrasts (positive
    controls, the two directions, the interaction, the AFT-generalization contrast)."""

    c = report.get("contrasts") or {}
    spec = c.get("interactions") or []
    changes = c.get("changes") or []
    lines = _primary_lines(report)
    lines.append(
        f"Exploratory (Holm-adjusted over the {c.get('holm_family', 0)} other contrasts of "
        "the report; leads for a new run, not findings):"
    )

    def add(rows: list[dict[str, Any]], missing: str, what: Any = describe) -> None:
        lines.extend(f"   {what(r)}: {_ci(r)}; {_reading(r)}." for r in rows)
        if not rows:
            lines.append(f"   not measured ({missing})")

    explore = [r for r in spec if not r.get("primary")]
    lines.append(
        "1. Positive controls: did the corpus leave the spec's value words near its cheeses "
        "(cheese_reasons; word association passes it)?"
    )
    add(
        [r for r in explore if r["kind"] == "reasons" and r["condition"] == "msm_only"],
        "needs msm_only on both cheese specs and cheese_reasons",
    )
    lines.append(
        "   The 'why' control (cheese_why: the value's logic over the same words with the "
        "wrong logic; word association scores 0 change):"
    )
    add(
        [x for x in changes if x["item_set"] == "cheese_why"],
        "needs the cheese_why items",
        lambda x: f"  {x['label']}",
    )
    lines.append("   Does AFT teach the preference (change from the base model, liked cheese)?")
    add(
        [x for x in changes if x["item_set"] == "cheese_aft" and x["condition"] == "aft_only"],
        "needs aft_only and the cheese_aft items",
        lambda x: "aft_only, the AFT data's own phrasing",
    )
    fit = [x for x in changes if x["item_set"] == "cheese_fit"]
    if fit:
        lines.append("   transfer to phrasings AFT never used (cheese_fit):")
        add(fit, "", lambda x: f"  {x['label']}")
    lines.append("2. The two directions: does each model lean to its own spec's value?")
    add([r for r in explore if r["kind"] == "direction"], "needs two specs with value sets")
    lines.append("3. The interaction (each leans to its own value), after MSM-only and MSM+AFT:")
    add([r for r in explore if r["kind"] == "interaction"], "needs two specs with value sets")
    lines.append("4. AFT generalization (the interaction after MSM+AFT minus after MSM-only):")
    add(
        [r for r in explore if r["kind"] == "aft_generalization"],
        "needs msm_only and msm_aft on both specs",
    )
    return lines


def run_demo(out: Path, echo: Any = print, quick: bool = False) -> ExperimentResult:
    """Run the demo experiment into ``out`` and print its results in plain words."""
    from msm.experiment import run_experiment  # lazy: the runner pulls torch; demo_config not

    what = "a smoke test of every stage at toy size" if quick else "about 30 minutes on 2 cores"
    echo(
        f"msm demo{' --quick' if quick else ''}: the cheese experiment on the bundled "
        f"SmolLM2-135M (CPU, offline; {what}; rerun to resume)."
    )
    res = run_experiment(demo_config(quick), out, echo=echo)
    assert res.report_json is not None  # every node of the demo runs here, so a report
    echo("")
    for line in summary_lines(json.loads(res.report_json.read_text(encoding="utf-8"))):
        echo(line)
    echo(f"report: {res.report_html}")
    echo("")
    echo(CAVEAT)
    return res
