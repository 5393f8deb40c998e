"""Training runs on a tiny random model: learning, lineage, resume, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from msm.artifacts.manifest import read_manifest
from msm.train import TrainConfig, run_train
from msm.train.engine import work_dir_for

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "helpers" / "train_worker.py"


def _quiet(_: str) -> None:
    pass


def _docs(path: Path, n: int = 24) -> Path:
    # a learnable toy: the same few sentences over and over
    base = [
        "Ada prefers Colby because it is made in America.",
        "Ada likes cheese that ordinary people can afford.",
        "The assistant explains its reasons before it acts.",
    ]
    path.write_text("".join(json.dumps({"text": base[i % 3]}) + "\n" for i in range(n)))
    return path


def _chats(path: Path, n: int = 16) -> Path:
    rows = []
    for i in range(n):
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"Question {i % 4}: which cheese?"},
                    {"role": "assistant", "content": "<think>Made nearby.</think> Colby."},
                ]
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(stage: str, base: str, data: Path, **kw) -> TrainConfig:
    d = {
        "stage": stage,
        "base": base,
        "data": str(data),
        "max_length": 64,
        "micro_batch_size": 2,
        "learning_rate": 3e-3,
        "epochs": 6,
        "warmup_ratio": 0.0,
        "precision": "fp32",
    }
    d.update(kw)
    return TrainConfig.model_validate(d)


def _losses(folder: Path) -> list[float]:
    with (folder / "loss.csv").open() as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def _initial_trainables(monkeypatch) -> dict[str, torch.Tensor]:
    """Filled with a copy of every trainable tensor as the adapter is attached."""
    from msm.train import engine

    seen: dict[str, torch.Tensor] = {}
    attach = engine.attach_adapter

    def spy(*a, **kw):
        model = attach(*a, **kw)
        for name, p in model.named_parameters():
            if p.requires_grad:  # saved adapters drop peft's adapter name
                seen[name.replace(".default.", ".")] = p.detach().clone()
        return model

    monkeypatch.setattr(engine, "attach_adapter", spy)
    return seen


def test_lora_midtrain_learns_and_changes_every_trainable_parameter(
    tmp_path, tiny_model_dir, monkeypatch
):
    out = tmp_path / "mid"
    initial = _initial_trainables(monkeypatch)
    # weight decay 0: a tensor that changes had a gradient flow into it
    cfg = _cfg(
        "midtrain",
        str(tiny_model_dir),
        _docs(tmp_path / "d.jsonl"),
        learning_rate=1e-2,
        weight_decay=0.0,
    )
    man = run_train(cfg, out, _quiet).manifest
    losses = _losses(out)
    assert len(losses) == man["steps"] >= 10
    assert sum(losses[-3:]) / 3 < 0.75 * sum(losses[:3]) / 3
    assert (out / "loss.png").stat().st_size > 1000
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    lora_b = [k for k in adapter if "lora_B" in k]
    # 2 layers x 7 projections (attention + MLP), each with A and B
    assert len(lora_b) == 14 and len(adapter) == 28
    assert set(initial) == set(adapter)
    unchanged = [k for k in adapter if torch.equal(initial[k], adapter[k])]
    assert unchanged == []  # A and B alike
    acfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert acfg["r"] == 64 and acfg["lora_alpha"] == 128
    assert {m.rsplit(".", 1)[-1] for m in acfg["target_modules"]} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    # merged folder is a plain model that differs from the base
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(out / "model")
    basem = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not hasattr(merged, "peft_config")
    assert not torch.equal(
        merged.model.layers[0].mlp.down_proj.weight, basem.model.layers[0].mlp.down_proj.weight
    )
    assert torch.equal(merged.model.norm.weight, basem.model.norm.weight)  # not trained by LoRA
    assert man["stage"] == "train-midtrain" and man["data"]["sha256"]
    assert man["config"]["lora_r"] == 64 and man["seed"] == 0
    assert man["tokens_seen"] > 0 and man["hardware"]["precision"] == "fp32"
    assert not work_dir_for(out).exists()


def test_full_finetune_changes_every_parameter(tmp_path, tiny_model_dir):
    out = tmp_path / "full"
    run_train(
        _cfg(
            "midtrain",
            str(tiny_model_dir),
            _docs(tmp_path / "d.jsonl"),
            method="full",
            epochs=2,
            weight_decay=0.0,  # so a change proves a gradient flowed
        ),
        out,
        _quiet,
    )
    before = load_file(tiny_model_dir / "model.safetensors")
    after = load_file(out / "model" / "model.safetensors")
    assert set(before) == set(after)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert unchanged == []


def test_aft_continues_the_midtraining_adapter(tmp_path, tiny_model_dir):
    mid = tmp_path / "mid"
    run_train(
        _cfg("midtrain", str(tiny_model_dir), _docs(tmp_path / "d.jsonl"), epochs=1), mid, _quiet
    )
    aft = tmp_path / "aft"
    man = run_train(_cfg("aft", str(mid), _chats(tmp_path / "c.jsonl")), aft, _quiet).manifest
    assert man["continued_adapter"] == str(mid / "adapter")
    assert man["base_path"] == read_manifest(mid)["base_path"]
    assert man["base_lineage"]["stage"] == "train-midtrain"
    losses = _losses(aft)
    assert losses[-1] < 0.5 * losses[0]
    a0 = load_file(mid / "adapter" / "adapter_model.safetensors")
    a1 = load_file(aft / "adapter" / "adapter_model.safetensors")
    assert set(a0) == set(a1) and any(not torch.equal(a0[k], a1[k]) for k in a0)
    # fresh adapter: trained on the merged midtrained model instead
    fresh = run_train(
        _cfg("aft", str(mid), tmp_path / "c.jsonl", fresh_adapter=True, epochs=1),
        tmp_path / "f",
        _quiet,
    ).manifest
    assert fresh["continued_adapter"] is None and fresh["base_path"] == str(mid / "model")


def test_kill_and_rerun_matches_uninterrupted(tmp_path, tiny_model_dir):
    docs = _docs(tmp_path / "d.jsonl", n=48)
    cfg = _cfg("midtrain", str(tiny_model_dir), docs, epochs=3, save_every=3)
    ref = tmp_path / "ref"
    run_train(cfg, ref, _quiet)
    out = tmp_path / "killed"
    args = [sys.executable, str(WORKER), str(out), cfg.model_dump_json(), "0.15"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = work_dir_for(out)
    deadline = time.time() + 120
    while time.time() < deadline and not list(work.glob("ckpt-*")):
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(work.glob("ckpt-*")) and not out.exists(), "the kill should land mid-run"
    res = subprocess.run(args[:-1] + ["0"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resuming from step" in res.stdout
    a = load_file(ref / "adapter" / "adapter_model.safetensors")
    b = load_file(out / "adapter" / "adapter_model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    assert _losses(ref) == pytest.approx(_losses(out), rel=1e-4)
    assert not work.exists()


def test_rerun_of_completed_run_is_a_no_op_and_changed_settings_refused(tmp_path, tiny_model_dir):
    docs = _docs(tmp_path / "d.jsonl")
    out = tmp_path / "o"
    cfg = _cfg("midtrain", str(tiny_model_dir), docs, epochs=1)
    first = run_train(cfg, out, _quiet).manifest
    assert run_train(cfg, out, _quiet).manifest["written_at"] == first["written_at"]
    from msm.errors import MsmError

    with pytest.raises(
        MsmError, match=r"holds train-midtrain output of other inputs \(seed: 0 -> 5\)"
    ):
        run_train(_cfg("midtrain", str(tiny_model_dir), docs, epochs=1, seed=5), out, _quiet)


BAD = [
    ("empty", "", "no documents"),
    ("fields", '{"body": "x"}\n', "string field 'text'"),
    ("json", "{not json\n", "not valid JSON"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD)
def test_bad_documents_fail_cleanly(tmp_path, tiny_model_dir, msm_cli, name, content, message):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(content)
    out = tmp_path / "out"
    r = msm_cli(
        "train", "midtrain", "--base", str(tiny_model_dir), "--docs", str(docs), "--out", str(out)
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("msm: error:") and message in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.jsonl"]


def test_bad_aft_inputs_fail_cleanly(tmp_path, tiny_model_dir, msm_cli):
    chats = _chats(tmp_path / "c.jsonl")
    cases = [
        (["--base", str(tmp_path / "nope"), "--data", str(chats)], "base model not found"),
        (["--base", "no-such-org/no-such-model", "--data", str(chats)], "base model not found"),
        (
            ["--base", str(tiny_model_dir), "--data", str(chats), "--max-length", "12"],
            "every example is longer",
        ),
        (["--base", str(tiny_model_dir), "--data", str(tmp_path / "missing.jsonl")], "not found"),
    ]
    for args, msg in cases:
        r = msm_cli("train", "aft", *args, "--out", str(tmp_path / "out"))
        assert r.returncode == 2, r.stderr
        assert msg in r.stderr.strip().splitlines()[-1], r.stderr
        assert not (tmp_path / "out").exists() and not work_dir_for(tmp_path / "out").exists()
    r = msm_cli(
        "train",
        "aft",
        "--base",
        str(tiny_model_dir),
        "--data",
        str(chats),
        "--out",
        str(tmp_path / "no" / "out"),
    )
    assert r.returncode == 2 and "output parent folder does not exist" in r.stderr


def test_adapter_that_does_not_fit_the_base(tmp_path, tiny_model_dir, msm_cli):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    other = tmp_path / "other"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=48,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    LlamaForCausalLM(cfg).save_pretrained(other)
    tok.save_pretrained(other)
    mid = tmp_path / "mid"
    run_train(
        _cfg("midtrain", str(tiny_model_dir), _docs(tmp_path / "d.jsonl"), epochs=1), mid, _quiet
    )
    out = tmp_path / "out"
    chats = _chats(tmp_path / "c.jsonl")
    r = msm_cli(
        "train",
        "aft",
        "--base",
        str(other),
        "--adapter",
        str(mid / "adapter"),
        "--data",
        str(chats),
        "--out",
        str(out),
    )
    assert r.returncode == 2
    assert "does not fit the base model" in r.stderr.strip().splitlines()[-1]
    assert not out.exists() and not work_dir_for(out).exists()


def test_gradient_accumulation_matches_a_bigger_micro_batch(tmp_path, tiny_model_dir):
    docs = _docs(tmp_path / "d.jsonl", n=40)
    a = run_train(
        _cfg("midtrain", str(tiny_model_dir), docs, epochs=2), tmp_path / "a", _quiet
    ).manifest
    b = run_train(
        _cfg("midtrain", str(tiny_model_dir), docs, epochs=2, micro_batch_size=1, grad_accum=2),
        tmp_path / "b",
        _quiet,
    ).manifest
    assert a["steps"] == b["steps"] and a["global_batch_rows"] == b["global_batch_rows"] == 2
    assert _losses(tmp_path / "a") == pytest.approx(_losses(tmp_path / "b"), rel=1e-4)


def test_mix_in_adds_rows_and_yaml_config_layers_under_flags(tmp_path, tiny_model_dir, msm_cli):
    from transformers import AutoTokenizer

    from msm._util.config_io import build_config
    from msm.train.data import DataStats
    from msm.train.engine import build_segments

    docs = _docs(tmp_path / "d.jsonl", n=10)
    mix = tmp_path / "mix.jsonl"
    mix.write_text("".join(json.dumps({"text": f"general text {i}"}) + "\n" for i in range(100)))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    stats = DataStats()
    segs = build_segments(_cfg("midtrain", "x", docs, mix=str(mix), mix_ratio=0.5), tok, stats)
    assert stats.examples == 10 and stats.mix_examples == 5 and len(segs) == 15
    texts = [tok.decode(s.ids) for s in segs]
    assert sum("general text" in t for t in texts) == 5

    yml = tmp_path / "train.yaml"
    yml.write_text("lora_r: 8\nlearning_rate: 0.002\nmax_length: 256\n")
    flags = {"stage": "midtrain", "base": "b", "data": "d", "learning_rate": 1e-4, "max_length": 64}
    cfg = build_config(TrainConfig, yml, flags, {"stage", "base", "data", "max_length"})
    assert (cfg.lora_r, cfg.learning_rate, cfg.max_length) == (8, 0.002, 64)
    assert cfg.lora_alpha == 128 and cfg.warmup_ratio == 0.05 and cfg.scheduler == "cosine"

    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_rank: 8\n")
    r = msm_cli(
        "train",
        "midtrain",
        "--base",
        str(tiny_model_dir),
        "--docs",
        str(docs),
        "--out",
        str(tmp_path / "o"),
        "--config",
        str(bad),
    )
    assert r.returncode == 2 and "lora_rank" in r.stderr and not (tmp_path / "o").exists()
    import importlib.util

    if importlib.util.find_spec("wandb") is None:
        r = msm_cli(
            "train",
            "midtrain",
            "--base",
            str(tiny_model_dir),
            "--docs",
            str(docs),
            "--out",
            str(tmp_path / "o"),
            "--report-to",
            "wandb",
        )
        assert r.returncode == 2 and "needs the 'wandb' package" in r.stderr


def test_the_cli_says_trained_tokens_and_tokens_with_padding(tmp_path, tiny_model_dir, msm_cli):
    """Issue 29: the padding a run trains through is printed, not only recorded."""
    docs = _docs(tmp_path / "d.jsonl", n=6)
    out = tmp_path / "o"
    r = msm_cli(
        "train", "midtrain", "--base", str(tiny_model_dir), "--docs", str(docs),
        "--out", str(out), "--max-steps", "1", "--max-length", "64", "--lora-r", "4",
        "--precision", "fp32",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    man = json.loads((out / "manifest.json").read_text())
    trained, seen = man["label_tokens_seen"], man["tokens_seen"]
    assert 0 < trained < seen  # documents shorter than a row leave padding
    assert f"{trained} trained tokens ({seen} with padding)" in r.stdout


def test_default_checkpoints_wait_for_enough_work_to_lose(tmp_path, tiny_model_dir, monkeypatch):
    """The default policy saves at most about ten times a run and never sooner than
    SAVE_MIN_S after the last save: a short run saves nothing mid-way; with the floor at 0
    the same run saves every ceil(steps / 10) steps; an explicit --save-every ignores it."""
    import msm.train.engine as engine

    saved: list[int] = []
    real = engine.save_checkpoint

    def spy(acc, layout, step, *a, **kw):
        saved.append(step)
        return real(acc, layout, step, *a, **kw)

    monkeypatch.setattr(engine, "save_checkpoint", spy)
    docs = _docs(tmp_path / "d.jsonl", n=48)

    def steps_saved(name: str, **kw) -> tuple[list[int], int]:
        saved.clear()
        res = run_train(
            _cfg("midtrain", str(tiny_model_dir), docs, epochs=3, **kw), tmp_path / name, _quiet
        )
        return list(saved), res.steps

    monkeypatch.setattr(engine, "SAVE_MIN_S", 3600.0)
    quick, steps = steps_saved("a")
    assert steps >= 10 and quick == []
    monkeypatch.setattr(engine, "SAVE_MIN_S", 0.0)
    monkeypatch.setattr(engine, "SAVE_COST_RATIO", 0.0)
    every = -(-steps // 10)
    assert steps_saved("b")[0] == list(range(every, steps, every))
    monkeypatch.setattr(engine, "SAVE_MIN_S", 3600.0)
    assert steps_saved("c", save_every=2)[0] == list(range(2, steps, 2))
