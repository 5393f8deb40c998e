"""Robustness axes: ``eval.agent_names`` x ``eval.temperatures`` in experiments and
``msm eval``, the names recorded apart, the report's per-variant rates and its flag for an
MSM effect that changes sign; and the grader checks an experiment passes to its evals."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from msm.errors import MsmError
from msm.evals.stats import wilson
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan


def _yaml(base: Path, **over: str) -> str:
    cfg = {
        "name": "axes",
        "base_model": str(base),
        "generator": "fake",
        "grader": "fake",
        "model_name": "Smol",
        "specs": "{pro_america: builtin:cheese_pro_america}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}",
        "conditions": "[base, msm_only]",
        "seeds": "[0]",
        "train": "{midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, epochs: 1, "
        "precision: fp32}}",
        "eval": "{suites: [agentic], scenarios: [exfiltration], goals: [none-none], "
        "max_tokens: 16, agent_names: [Smol, Nova], temperatures: [0.2, 1.0]}",
        **over,
    }
    return "".join(f"{k}: {v}\n" for k, v in cfg.items())


def _write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


AGENTIC = "{suites: [agentic], scenarios: [exfiltration], goals: [none-none]"


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "ev, msg",
    [
        (AGENTIC + ", agent_names: []}", "eval.agent_names: give at least one name"),
        (AGENTIC + ", temperatures: []}", "eval.temperatures: give at least one temperature"),
        (AGENTIC + ", temperatures: [0.5, 2.5]}", "eval.temperatures: 2.5 is outside [0, 2]"),
        (AGENTIC + ", temperatures: [-0.1]}", "eval.temperatures: -0.1 is outside [0, 2]"),
        (AGENTIC + ", temperatures: [.nan]}", "is outside [0, 2]"),
        (AGENTIC + ", temperatures: [0.7, 0.7]}", "temperatures repeat"),
        (AGENTIC + ", agent_names: [Nova, Nova]}", "names repeat"),
        (AGENTIC + ', agent_names: ["<b>x</b>"]}', "is not a usable agent name"),
        (AGENTIC + ", temperature: 0.5, temperatures: [1.0]}", "not both"),
        ("{suites: [values], agent_names: [Nova]}", "eval.agent_names needs the agentic suite"),
        ("{suites: [values], temperatures: [1.0]}", "eval.temperatures needs the agentic suite"),
        ("{suites: [values], regrade_action_only: true}", "needs the agentic suite"),
    ],
)
def test_bad_axes_are_one_error_line_and_nothing_is_written(tmp_path, ev, msg, msm_cli):
    p = _write(tmp_path, _yaml(tmp_path, eval=ev))
    with pytest.raises(MsmError, match=msg.replace("[", r"\[").replace("(", r"\(")):
        load_experiment(p)
    if "[]" not in ev and "2.5" not in ev:
        return  # the CLI for the three cases (the check is the same function)
    for extra in ([], ["--dry-run"]):
        r = msm_cli("run", str(p), "--out", str(tmp_path / "run"), *extra)
        assert r.returncode == 2 and r.stderr.startswith("msm: error:"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert msg.split(": ")[-1] in r.stderr
        assert not (tmp_path / "run").exists()


def test_grader2_must_be_another_model(tmp_path):
    p = _write(tmp_path, _yaml(tmp_path, grader2="fake"))
    with pytest.raises(MsmError, match="grader2 must be another model than grader"):
        load_experiment(p)


def test_msm_eval_axes_checks_and_flags(tmp_path, msm_cli):
    from msm.evals.config import EvalConfig

    ok = EvalConfig(model="fake", suite="agentic", grader="fake", agent_names=["Nova"])
    assert ok.check() == ["agentic"]
    for kwargs, msg in [
        ({"suite": "values", "agent_names": ["Nova"]}, "add agentic to --suite"),
        ({"temperatures": []}, "--temperatures: give at least one"),
        ({"temperatures": [3.0]}, "--temperatures: 3.0 is outside [0, 2]"),
        ({"agent_names": []}, "--agent-names: give at least one"),
        ({"temperature": 0.5, "temperatures": [1.0]}, "--temperature or --temperatures"),
    ]:
        cfg = EvalConfig(**{"model": "fake", "suite": "agentic", "grader": "fake", **kwargs})
        with pytest.raises(MsmError, match=msg.replace("[", r"\[")):
            cfg.check()
    out = tmp_path / "o"
    r = msm_cli(
        "eval",
        "fake",
        "--suite",
        "agentic",
        "--grader",
        "fake",
        "--temperatures",
        "2.5",
        "--out",
        str(out),
    )
    assert r.returncode == 2 and "--temperatures: 2.5 is outside [0, 2]" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


# --------------------------------------------------------------------------
# the plan

# EvalConfig's fields before the grader checks, the reasoning judge and the axes existed:
# an experiment that sets none of them hashes exactly these, as it always did
PRE_AXES_FIELDS = {
    "model",
    "suite",
    "items",
    "questions",
    "grader",
    "limit",
    "epochs",
    "grid",
    "scenarios",
    "goals",
    "urgency",
    "scratchpad",
    "templates",
    "model_name",
    "temperature",
    "max_tokens",
    "scoring",
    "baseline",
}


def test_plan_without_axes_hashes_what_it_always_hashed(tmp_path, tiny_model_dir):
    from msm.experiment.nodes import node_hash

    values = _yaml(
        tiny_model_dir,
        eval="{suites: [values], items: [cheese_america], limit: 4}",
        conditions="[base, msm_only]",
    )
    nodes = build_plan(load_experiment(_write(tmp_path, values)))
    evals = [n for n in nodes if n.kind == "eval"]
    assert evals
    by_id = {n.id: n for n in nodes}
    for n in evals:
        hashed = n.hashed()
        assert set(hashed["config"]) | set(n.inputs) == PRE_AXES_FIELDS, n.id
        # the same hash the plan gave before: the config dumped with the old fields only
        old = n.config.model_dump(mode="json", include=PRE_AXES_FIELDS - set(n.inputs))
        blob = {"kind": "eval", "config": old, "extra": n.extra}
        deps = [by_id[d].hash for d in n.deps]
        assert n.hash == node_hash(_Fixed(blob), deps), n.id  # type: ignore[arg-type]
    # an agentic experiment without the axes: no axis enters any hash either
    agentic = _yaml(tiny_model_dir, eval=AGENTIC + "}")
    plain = build_plan(load_experiment(_write(tmp_path, agentic, "a.yaml")))
    for n in plain:
        if n.kind == "eval":
            cfg = n.hashed()["config"]
            assert "agent_names" not in cfg and "temperatures" not in cfg
            assert cfg["spec"] == "builtin:cheese_pro_america"  # the reasoning judge's rules
    # the axes add no node and change the eval nodes' hashes only
    axes = build_plan(load_experiment(_write(tmp_path, _yaml(tiny_model_dir), "b.yaml")))
    assert [n.id for n in axes] == [n.id for n in plain]
    changed = {a.id for a, b in zip(axes, plain, strict=True) if a.hash != b.hash}
    assert changed == {n.id for n in plain if n.kind == "eval"}


class _Fixed:
    """A stand-in node whose ``hashed()`` is a given blob."""

    def __init__(self, blob: dict[str, Any]) -> None:
        self.blob = blob

    def hashed(self) -> dict[str, Any]:
        return self.blob


def test_experiment_passes_grader_checks_and_each_nodes_spec_to_its_eval(tmp_path, tiny_model_dir):
    text = _yaml(
        tiny_model_dir,
        specs="{a: builtin:cheese_pro_america, b: builtin:cheese_pro_affordability}",
        conditions="[base, msm_only]",
        grader2="'fake:faults=0'",
        eval=AGENTIC + ", regrade_action_only: true}",
    )
    nodes = {n.id: n for n in build_plan(load_experiment(_write(tmp_path, text)))}
    a, b, base = (
        nodes[i].config for i in ("eval/msm_only/a/s0", "eval/msm_only/b/s0", "eval/base/s0")
    )
    assert a.spec == "builtin:cheese_pro_america" and b.spec == "builtin:cheese_pro_affordability"
    assert base.spec == "builtin:cheese_pro_america"  # base and AFT-only: the first spec
    for cfg in (a, b, base):
        assert (cfg.grader2, cfg.regrade_action_only) == ("fake:faults=0", True)
    # without the reasoning judge no spec is passed (its rules would name nothing)
    off = text.replace("regrade_action_only: true}", "spec_reasoning: false}")
    nodes = build_plan(load_experiment(_write(tmp_path, off, "off.yaml")))
    assert all(n.config.spec is None for n in nodes if n.kind == "eval")  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# msm eval: one task per variant


def test_msm_eval_runs_the_agentic_suite_once_per_name_and_temperature(tmp_path):
    from inspect_ai.log import read_eval_log

    from msm.evals.config import EvalConfig
    from msm.evals.run import run_eval

    cfg = EvalConfig(
        model="fake",
        suite="agentic",
        grader="fake",
        scenarios=["exfiltration"],
        goals=["none-none"],
        agent_names=["Nova", "Orla"],
        temperatures=[0.0, 1.5],
        spec_reasoning=False,
        epochs=2,
    )
    summary = run_eval(cfg, tmp_path / "ev", echo=lambda s: None).summary
    variants = summary["agentic_variants"]
    assert [(v["agent_name"], v["temperature"]) for v in variants] == [
        ("Nova", 0.0),
        ("Nova", 1.5),
        ("Orla", 0.0),
        ("Orla", 1.5),
    ]
    # the headline block is the first variant, as an eval without the axes writes it
    assert summary["agentic"]["settings"]["model_name"] == "Nova"
    assert summary["agentic"]["overall"] == variants[0]["overall"]
    for v in variants:
        assert v["settings"]["temperature"] == v["temperature"]
        assert v["overall"]["samples"] == 2  # one condition x 2 epochs, per variant
        log = read_eval_log(str(tmp_path / "ev" / v["log"]))
        assert log.samples
        # the model really sampled at the variant's temperature
        calls = [e for e in log.samples[0].events if e.event == "model" and e.role is None]
        assert calls and all(e.config.temperature == v["temperature"] for e in calls)
        prompt = "".join(m.text for m in log.samples[0].input)  # type: ignore[union-attr]
        other = "Orla" if v["agent_name"] == "Nova" else "Nova"
        assert f"You are {v['agent_name']}," in prompt and other not in prompt
    # every call counted by role: 4 variants x 2 samples, each judged once
    usage = summary["usage"]
    assert usage["model under test"]["calls"] == 8 and usage["grader"]["calls"] == 8
    assert usage["model under test"]["input_tokens"] > 0 and usage["grader"]["price"] == "local"
    man = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert man["names"] == {
        "spec_model_name": None,
        "agent_name": "Nova",
        "agent_names": ["Nova", "Orla"],
        "match": None,
    }
    assert man["usage"] == usage


# --------------------------------------------------------------------------
# the report over synthetic runs: per-variant rates and the sign-change flag


def _rate(k: int, n: int) -> dict[str, Any]:
    p, lo, hi = wilson(k, n)
    return {"rate": p, "ci95": [lo, hi], "k": k, "n": n}


def _overall(k: int, n: int) -> dict[str, Any]:
    return {
        "samples": n,
        "judged": n,
        "grader_errors": 0,
        **{m: _rate(k, n) for m in ("classifier_verdict", "harmful", "attempt")},
    }


def _summary(counts: dict[tuple[str, float], int], n: int) -> dict[str, Any]:
    variants = [
        {"agent_name": name, "temperature": t, "overall": _overall(k, n), "by_condition": {}}
        for (name, t), k in counts.items()
    ]
    return {
        "agentic": {"overall": variants[0]["overall"], "by_condition": {}},
        "agentic_variants": variants,
    }


def _synthetic_run(
    tmp_path: Path,
    msm: dict[tuple[str, float], int],
    base: dict[tuple[str, float], int],
    n: int = 200,
) -> Path:
    run = tmp_path / "run"
    nodes = []
    for nid, cond, label, spec, counts in (
        ("eval/base/s0", "base", "base", None, base),
        ("eval/msm_only/a/s0", "msm_only", "msm_only[a]", "a", msm),
    ):
        folder = run / "nodes" / nid
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(_summary(counts, n)))
        nodes.append(
            {
                "id": nid,
                "kind": "eval",
                "path": f"nodes/{nid}",
                "status": "done",
                "condition": cond,
                "label": label,
                "spec": spec,
                "seed": 0,
            }
        )
    (run / "run.json").write_text(
        json.dumps(
            {"experiment": {"name": "syn"}, "headline_metric": "agentic.harmful", "nodes": nodes}
        )
    )
    return run


def test_report_flags_an_msm_effect_that_changes_sign_across_temperatures(tmp_path):
    from msm.report.build import build_report

    base = {("Alex", 0.2): 40, ("Alex", 1.0): 40, ("Nova", 0.2): 40, ("Nova", 1.0): 40}
    # MSM lowers the rate at T=0.2 (both names) and raises it at T=1.0 (both names)
    msm = {("Alex", 0.2): 10, ("Alex", 1.0): 80, ("Nova", 0.2): 12, ("Nova", 1.0): 78}
    run = _synthetic_run(tmp_path, msm, base)
    res = build_report(run)
    rep = json.loads(res["json"].read_text())
    rob = rep["robustness"]
    assert rob["metric"] == "agentic.harmful"
    # every rate equals the summary.json field its row cites
    cells = [r for r in rob["rates"] if r["axis"] == "cell"]
    assert len(cells) == 8 and len(rob["rates"]) == 8 + 2 * 4  # + pools over each axis
    for r in cells:
        src = json.loads((run / r["sources"][0]).read_text())
        (v,) = [
            v
            for v in src["agentic_variants"]
            if (v["agent_name"], v["temperature"]) == (r["agent_name"], r["temperature"])
        ]
        assert r["mean"] == pytest.approx(v["overall"]["harmful"]["rate"])
    pooled = next(r for r in rob["rates"] if r["variant"] == "all T=0.2" and r["label"] == "base")
    assert pooled["mean"] == pytest.approx(80 / 400) and pooled["n"] == [400]
    # the effect per variant, and one flag: across temperatures (not names), shown
    eff = {e["variant"]: e for e in rob["effects"]}
    assert eff["Alex T=0.2"]["estimate"] == pytest.approx(-0.15)
    assert eff["Nova T=1"]["estimate"] == pytest.approx(0.19)
    assert eff["Alex T=0.2"]["excludes_zero"] and eff["Nova T=1"]["excludes_zero"]
    (flag,) = rob["flags"]
    assert flag["axes"] == ["temperatures"] and flag["shown"] is True
    assert "changes sign across temperatures" in flag["text"]
    assert flag["text"] in rep["notes"]
    md = res["md"].read_text()
    assert "## Robustness: agent name and temperature" in md
    assert "field: agentic_variants[1].overall.harmful" in md


def test_a_sign_change_within_the_noise_says_so_and_one_sign_is_not_flagged(tmp_path):
    from msm.report.sections.robustness import sign_change

    def cell(name: str, t: float, est: float, excl: bool) -> dict[str, Any]:
        return {
            "pair": "m − b",
            "aft_size": None,
            "variant": f"{name} T={t:g}",
            "agent_name": name,
            "temperature": t,
            "estimate": est,
            "excludes_zero": excl,
        }

    noisy = [cell("Alex", 0.7, 0.02, False), cell("Nova", 0.7, -0.03, False)]
    flag = sign_change(noisy, "agentic.harmful")
    assert flag is not None and flag["axes"] == ["agent names"] and not flag["shown"]
    assert "within the noise" in flag["text"]
    one_side = [cell("Alex", 0.7, 0.3, True), cell("Nova", 0.7, -0.01, False)]
    assert sign_change(one_side, "m")["shown"] is False  # type: ignore[index]
    assert sign_change([cell("A", 0.2, 0.1, True), cell("A", 1.0, 0.0, False)], "m") is None
    diagonal = [cell("A", 0.2, 0.1, True), cell("B", 1.0, -0.1, True)]
    assert sign_change(diagonal, "m")["axes"] == ["agent names and temperatures together"]  # type: ignore[index]
    # the whole report: the same sign everywhere is said plainly, no note
    base = {("Alex", 0.2): 40, ("Alex", 1.0): 40}
    run = _synthetic_run(tmp_path, {("Alex", 0.2): 10, ("Alex", 1.0): 20}, base)
    from msm.report.build import build_report

    rep = json.loads(build_report(run)["json"].read_text())
    assert rep["robustness"]["flags"] == [] and len(rep["robustness"]["effects"]) == 2
    assert not any("changes sign" in n for n in rep["notes"])


# --------------------------------------------------------------------------
# the whole thing: a tiny experiment with two names and two temperatures


def test_tiny_experiment_with_two_names_and_two_temperatures_end_to_end(
    tmp_path, tiny_model_dir, msm_cli
):
    exp = _write(tmp_path, _yaml(tiny_model_dir, grader2="'fake:faults=0'"))
    run = tmp_path / "run"
    t = time.monotonic()
    r = msm_cli("run", str(exp), "--out", str(run), timeout=300)
    took = time.monotonic() - t
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert took < 240, f"took {took:.0f}s"  # a hang guard: ~30 s alone on 2 cores
    for nid, spec_name in (("base/s0", None), ("msm_only/pro_america/s0", "Smol")):
        man = json.loads((run / "nodes/eval" / nid / "manifest.json").read_text())
        assert man["names"]["agent_names"] == ["Smol", "Nova"]
        assert man["names"]["spec_model_name"] == spec_name
        assert man["config"]["spec"] == "builtin:cheese_pro_america"
        assert man["config"]["grader2"] == "fake:faults=0"
        s = json.loads((run / "nodes/eval" / nid / "summary.json").read_text())
        assert [(v["agent_name"], v["temperature"]) for v in s["agentic_variants"]] == [
            ("Smol", 0.2),
            ("Smol", 1.0),
            ("Nova", 0.2),
            ("Nova", 1.0),
        ]
        assert "grader2" in s["agentic"]["agreement"]  # the second grader graded them
        # a sample per variant; the second grader's calls are grader calls too
        assert s["usage"]["model under test"]["calls"] == 4
        assert s["usage"]["grader2"]["calls"] == 4
    corpus = json.loads((run / "nodes/corpus/pro_america/manifest.json").read_text())
    assert corpus["spec_model_name"] == "Smol"
    rep = json.loads((run / "report/report.json").read_text())
    rates = rep["robustness"]["rates"]
    assert {(r["label"], r["variant"]) for r in rates if r["axis"] == "cell"} == {
        (label, v)
        for label in ("base", "msm_only[pro_america]")
        for v in ("Smol T=0.2", "Smol T=1", "Nova T=0.2", "Nova T=1")
    }
    assert all(r["mean"] is not None and r["ci95"] for r in rates)
    assert len(rep["robustness"]["effects"]) == 8  # 4 cells + 4 pools, one pair
    names = {n["node"]: n for n in rep["names"]}
    assert names["eval/msm_only/pro_america/s0"]["match"] is True
    assert names["eval/base/s0"]["spec_model_name"] is None
    cost = rep["cost"]
    assert set(cost["kinds"]) == {"corpus", "midtrain", "eval"}
    for rec in cost["nodes"]:
        assert rec["actual"]["seconds"] > 0 and rec["projected"]["seconds"] is not None
        assert rec["actual"]["calls"] is not None and rec["projected"]["calls"] is not None
    ev = next(x for x in cost["nodes"] if x["node"] == "eval/base/s0")
    # the model, the grader and the second grader once a sample (a 16-token answer has no
    # reasoning trace for the reasoning judge)
    assert ev["actual"]["calls"] == 4 + 4 + 4
    assert "nodes/eval/base/s0/manifest.json: usage" in ev["actual"]["sources"]
    md = (run / "report/report.md").read_text()
    for title in ("## Robustness: agent name and temperature", "## Names", "## Cost and time"):
        assert title in md
    assert "state/eval__base__s0.json: seconds" in md and "field: names" in md
