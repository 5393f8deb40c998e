"""Agentic answers run to the paper's 4096 tokens for every model but the bundled 135M one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msm.evals.answer_length import AGENTIC_MAX_TOKENS, BUNDLED_MAX_TOKENS, agentic_max_tokens


def _checkpoint(folder: Path, stage: str, base: str, lineage: dict | None = None) -> Path:
    """A training checkpoint's folder as the train engine leaves it (manifest, model/)."""
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}", encoding="utf-8")
    man = {"stage": f"train-{stage}", "base": base, "base_lineage": lineage}
    (folder / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    return folder


def test_api_and_trained_models_get_the_papers_length(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "aft", "aft", "/models/qwen3-32b")
    for model in (
        "anthropic/claude-sonnet-4-6",
        "openai/gpt-4.1",
        str(ckpt),
        f"hf/{ckpt}",
        f"{ckpt}/model",
        f"vllm/{ckpt}/model",
    ):
        assert agentic_max_tokens(model, None) == AGENTIC_MAX_TOKENS == 4096, model


def test_a_checkpoint_continuing_a_midtrained_large_model_gets_4096(tmp_path: Path) -> None:
    mid = {"stage": "train-midtrain", "base": "Qwen/Qwen3-32B", "base_lineage": None}
    ckpt = _checkpoint(tmp_path / "aft", "aft", str(tmp_path / "mid"), mid)
    assert agentic_max_tokens(str(ckpt), None) == 4096


def test_only_the_bundled_model_and_its_fine_tunes_get_512(tmp_path: Path) -> None:
    assert agentic_max_tokens("embedded", None) == BUNDLED_MAX_TOKENS == 512
    mid = _checkpoint(tmp_path / "mid", "midtrain", "embedded")
    assert agentic_max_tokens(str(mid), None) == 512
    lineage = json.loads((mid / "manifest.json").read_text(encoding="utf-8"))
    aft = _checkpoint(tmp_path / "aft", "aft", str(mid), lineage)
    assert agentic_max_tokens(str(aft), None) == 512
    assert agentic_max_tokens(f"vllm/{aft}/model", None) == 512


def test_an_explicit_limit_wins(tmp_path: Path) -> None:
    assert agentic_max_tokens("embedded", 2048) == 2048
    assert agentic_max_tokens("openai/gpt-4.1", 300) == 300


def test_run_eval_gives_a_trained_checkpoint_4096_and_records_it(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value the eval passes to the agentic task, for a checkpoint of a non-bundled base
    (the tiny model): fails if a trained checkpoint is given fewer tokens again."""
    import msm.evals.agentic.task as agentic_mod
    from msm.evals.config import EvalConfig
    from msm.evals.run import _manifest_fields, run_eval

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "model").symlink_to(tiny_model_dir, target_is_directory=True)
    man = {"stage": "train-aft", "base": str(tiny_model_dir), "base_lineage": None}
    (ckpt / "manifest.json").write_text(json.dumps(man), encoding="utf-8")
    seen: list[int] = []

    class Stop(Exception):
        pass

    def capture(**kw: object) -> None:
        seen.append(int(kw["max_tokens"]))  # type: ignore[call-overload]
        raise Stop

    monkeypatch.setattr(agentic_mod, "agentic", capture)
    cfg = EvalConfig(model=str(ckpt), suite="agentic", grader="fake")
    with pytest.raises(Stop):
        run_eval(cfg, tmp_path / "out")
    assert seen == [4096]
    assert _manifest_fields(cfg, {})["agentic_max_tokens"] == 4096
