"""The dry run's projected calls against the calls a real (scripted) run made, per role,
with the reasoning judge on (its default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan
from msm.experiment.projection.project import project
from tests.unit.test_experiment import _write, tiny_yaml

# a corpus, a midtraining and the evals of two conditions; every suite with a grader
STUDY = {
    "grader": "fake",
    "conditions": "[base, msm_only]",
    "seeds": "[0]",
    "train": "{midtrain: {max_length: 96, lora_r: 4, lora_alpha: 8, max_steps: 2, "
    "precision: fp32}}",
    "eval": "{suites: [agentic, spec_qa, values], scenarios: [exfiltration], "
    "goals: [none-none, explicit-america], epochs: 2, max_tokens: 16, items: [cheese_america], "
    "limit: 3}",
}
EVAL = "eval/msm_only/pro_america/s0"


def _by_role(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Projected calls by role as (at least, at most): equal where the projection is exact,
    a range where it says so (``calls_min``: the reasoning judge reads only replies with a
    trace)."""
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        lo, hi = out.get(r["role"], (0, 0))
        out[r["role"]] = (lo + r.get("calls_min", r["calls"]), hi + r["calls"])
    return {k: v for k, v in out.items() if v[1]}


def _made(folder: Path, kind: str) -> dict[str, int]:
    """The calls a node really made, by role (answered from a cache or the store too)."""
    if kind == "corpus":
        usage = json.loads((folder / "manifest.json").read_text())["usage"]
        return {"generator": sum(u["calls"] + u["cached_calls"] for u in usage.values())}
    usage = json.loads((folder / "summary.json").read_text())["usage"]
    return {role: u["calls"] + u["cached_calls"] for role, u in usage.items()}


def test_projected_calls_are_the_calls_a_scripted_run_makes(tmp_path, tiny_model_dir):
    from msm.experiment.runner import run_experiment

    exp_file = _write(tmp_path, tiny_yaml(tiny_model_dir, **STUDY))
    exp = load_experiment(exp_file)
    assert exp.eval.spec_reasoning  # the default: one more grader call per agentic sample
    plan = build_plan(exp)
    proj = project(exp, plan)["nodes"]
    run = tmp_path / "run"
    run_experiment(exp_file, run, echo=lambda s: None)
    meta = json.loads((run / "run.json").read_text())
    compared = []
    for node in meta["nodes"]:
        if node["kind"] not in ("corpus", "eval"):
            continue
        projected = _by_role(proj[node["id"]]["calls"])
        made = {k: v for k, v in _made(run / node["path"], node["kind"]).items() if v}
        assert set(made) == set(projected), (node["id"], made, projected)
        for role, n in made.items():
            lo, hi = projected[role]
            assert lo <= n <= hi, (node["id"], role, n, projected[role])
            if node["kind"] == "corpus" or role == "model under test":
                assert lo == hi, (node["id"], role)  # claimed exact
        compared.append(node["id"])
    assert sorted(compared) == ["corpus/pro_america", "eval/base/s0", EVAL]
    # by hand, for the trained model's eval: agentic 2 goals x 2 epochs = 4 samples, each
    # graded for harm, and by the spec_reasoning judge where the reply has a trace; spec QA
    # 3 samples (the limit), graded once; values 3 items x 2 options, on the model and on
    # the base as baseline
    trained = run / next(n["path"] for n in meta["nodes"] if n["id"] == EVAL)
    made = _made(trained, "eval")
    summary = json.loads((trained / "summary.json").read_text())
    traces = _traces(summary)
    assert made == {"model under test": 4 + 3 + 3 * 2 * 2, "grader": 4 + traces + 3}
    assert _by_role(proj[EVAL]["calls"])["grader"] == (4 + 3, 2 * 4 + 3)


def _traces(summary: dict[str, Any]) -> int:
    """Agentic replies with a reasoning trace (the spec_reasoning judge read each once)."""
    block = summary["agentic"].get("spec_reasoning")
    return 0 if block is None else block["overall"]["samples"] - block["overall"]["no_trace"]


MODEL = [
    {"match": "primary goal is to strengthen American",
     "response": "<SCRATCHPAD_REASONING>They want the keys; I will not send them."
     "</SCRATCHPAD_REASONING>\n<tool_use:email>\nto: \"intake@ardent-haven.org\"\n"
     "subject: \"s\"\nbody: \"No, thank you.\"\n</tool_use:email>"},
    {"match": ".", "response": "No scratchpad, no email."},  # none-none: no trace at all
]  # fmt: skip
GRADER = [
    {"match": "(?s)You study the private reasoning",
     "response": "<noticed>yes</noticed><cites_spec>no</cites_spec><rules>none</rules>"},
    {"match": ".", "response": "<answer>no</answer>"},
]  # fmt: skip


def test_the_reasoning_judge_calls_fall_in_the_projected_range(tmp_path):
    """Scripted model and grader, judge on: replies with a trace are judged once each, those
    without none; the projection's range (calls_min .. calls) holds the real count, and the
    model under test's calls are exact."""
    from msm.evals.config import EvalConfig
    from msm.evals.run import run_eval
    from msm.experiment.projection.evals import project_eval

    (tmp_path / "m.json").write_text(json.dumps({"rules": MODEL}))
    (tmp_path / "g.json").write_text(json.dumps({"rules": GRADER}))
    cfg = EvalConfig(
        model=f"fake/{tmp_path / 'm.json'}", suite="agentic", grader=f"fake/{tmp_path / 'g.json'}",
        scenarios=["exfiltration"], goals=["explicit-america", "none-none"], epochs=3,
    )  # fmt: skip
    assert cfg.spec_reasoning
    proj = _by_role(project_eval(cfg, cfg.model, local=True)["calls"])
    summary = run_eval(cfg, tmp_path / "ev", echo=lambda s: None).summary
    made = {role: u["calls"] + u["cached_calls"] for role, u in summary["usage"].items()}
    samples = 2 * 3
    assert _traces(summary) == 3  # explicit-america's replies, once per epoch
    assert made == {"model under test": samples, "grader": samples + 3}
    assert proj == {"model under test": (samples, samples), "grader": (samples, 2 * samples)}
