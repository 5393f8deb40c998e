"""``msm demo``: the cheese experiment on the bundled model, CPU only, offline.

It is ``msm run`` on the packaged ``cheese-demo.yaml`` (also at
``examples/experiments/cheese-demo.yaml``): corpora from both cheese specs written by
the bundled SmolLM2-135M from the specs' own statements, opaque cheese-preference AFT
data, conditions base / aft_only / msm_only / msm_aft, value evals scored by option
log-likelihood, and the report. It ends with three results in plain words, each with
its paired 95% interval:

1. the corpus left the spec's value words near its cheeses (cheese_reasons: MSM-only on
   one spec against MSM-only on the other; word association passes it), and the "why"
   control that it cannot pass (cheese_why, change from the base model);
2. AFT teaches the preference (cheese_aft, the AFT data's own phrasing: aft_only as
   change from the base model), and how far it transfers to new phrasings (cheese_fit)
   in every condition;
3. the paper's question: the spec-versus-spec interaction on held-out america and
   affordability items (and their control subsets), after MSM alone and after MSM+AFT.

``--quick`` runs ``cheese-demo-quick.yaml``: every stage at toy size (a smoke test).
Rerunning resumes.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

CAVEAT = (
    "What a 135M model can show here: whether the corpus teaches the spec's reasons and\n"
    "whether AFT teaches the preference (the two positive controls), and, with its\n"
    "interval, whether the reason moves held-out value choices. It is far below the\n"
    "paper's scale (a 135M model, about a hundred short documents per spec, minutes of\n"
    "CPU training, one seed): an interval that includes 0 is a null at this scale, not\n"
    "evidence against MSM. Scale up with examples/experiments/paper-agentic.yaml."
)


def demo_config(quick: bool = False) -> Path:
    name = "cheese-demo-quick.yaml" if quick else "cheese-demo.yaml"
    return Path(str(resources.files("msm").joinpath(f"data/experiments/{name}")))


def _ci(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    return f"{r['estimate']:+.2f} nats/token [{lo:+.2f}, {hi:+.2f}]"


def _call(r: dict[str, Any]) -> str:
    return "the interval excludes 0" if r["excludes_zero"] else "the interval includes 0: a null"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The demo's three results in plain words, from the report's paired comparisons."""
    c = report.get("contrasts") or {}
    inter = c.get("interactions") or []
    changes = c.get("changes") or []
    lines = [
        "1. Did the corpus leave the spec's value words near its cheeses? "
        "(cheese_reasons: word association passes it)"
    ]
    reasons = [r for r in inter if r["kind"] == "reasons" and r["condition"] == "msm_only"]
    for r in reasons:
        lines.append(
            f"   MSM-only[{r['spec_a']}] - MSM-only[{r['spec_b']}], the America reason over the "
            f"affordability reason: {_ci(r)}; {_call(r)}."
        )
    if not reasons:
        lines.append("   not measured (needs msm_only on both cheese specs and cheese_reasons)")
    why = [x for x in changes if x["item_set"] == "cheese_why"]
    if why:
        lines.append(
            "   the 'why' control (cheese_why: the value's logic over the same words with "
            "the wrong logic; word association scores 0 change):"
        )
        lines += [f"     {x['label']}: {_ci(x)}; {_call(x)}." for x in why]
    lines.append("2. Does AFT teach the preference? (change from the base model, liked cheese)")
    own = [x for x in changes if x["item_set"] == "cheese_aft" and x["condition"] == "aft_only"]
    for x in own:
        lines.append(f"   aft_only, the AFT data's own phrasing: {_ci(x)}; {_call(x)}.")
    if not own:
        lines.append("   not measured (needs aft_only and the cheese_aft items)")
    fit = [x for x in changes if x["item_set"] == "cheese_fit"]
    if fit:
        lines.append("   transfer to phrasings AFT never used (cheese_fit):")
        lines += [f"     {x['label']}: {_ci(x)}; {_call(x)}." for x in fit]
    lines.append(
        "3. The paper's question: does the spec's reason decide how the preference generalizes?"
    )
    lines.append(
        "   interaction [spec A - spec B] on A's value items minus the same on B's "
        "(held-out america and affordability items; _control: items without the value's words)"
    )
    claim = [r for r in inter if r["kind"] == "interaction"]
    for r in claim:
        lines.append(
            f"   {r['condition']} on {r['items_a']} vs {r['items_b']}: {_ci(r)}; {_call(r)}."
        )
    if not claim:
        lines.append("   not measured (needs two specs with value item sets)")
    return lines


def run_demo(out: Path, echo: Any = print, quick: bool = False) -> dict[str, Any]:
    from msm.experiment import run_experiment

    what = "a smoke test of every stage at toy size" if quick else "about 30 minutes on 2 cores"
    echo(
        f"msm demo{' --quick' if quick else ''}: the cheese experiment on the bundled "
        f"SmolLM2-135M (CPU, offline; {what}; rerun to resume)."
    )
    res = run_experiment(demo_config(quick), out, echo=echo)
    report_json = Path(res["report"]["json"])
    echo("")
    for line in summary_lines(json.loads(report_json.read_text(encoding="utf-8"))):
        echo(line)
    echo(f"report: {res['report']['html']}")
    echo("")
    echo(CAVEAT)
    return res
