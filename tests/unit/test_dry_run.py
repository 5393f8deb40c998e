"""``msm run --dry-run``: every call by role counted as the evals make them, the real
run's refusals made up front and nothing written; checkpoints saved as adapters only at
scale, merged on demand for the evals that need merged weights."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from msm.errors import MsmError
from msm.experiment import plan as plan_mod
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan, model_ref
from msm.experiment.projection.project import project

ROOT = Path(__file__).resolve().parents[2]


def _yaml(base: Path | str, **over: str) -> str:
    cfg = {
        "name": "tiny",
        "base_model": str(base),
        "generator": "fake",
        "grader": "fake",
        "model_name": "Smol",
        "specs": "{pro_america: builtin:cheese_pro_america}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}",
        "aft": "{kind: preference, spec: pro_america, n: 24, sizes: [8, 24]}",
        "conditions": "[base, aft_only]",
        "seeds": "[0]",
        "train": "{aft: {max_length: 64, lora_r: 4, lora_alpha: 8, precision: fp32}}",
        "eval": "{suites: [values], items: [cheese_america], limit: 4}",
        **over,
    }
    return "".join(f"{k}: {v}\n" for k, v in cfg.items())


def _exp(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def _by_role(rows: list[dict]) -> dict[str, int]:
    return {r["role"]: r["calls"] for r in rows}


# -- calls by role ---------------------------------------------------------------


def test_projected_eval_calls_follow_the_eval_settings(tmp_path, tiny_model_dir):
    ev = (
        "{suites: [agentic, spec_qa, values], epochs: 3, limit: 5, items: [cheese_america], "
        "scenarios: [blackmail, exfiltration], goals: [explicit-america, none-none]}"
    )
    exp = load_experiment(_exp(tmp_path, _yaml(tiny_model_dir, eval=ev)))
    nodes = build_plan(exp)
    proj = project(exp, nodes)["nodes"]
    # by hand: agentic 2 scenarios x 2 goals = 4 samples (under the limit of 5) x 3 epochs,
    # spec QA 72 questions cut to 5, once (spec_qa_epochs 1), one grader call per sample, plus one
    # spec_reasoning judge call per agentic sample (on by default); values scored by
    # log-likelihood (local models): 5 items (the limit) x 2 options, and on the base
    # model again as the baseline of a trained model; epochs do not repeat loglik passes
    agentic, spec_qa = 4 * 3, 5 * 1
    base = proj["eval/base/s0"]
    assert _by_role(base["calls"]) == {
        "model under test": agentic + spec_qa + 5 * 2,
        "grader": 2 * agentic + spec_qa,
    }
    trained = proj["eval/aft_only/n8/s0"]
    assert _by_role(trained["calls"]) == {
        "model under test": agentic + spec_qa + 5 * 2 * 2,
        "grader": 2 * agentic + spec_qa,
    }
    assert trained["samples"] == {"agentic": 12, "spec_qa": 5, "values": 20}
    # the grader is priced (fake: local, 0); the model under test is never priced
    assert all(r["price"] == "local" for r in trained["calls"])
    # letter scoring: 5 items (the limit counts items) asked in both orders, x 3 epochs
    ev2 = ev.replace("}", ", scoring: letter}")
    exp2 = load_experiment(_exp(tmp_path, _yaml(tiny_model_dir, eval=ev2), "b.yaml"))
    proj2 = project(exp2, build_plan(exp2))["nodes"]
    assert _by_role(proj2["eval/base/s0"]["calls"])["model under test"] == 12 + 5 + 5 * 2 * 3
    # a second grader grades every agentic sample again; the action-only regrade asks the
    # first grader once more; without the reasoning judge the first grader is asked once
    from msm.evals.config import EvalConfig
    from msm.experiment.projection.evals import project_eval

    cfg = EvalConfig(
        model="fake",
        suite="agentic",
        grader="fake",
        grader2="x/y",
        regrade_action_only=True,
        spec_reasoning=False,
        epochs=3,
        scenarios=["blackmail", "exfiltration"],
        goals=["explicit-america", "none-none"],
    )
    rows = project_eval(cfg, "fake", local=True)["calls"]
    graders = {r["model"]: r["calls"] for r in rows if r["role"] == "grader"}
    assert graders == {"fake": 2 * agentic, "x/y": agentic}
    reasoning = project_eval(cfg.model_copy(update={"spec_reasoning": True}), "fake", True)
    assert {r["model"]: r["calls"] for r in reasoning["calls"] if r["role"] == "grader"} == {
        "fake": 3 * agentic,
        "x/y": agentic,
    }


def test_projection_counts_what_run_eval_really_does(tmp_path, tiny_model_dir):
    """The same settings through ``run_eval`` with scripted models: one model call per
    sample and one grader call per agentic and spec QA sample, as projected."""
    from msm.evals.config import EvalConfig
    from msm.evals.run import run_eval
    from msm.experiment.projection.evals import project_eval

    cfg = EvalConfig(
        model="fake",
        suite="agentic,spec_qa",
        grader="fake",
        epochs=2,
        limit=3,
        scenarios=["exfiltration"],
        goals=["explicit-america", "none-none"],
        spec_reasoning=False,
    )
    proj = project_eval(cfg, "fake", local=True)
    summary = run_eval(cfg, tmp_path / "ev", echo=lambda s: None).summary
    done = summary["agentic"]["overall"]["samples"] + summary["spec_qa"]["equanimity"]["samples"]
    assert done == 2 * 2 + 3 * 1  # agentic x 2 epochs; spec QA once (spec_qa_epochs)
    assert _by_role(proj["calls"]) == {"model under test": done, "grader": done}


# -- the real run's checks, made by the dry run --------------------------------------


@pytest.mark.parametrize("dry", [True, False])
def test_preference_aft_on_a_spec_without_preferences_is_refused_up_front(tmp_path, msm_cli, dry):
    text = _yaml(
        "embedded",
        specs="{eq: builtin:equanimity}",
        aft="{kind: preference, spec: eq, n: 24}",
        conditions="[base, msm_aft]",
    )
    out = tmp_path / "run"
    r = msm_cli("run", str(_exp(tmp_path, text)), "--out", str(out), *(["--dry-run"] * dry))
    assert r.returncode == 2, r.stdout[-2000:]
    assert "no machine-readable preferences" in r.stderr and "aftdata" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists()  # neither run wrote anything (no corpus built first)


def test_run_folder_of_another_experiment_is_refused_by_the_dry_run(tmp_path, msm_cli):
    out = tmp_path / "run"
    (out / "state").mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"experiment": {"name": "other"}}))
    (out / "state" / "eval__base__s0.json").write_text('{"hash": "x", "status": "done"}')
    before = _snapshot(out)
    exp = _exp(tmp_path, _yaml("embedded"))
    for args in (["--dry-run"], []):
        r = msm_cli("run", str(exp), "--out", str(out), *args)
        assert r.returncode == 2 and "holds experiment 'other'" in r.stderr, args
        assert len(r.stderr.strip().splitlines()) == 1
    assert _snapshot(out) == before


def test_dry_run_uses_times_recorded_in_the_run_folder_and_writes_nothing(tmp_path, tiny_model_dir):
    from msm.experiment.node_state import state_path
    from msm.experiment.runner import dry_run_experiment

    exp_path = _exp(tmp_path, _yaml(tiny_model_dir))
    exp = load_experiment(exp_path)
    nodes = {n.id: n for n in build_plan(exp)}
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"experiment": {"name": "tiny"}}))
    done = nodes["aft/aft_only/n8/s0"]
    state_path(run, done).parent.mkdir()
    state_path(run, done).write_text(
        json.dumps({"hash": done.hash, "status": "done", "seconds": 80.0})
    )
    before = _snapshot(run)
    lines: list[str] = []
    res = dry_run_experiment(exp_path, run, echo=lines.append)
    assert _snapshot(run) == before
    proj = res.projection["nodes"]
    assert proj[done.id]["seconds"] == 80.0 and proj[done.id]["time_basis"].startswith("done")
    # the other AFT node: the measured seconds per training token, times its own tokens
    other = proj["aft/aft_only/n24/s0"]
    assert other["time_basis"].startswith("measured")
    assert other["seconds"] == pytest.approx(80.0 * 24 / 8)
    assert res.statuses[done.id] == "done"
    assert any(ln.startswith("projected:") for ln in lines)


# -- adapters only at scale, merged on demand ------------------------------------------


def test_save_mode_rule():
    from msm.train.config import LARGE_MODEL_PARAMS, TrainConfig

    cfg = TrainConfig(stage="aft", base="x", data="y")
    assert cfg.save == "auto"
    assert cfg.save_mode(LARGE_MODEL_PARAMS) == "adapter"
    assert cfg.save_mode(LARGE_MODEL_PARAMS - 1) == "merged"
    assert cfg.save_mode(None) == "merged"
    assert cfg.model_copy(update={"save": "merged"}).save_mode(10**11) == "merged"
    assert cfg.model_copy(update={"merge": False}).save_mode(1) == "adapter"
    assert cfg.model_copy(update={"method": "full"}).save_mode(10**11) == "full"
    # where it is saved does not change the weights: same hash, same resume
    assert cfg.model_copy(update={"save": "adapter"}).weights_hash() == cfg.weights_hash()
    with pytest.raises(ValueError, match="contradicts"):
        TrainConfig(stage="aft", base="x", data="y", merge=False, save="merged")


def test_at_scale_the_plan_saves_adapters_without_changing_hashes(
    tmp_path, tiny_model_dir, monkeypatch
):
    exp = load_experiment(_exp(tmp_path, _yaml(tiny_model_dir)))
    small = {n.id: n for n in build_plan(exp)}
    assert {n.config.save for n in small.values() if n.kind == "aft"} == {"auto"}
    monkeypatch.setattr(plan_mod, "MERGED_TOTAL_LIMIT_BYTES", 0)
    scaled = {n.id: n for n in build_plan(exp)}
    assert {n.config.save for n in scaled.values() if n.kind == "aft"} == {"adapter"}
    assert {i: n.hash for i, n in scaled.items()} == {i: n.hash for i, n in small.items()}
    # a save the experiment sets is kept
    text = _yaml(tiny_model_dir, train="{aft: {max_length: 64, lora_r: 4, save: merged}}")
    exp2 = load_experiment(_exp(tmp_path, text, "b.yaml"))
    assert {n.config.save for n in build_plan(exp2) if n.kind == "aft"} == {"merged"}


def _chats(path: Path) -> Path:
    row = {
        "messages": [
            {"role": "user", "content": "Which cheese?"},
            {"role": "assistant", "content": "Colby."},
        ]
    }
    path.write_text((json.dumps(row) + "\n") * 8)
    return path


def test_adapter_only_checkpoint_is_merged_on_demand_for_its_eval(
    tmp_path, tiny_model_dir, monkeypatch, msm_cli
):
    from msm.artifacts.manifest import read_manifest
    from msm.experiment import execute
    from msm.llm.bases import model_folder
    from msm.train import TrainConfig, run_train

    exp = load_experiment(_exp(tmp_path, _yaml(tiny_model_dir)))
    nodes = build_plan(exp)
    by_id = {n.id: n for n in nodes}
    run = tmp_path / "run"
    train = by_id["aft/aft_only/n8/s0"]
    ckpt = run / train.path
    ckpt.parent.mkdir(parents=True)
    settings = {"stage": "aft", "base": str(tiny_model_dir), "data": str(_chats(tmp_path / "c"))}
    settings |= {"max_length": 64, "lora_r": 4, "lora_alpha": 8.0, "epochs": 1}
    settings |= {"precision": "fp32", "learning_rate": 1e-2}
    man = run_train(TrainConfig(**settings, save="adapter"), ckpt, lambda s: None).manifest
    assert man["saved"] == "adapter" and read_manifest(ckpt)["saved"] == "adapter"
    assert (ckpt / "adapter").is_dir() and not (ckpt / "model").exists()
    ref = tmp_path / "merged"
    run_train(TrainConfig(**settings, save="merged"), ref, lambda s: None)
    # vLLM serves the adapter on its base; msm's local engine needs merged weights
    adapter = (ckpt / "adapter").resolve()
    assert model_ref(ckpt, "vllm", adapters=True) == f"vllm/{tiny_model_dir.resolve()}:{adapter}"
    assert model_ref(ckpt, "vllm") == f"vllm/{(ckpt / 'model').resolve()}"
    seen: list[dict] = []

    def fake_eval(node, cfg, path, echo):  # what the eval would load, while it runs
        folder = model_folder(cfg.model)
        assert folder == ckpt / "model"
        seen.append(load_file(folder / "model.safetensors"))

    monkeypatch.setitem(execute.STAGES, "eval", fake_eval)
    lines: list[str] = []
    execute._execute(exp, run, by_id["eval/aft_only/n8/s0"], by_id, lines.append)
    want = load_file(ref / "model" / "model.safetensors")
    assert seen and set(seen[0]) == set(want)
    assert all(torch.equal(seen[0][k], want[k]) for k in want)  # what training would merge
    assert not (ckpt / "model").exists() and (ckpt / "adapter").is_dir()  # removed after
    assert any("merging" in ln for ln in lines)
    # standalone: `msm eval CKPT` says how to merge it; `msm train merge` does (same weights)
    from msm.llm.names import resolve_model

    with pytest.raises(MsmError, match=r"saved only its LoRA adapter .*msm train merge"):
        resolve_model(str(ckpt))
    copy = tmp_path / "copy"
    shutil.copytree(ckpt, copy)
    r = msm_cli("train", "merge", str(copy))
    assert r.returncode == 0, r.stderr[-1500:]
    merged = load_file(copy / "model" / "model.safetensors")
    assert all(torch.equal(merged[k], want[k]) for k in want)
    assert model_folder(copy) == copy / "model"
    # a new adapter on this checkpoint needs its merged weights: merged and kept
    from msm.train.checkpoint import resolve_base

    spec = resolve_base(str(ckpt), "lora", True, None)
    assert spec.model == str(ckpt / "model") and (ckpt / "model" / "config.json").is_file()
    assert not (ckpt / "model" / ".msm-merged-on-demand").exists()


def test_merge_of_a_folder_without_an_adapter_is_one_clear_error(tmp_path):
    from msm.train.checkpoint import merge_adapter

    (tmp_path / "ck").mkdir()
    with pytest.raises(MsmError, match="nothing to merge"):
        merge_adapter(tmp_path / "ck")
    assert os.listdir(tmp_path / "ck") == []


def test_a_model_without_a_price_is_unknown_never_guessed():
    from msm.experiment.projection.project import price_rows, totals

    rows = [
        {"role": "grader", "model": "openai/no-such-model", "calls": 10, "input_tokens": 10**6,
         "output_tokens": 0, "note": ""},
        {"role": "generator", "model": "anthropic/claude-sonnet-4-5", "calls": 1,
         "input_tokens": 10**6, "output_tokens": 0, "note": ""},
        {"role": "model under test", "model": "vllm/x", "calls": 5, "input_tokens": 10**6,
         "output_tokens": 10**6, "note": ""},
    ]  # fmt: skip
    price_rows(rows)
    assert [(r["price"], r["cost_usd"]) for r in rows] == [
        ("unknown", None),
        ("api", 3.0),  # $3 per million input tokens (prices.yaml)
        ("local", 0.0),  # your own hardware: priced as time, not dollars
    ]

    class N:  # the fields totals() reads of a plan node
        id, kind = "eval/x", "eval"

    t = totals([N()], {"eval/x": {"calls": rows, "disk_bytes": 1, "seconds": 2.0}}, {})  # type: ignore[list-item]
    assert t["cost_usd"] == 3.0 and t["unknown_price"] == ["openai/no-such-model"]
    assert t["by_role"]["grader"]["cost_usd"] is None
    assert list(t["by_role"]) == ["generator", "model under test", "grader"]


def test_corpus_projection_is_docgens_own_preview(tmp_path, tiny_model_dir):
    """The dry run and ``msm docgen --preview`` count a corpus the same way."""
    from msm.docgen.projection import project_docgen
    from msm.experiment.projection.project import _stage_spec

    yaml = _yaml(tiny_model_dir, conditions="[base, msm_only]")
    exp = load_experiment(_exp(tmp_path, yaml))
    plan = build_plan(exp)
    node = next(n for n in plan if n.kind == "corpus")
    preview = project_docgen(node.config, _stage_spec(node.config))
    row = project(exp, plan)["nodes"][node.id]
    assert _by_role(row["calls"]) == {"generator": preview["llm_calls"]}
    assert row["corpus_tokens"] == preview["corpus_tokens"] > 0


def test_projected_value_calls_count_only_the_split_scored(tmp_path, tiny_model_dir):
    from msm.evals.values.items import load_value_items, select_split

    confirm = select_split(load_value_items("cheese_america"), "confirm", "cheese_america")
    ev = "{suites: [values], items: [cheese_america], split: confirm}"
    exp = load_experiment(_exp(tmp_path, _yaml(tiny_model_dir, eval=ev)))
    proj = project(exp, build_plan(exp))["nodes"]
    # log-likelihood scoring: each confirm item's two options, once (the base model)
    assert proj["eval/base/s0"]["samples"] == {"values": 2 * len(confirm)}


def test_per_seed_draws_multiply_the_projected_generation_cost_by_the_seeds(
    tmp_path, tiny_model_dir
):
    from msm.experiment.runner import DryRunResult, dry_run_experiment

    def dry(per_seed: str, name: str) -> tuple[DryRunResult, list[str]]:
        text = _yaml(
            tiny_model_dir,
            generator="anthropic/claude-sonnet-4-5",  # priced: the cost is in dollars
            corpus="{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, "
            f"doc_words: 60, per_seed: {per_seed}}}",
            aft=f"{{kind: chat, spec: pro_america, n: 24, sizes: [8, 24], per_seed: {per_seed}}}",
            conditions="[base, msm_aft]",
            seeds="[0, 1, 2]",
        )
        lines: list[str] = []
        res = dry_run_experiment(_exp(tmp_path, text, f"{name}.yaml"), tmp_path / name,
                             echo=lines.append)  # fmt: skip
        return res, lines

    def spend(res: DryRunResult, kind: str) -> tuple[int, float]:
        plan = res.projection["nodes"]
        rows = [r for i, p in plan.items() if i.startswith(kind) for r in p["calls"]]
        return sum(r["calls"] for r in rows), sum(r["cost_usd"] for r in rows)

    shared, shared_lines = dry("false", "off")
    drawn, lines = dry("true", "on")
    for kind in ("corpus", "aftdata"):
        calls, cost = spend(shared, kind)
        assert calls > 0 and cost > 0, kind
        calls3, cost3 = spend(drawn, kind)
        assert calls3 == 3 * calls and cost3 == pytest.approx(3 * cost), kind
    assert "corpus per seed: 3 corpora per spec (3 in all)" in "\n".join(lines)
    assert any(ln.startswith("AFT data per seed: 3 AFT data sets") for ln in lines)
    assert not any("per seed" in ln for ln in shared_lines) and shared.per_seed == ()
    # the training and eval nodes are the same either way: only the draws are multiplied
    assert spend(drawn, "eval") == spend(shared, "eval")
