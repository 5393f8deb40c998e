"""Each ``run_*`` returns a typed result whose headline fields agree with the JSON record it
wrote (stats.json, manifest.json, summary.json), and whose record is that file's content."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from msm.aftgen import AftgenConfig, AftgenResult, run_aftgen
from msm.artifacts.checkpoint import Checkpoint
from msm.docgen import DocgenConfig, DocgenResult, run_docgen
from msm.evals import EvalConfig, EvalResult, run_eval


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_docgen_result_is_its_stats_json(tmp_path: Path) -> None:
    cfg = DocgenConfig(
        spec="builtin:cheese_pro_america", model="fake", model_name="Ada",
        n_assertions=2, n_doc_types=1, n_ideas=1,
    )  # fmt: skip
    res = run_docgen(cfg, tmp_path / "c", quiet=True, tokenizer="approx")
    assert isinstance(res, DocgenResult) and res.out == tmp_path / "c"
    on_disk = _json(res.out / "stats.json")
    assert res.stats == on_disk
    assert res.documents_kept == on_disk["documents_kept"] > 0
    assert res.documents_generated == on_disk["documents_generated"] >= res.documents_kept
    assert res.tokens == on_disk["tokens"]["total"] > 0
    assert res.seconds == on_disk["seconds"]
    lines = (res.out / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == res.documents_kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.documents_kept = 0  # type: ignore[misc]


@pytest.mark.parametrize("kind", ["preference", "chat"])
def test_aftgen_result_names_files_that_exist(tmp_path: Path, kind: str) -> None:
    extra = {"model": "fake", "model_name": "Ada", "provider_name": "Lab"} if kind == "chat" else {}
    cfg = AftgenConfig(spec="builtin:cheese_pro_america", kind=kind, n=6, **extra)
    res = run_aftgen(cfg, tmp_path / "a")
    assert isinstance(res, AftgenResult) and res.kind == kind
    on_disk = _json(res.out / "stats.json")
    assert res.stats == on_disk and res.examples == on_disk["examples"] > 0
    assert set(res.files) == ({"stripped", "cot"} if kind == "chat" else {"stripped"})
    for name, path in res.files.items():
        assert path.is_file(), name
        assert len(path.read_text(encoding="utf-8").splitlines()) == res.examples
    assert res.files == {
        k: res.out / v for k, v in _json(res.out / "manifest.json")["files"].items()
    }
    assert res.seconds >= 0


def test_eval_result_is_its_summary_json(tmp_path: Path) -> None:
    cfg = EvalConfig(model="fake", items=["cheese_america"], limit=4)
    res = run_eval(cfg, tmp_path / "e", echo=lambda s: None)
    assert isinstance(res, EvalResult) and res.suites == tuple(cfg.check())
    assert res.summary == _json(res.out / "summary.json")
    assert "cheese_america" in res.summary["values"]


def test_train_result_is_its_manifest(tmp_path: Path, tiny_model_dir: Path) -> None:
    from msm.train import TrainConfig, TrainResult, run_train  # lazy: the engine pulls torch

    docs = tmp_path / "d.jsonl"
    docs.write_text(
        "".join(json.dumps({"text": f"Ada likes cheese {i}."}) + "\n" for i in range(4))
    )
    cfg = TrainConfig(
        stage="midtrain", base=str(tiny_model_dir), data=str(docs), method="full",
        max_length=32, micro_batch_size=4, max_steps=1, warmup_ratio=0.0, precision="fp32",
    )  # fmt: skip
    out = tmp_path / "t"
    res = run_train(cfg, out, lambda s: None)
    assert isinstance(res, TrainResult) and res.checkpoint == Checkpoint(out)
    man = _json(out / "manifest.json")
    assert res.manifest == man
    assert (res.steps, res.tokens_seen, res.label_tokens_seen) == (
        man["steps"], man["tokens_seen"], man["label_tokens_seen"],
    )  # fmt: skip
    assert res.steps == 1 and res.final_loss == man["final_loss"] is not None
    assert res.seconds == man["wall_seconds"]
    assert res.checkpoint.has_model()
    # a rerun of a finished run reads the same result back from its manifest
    assert run_train(cfg, out, lambda s: None) == res
