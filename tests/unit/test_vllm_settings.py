"""vLLM server settings (tensor_parallel_size, max_model_len, gpu_memory_utilization):
from ``msm eval`` flags and an experiment's ``eval:`` section to Inspect's vllm provider,
refused for models vLLM does not serve, and in the plan hashes only where they change
outputs. vLLM itself is not installed here: the provider is stopped where it would start
``vllm serve``."""

from __future__ import annotations

import sys
import types

import pytest

from msm.errors import MsmError
from msm.evals.config import EvalConfig
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan

SERVER = {"tensor_parallel_size": 2, "max_model_len": 4096, "gpu_memory_utilization": 0.8}


def test_settings_reach_the_vllm_server_inspect_would_start(monkeypatch):
    from inspect_ai.model._providers import vllm as provider

    from msm.evals.run import _inspect_model

    cfg = EvalConfig(model="vllm/org/model", **SERVER)
    cfg.check()
    assert cfg.vllm_args() == SERVER
    assert EvalConfig(model="vllm/org/model", max_model_len=512).vllm_args() == {
        "max_model_len": 512
    }
    started: dict = {}

    def fake_start(cmd, **kw):
        started.update(cmd=cmd, **kw)
        return "http://127.0.0.1:1/v1", None, 1

    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setattr(provider, "start_local_server", fake_start)
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:9/v1")  # resolving needs one
    model = _inspect_model(cfg.model, cfg.vllm_args())
    model.api._start_server("org/model")
    assert started["cmd"][:3] == ["vllm", "serve", "org/model"]
    assert {k: started["server_args"][k] for k in SERVER} == SERVER


@pytest.mark.parametrize(
    "over, msg",
    [
        ({"model": "embedded", "tensor_parallel_size": 2}, "--tensor-parallel-size set the vLLM"),
        ({"model": "fake", "max_model_len": 64}, "'fake' is not served by vLLM"),
        ({"model": "vllm/m", "gpu_memory_utilization": 1.5}, "must be in (0, 1]"),
        ({"model": "vllm/m", "tensor_parallel_size": 0}, "--tensor-parallel-size must be at"),
    ],
)
def test_settings_are_refused_where_they_would_do_nothing(over, msg):
    with pytest.raises(MsmError, match=msg.replace("(", r"\(").replace("]", r"\]")):
        EvalConfig(**over).check()


def test_cli_refuses_them_for_a_model_vllm_does_not_serve(msm_cli, tmp_path):
    r = msm_cli("eval", "fake", "--tensor-parallel-size", "2", "--out", str(tmp_path / "e"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "msm: error: --tensor-parallel-size set the vLLM server of a vllm/<model>; 'fake' is "
        "not served by vLLM: drop them or evaluate vllm/<model>"
    ]
    assert not (tmp_path / "e").exists()


def test_a_vllm_model_without_vllm_or_a_server_is_one_line_naming_the_package(
    msm_cli, tmp_path, tiny_model_dir, monkeypatch
):
    """Not Inspect's internal error from deep in a run: msm names the package (or the
    running server) before any work; with VLLM_BASE_URL set the check passes."""
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    out = tmp_path / "e"
    r = msm_cli("eval", f"vllm/{tiny_model_dir}", "--items", "america", "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"msm: error: model 'vllm/{tiny_model_dir}' needs a running vLLM server (set "
        "VLLM_BASE_URL) or the vllm package on this machine (pip install vllm, on a GPU machine)"
    ]
    assert not out.exists()


def _plan(tmp_path, tiny_model_dir, eval_section: str, name: str = "e.yaml"):
    from tests.unit.test_experiment import tiny_yaml

    p = tmp_path / name
    p.write_text(tiny_yaml(tiny_model_dir, eval=eval_section))
    return {n.id: n for n in build_plan(load_experiment(p))}


def test_experiment_passes_them_to_vllm_evals_and_hashes_only_max_model_len(
    tmp_path, tiny_model_dir
):
    base = "suites: [values], items: [cheese_america], limit: 12, scoring: letter, engine: vllm"
    plain = _plan(tmp_path, tiny_model_dir, "{" + base + "}")
    sized = _plan(
        tmp_path,
        tiny_model_dir,
        "{" + base + ", tensor_parallel_size: 4, gpu_memory_utilization: 0.5}",
        "s.yaml",
    )
    longer = _plan(tmp_path, tiny_model_dir, "{" + base + ", max_model_len: 2048}", "m.yaml")
    ev = sized["eval/msm_aft/pro_america/n8/s0"].config
    assert (ev.tensor_parallel_size, ev.gpu_memory_utilization, ev.max_model_len) == (4, 0.5, None)
    assert sized["eval/base/s0"].config.tensor_parallel_size == 4  # the base served by vLLM
    # how the server is laid out over GPUs reruns nothing; its context length can truncate
    assert {i: n.hash for i, n in sized.items()} == {i: n.hash for i, n in plain.items()}
    changed = {i for i in plain if plain[i].hash != longer[i].hash}
    assert changed == {i for i in plain if i.startswith("eval/")}
    # with msm's own engine they would do nothing: refused when the file is read
    with pytest.raises(MsmError, match="eval.max_model_len sets the vLLM server"):
        _plan(tmp_path, tiny_model_dir, "{suites: [values], max_model_len: 64}", "h.yaml")


def test_dry_run_with_vllm_and_values_projects_loglik_for_trained_models(tmp_path, msm_cli):
    """A trained model is named by a description in the projection ("trained (midtrain/...)");
    with eval.engine vllm and scoring auto the dry run resolved that description as a model
    name and failed in one line. A trained model gives log-likelihoods under either engine."""
    from msm.experiment.projection.project import project

    exp_file = tmp_path / "v.yaml"
    exp_file.write_text(
        "name: vtest\nbase_model: embedded\ngenerator: fake\ngrader: fake\n"
        "specs: {a: builtin:cheese_pro_america}\nconditions: [base, msm_only]\nseeds: [0]\n"
        "eval: {engine: vllm, suites: [values], items: [america], limit: 4}\n"
    )
    r = msm_cli("run", str(exp_file), "--out", str(tmp_path / "run"), "--dry-run")
    assert r.returncode == 0, r.stderr
    exp = load_experiment(exp_file)
    nodes = project(exp, build_plan(exp))["nodes"]
    (row,) = nodes["eval/msm_only/a/s0"]["calls"]
    assert "values: loglik" in row["note"] and row["calls"] == 16, row  # 4 items x 2 x base
