"""The GPU check (benchmarks/gpu_check.py) runs on the CPU at tiny size, so it cannot rot
before a GPU is lent; and msm's training and scoring paths import nothing a bare GPU
machine lacks (Inspect, the API clients, typer)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

BLOCKED_IMPORT = r"""
import importlib.abc, sys

BLOCKED = ("inspect_ai", "inspect_evals", "openai", "anthropic", "typer")


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {name}")


sys.meta_path.insert(0, Block())
try:
    import typer  # the negative control: the block works
except ImportError:
    pass
else:
    raise SystemExit("the import block does not block")
from msm.train import TrainConfig, run_train
from msm.train.engine import micro_batch_loss_sum
from msm.train.model_io import load_model, load_tokenizer
from msm.evals.values.items import ValueItem
from msm.evals.loglik import load_model, load_tokenizer, option_logliks, summarise_loglik

TrainConfig(stage="midtrain", base="m", data="d.jsonl")
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
print("loaded:", loaded)
"""


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_training_and_scoring_import_without_inspect_api_clients_or_typer():
    res = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "loaded: []" in res.stdout


def test_gpu_check_runs_at_tiny_size_on_the_cpu(tmp_path):
    """Every part ok (TRL is installed here), figures sane, no MFU without a known peak."""
    out = tmp_path / "gpu_check.json"
    t = time.perf_counter()
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    wall = time.perf_counter() - t
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    parts = report["parts"]
    assert {k: p["status"] for k, p in parts.items() if p["status"] != "ok"} == {}
    names = {k.split(":", 1)[1] for k in parts}
    assert names == {
        "build",
        "msm_midtrain_lora",
        "msm_midtrain_full",
        "msm_aft_lora",
        "msm_aft_full",
        "loglik",
        "packed_attention",
        "trl_midtrain_lora",
        "trl_midtrain_full",
    }
    for key, p in parts.items():
        if "midtrain" in key or "aft" in key:
            assert p["tokens_per_s"] > 0, key
            assert p["mfu"] is None, key  # no bf16 peak known for a CPU
            assert p["timed_steps"] >= 1, key
    assert parts["tiny:msm_midtrain_full"]["trainable_parameters"] > (
        parts["tiny:msm_midtrain_lora"]["trainable_parameters"] / 10
    )
    assert parts["tiny:loglik"]["finite"] and parts["tiny:loglik"]["items_per_s"] > 0
    assert parts["tiny:packed_attention"]["max_abs_logit_diff"] < 1e-3
    assert report["mode"] == "tiny-cpu" and report["bf16_peak_tflops"] == "unknown"
    assert report["summary"] == {"ok": len(parts), "failed": 0, "skipped": 0}
    assert set(report["ratios_msm_over_trl"]) == {"tiny:midtrain_lora", "tiny:midtrain_full"}
    assert all(report["versions"][p] for p in ("torch", "transformers", "peft", "accelerate"))
    # msm's parts ran with the API clients blocked, and imported none of them
    assert not set(report["modules_imported_by_msm_parts"]) & set(report["forbidden_imports"])
    assert report["elapsed_s"] < 300 and wall < 400  # ~40 s on 2 busy AVX2 cores


def test_a_failing_part_is_recorded_and_the_next_one_runs(tmp_path, capsys):
    gc = _load_script()
    ctx = gc.Context(
        cuda=False,
        tmp=tmp_path,
        shapes=gc.TINY_SHAPES,
        warmup=1,
        budget_s=60.0,
        peak=None,
        only=set(),
    )

    def boom() -> dict:
        raise ValueError("bad\nthing")

    assert not ctx.part("a:boom", boom)
    assert ctx.part("a:fine", lambda: {"tokens_per_s": 1.0})
    assert not ctx.part("a:absent", lambda: "trl not installed")
    assert ctx.parts["a:boom"]["status"] == "failed"
    assert ctx.parts["a:boom"]["error"] == "ValueError: bad thing"
    assert ctx.parts["a:fine"]["status"] == "ok"
    assert ctx.parts["a:absent"] == {
        "status": "skipped",
        "reason": "trl not installed",
        "seconds": ctx.parts["a:absent"]["seconds"],
        "peak_gpu_memory_gib": None,
    }
    ctx.budget_s = 0.0
    assert not ctx.part("a:late", lambda: {})
    assert ctx.parts["a:late"]["status"] == "skipped"


def test_bf16_peaks_by_device_name():
    gc = _load_script()
    assert gc.datasheet_peak("NVIDIA H100 80GB HBM3") == 989.4
    assert gc.datasheet_peak("NVIDIA H100 PCIe") == 756.0
    assert gc.datasheet_peak("NVIDIA H200") == 989.4
    assert gc.datasheet_peak("NVIDIA A100-SXM4-80GB") == 312.0
    assert gc.datasheet_peak("Tesla T4") is None
