"""Two CPU processes (gloo) train like one process with the same global batch."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path
from typing import Any

import yaml

from tests.unit.test_train import _docs

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _losses(folder: Path) -> list[float]:
    with (folder / "loss.csv").open() as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def _one_and_two(tmp_path: Path, tiny: Path, msm_cli: Any, conf: dict[str, Any]) -> tuple[Any, Any]:
    """The same training on 1 process (micro-batch 4) and under ``accelerate launch``
    with ``conf`` (2 processes x micro-batch 2): the same global batch."""
    conf = {**conf, "main_process_port": _free_port()}
    conf_path = tmp_path / "acc.yaml"
    conf_path.write_text(yaml.safe_dump(conf))
    docs = _docs(tmp_path / "d.jsonl", n=40)
    common = ["--base", str(tiny), "--docs", str(docs), "--max-length", "64"]
    common += ["--lr", "3e-3", "--epochs", "2", "--precision", "fp32"]
    one = msm_cli(
        "train", "midtrain", *common, "--micro-batch-size", "4", "--out", str(tmp_path / "one")
    )
    assert one.returncode == 0, one.stderr[-3000:]
    launch = ["--launcher", "accelerate", "--accelerate-config", str(conf_path)]
    two = msm_cli(
        "train",
        "midtrain",
        *common,
        "--micro-batch-size",
        "2",
        "--out",
        str(tmp_path / "two"),
        *launch,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) >= 4
    assert a[-1] < a[0]
    for x, y in zip(a, b, strict=True):
        assert abs(x - y) <= 1e-4 * abs(x) + 1e-5, (a, b)
    return one, two


def test_two_processes_match_one(tmp_path, tiny_model_dir, msm_cli):
    conf = yaml.safe_load((ROOT / "examples" / "accelerate" / "cpu-2proc.yaml").read_text())
    _one_and_two(tmp_path, tiny_model_dir, msm_cli, conf)
    man = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert man["hardware"]["processes"] == 2 and man["global_batch_rows"] == 4
    assert man["hardware"]["distributed_type"] == "MULTI_CPU"


def test_fsdp_config_on_cpu_runs_as_data_parallel_and_says_so(tmp_path, tiny_model_dir, msm_cli):
    """accelerate 1.15 enables FSDP on accelerators only. The GPU example config on a CPU
    machine must not pass for FSDP: the run records what really ran (MULTI_CPU) and
    warns, and it still trains like one process."""
    conf = yaml.safe_load((ROOT / "examples" / "accelerate" / "fsdp-8gpu.yaml").read_text())
    conf.update(num_processes=2, use_cpu=True, mixed_precision="no")
    one, two = _one_and_two(tmp_path, tiny_model_dir, msm_cli, conf)
    assert "warning" not in one.stdout + one.stderr
    assert "asks for FSDP, but accelerate runs MULTI_CPU" in two.stdout + two.stderr
    man = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert man["hardware"]["distributed_type"] == "MULTI_CPU"
    assert man["hardware"]["processes"] == 2
