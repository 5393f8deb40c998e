"""The one checkpoint layout (``msm.artifacts.checkpoint``): where training writes each part,
what a finished checkpoint holds, and the public helpers ``msm.train`` re-exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msm.artifacts.checkpoint import (
    ON_DEMAND,
    STATE_FILE,
    Checkpoint,
    is_training_manifest,
    model_manifest,
    trained_model_dir,
    work_dir_for,
)
from msm.artifacts.manifest import write_manifest
from msm.errors import MsmError
from msm.llm.bases import base_config_file, model_folder, resolve_base
from msm.llm.names import resolve_model


def _checkpoint(root: Path, *, model: bool, adapter: bool, base: str = "") -> Checkpoint:
    root.mkdir(parents=True)
    if model:
        (root / "model").mkdir()
        (root / "model" / "config.json").write_text("{}")
    if adapter:
        (root / "adapter").mkdir()
        (root / "adapter" / "adapter_config.json").write_text("{}")
    write_manifest(root, "train-aft", base_path=base)
    return Checkpoint(root)


def test_paths_follow_one_layout(tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    c = Checkpoint(out)
    assert c.model_dir == out / "model" == trained_model_dir(out) == trained_model_dir(str(out))
    assert c.adapter_dir == out / "adapter"
    assert c.work_dir == tmp_path / ".ckpt.msm-train" == work_dir_for(out)
    assert c.settings_file == c.work_dir / "run.json"
    assert c.logs_dir == c.work_dir / "logs"
    assert c.final_dir == c.work_dir / "final"
    assert c.step_dir(12) == c.work_dir / "ckpt-00000012"
    assert c.tmp_step_dir(12) == c.work_dir / ".tmp-ckpt-00000012"
    assert c.merging_dir(7) == out / ".model.merging-7"


def test_msm_train_still_exports_its_path_helpers(tmp_path: Path) -> None:
    import msm.train

    assert msm.train.trained_model_dir(tmp_path) == tmp_path / "model"
    assert msm.train.work_dir_for(tmp_path / "x") == tmp_path / ".x.msm-train"


def test_latest_step_is_the_newest_complete_one(tmp_path: Path) -> None:
    c = Checkpoint(tmp_path / "out")
    assert c.latest_step_dir() is None  # no work folder yet
    for step, complete in ((5, True), (10, True), (15, False)):
        c.step_dir(step).mkdir(parents=True)
        if complete:
            (c.step_dir(step) / STATE_FILE).write_text(json.dumps({"step": step}))
    assert c.step_dirs() == [c.step_dir(5), c.step_dir(10), c.step_dir(15)]
    assert c.latest_step_dir() == c.step_dir(10)


def test_what_a_finished_checkpoint_holds(tmp_path: Path) -> None:
    merged = _checkpoint(tmp_path / "m", model=True, adapter=True, base="/b")
    assert merged.is_training_output() and merged.has_model() and merged.has_adapter()
    assert merged.base_path() == "/b" and not merged.merged_on_demand()
    (merged.model_dir / ON_DEMAND).write_text("")
    assert merged.merged_on_demand()
    only = _checkpoint(tmp_path / "a", model=False, adapter=True)
    assert not only.has_model() and only.has_adapter() and only.base_path() == ""
    plain = Checkpoint(tmp_path / "plain")
    assert plain.manifest() is None and not plain.is_training_output()
    assert not is_training_manifest({"stage": "docgen"}) and not is_training_manifest(None)


def test_names_read_the_same_layout(tmp_path: Path) -> None:
    merged = _checkpoint(tmp_path / "m", model=True, adapter=False)
    assert model_folder(merged.root) == merged.model_dir
    assert resolve_model(str(merged.root)).model_args["model_path"] == str(merged.model_dir)
    only = _checkpoint(tmp_path / "a", model=False, adapter=True)
    assert model_folder(only.root) is None
    with pytest.raises(MsmError, match="saved only its LoRA adapter"):
        resolve_model(str(only.root))


def test_a_base_checkpoint_resolves_to_its_model_or_its_adapter(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    ckpt = _checkpoint(tmp_path / "c", model=True, adapter=True, base=str(base))

    def no_merge(p: Path) -> Path:
        raise AssertionError("nothing to merge here")

    cont = resolve_base(str(ckpt.root), "lora", False, None, merge=no_merge)
    assert (cont.model, cont.adapter) == (str(base), str(ckpt.adapter_dir))
    assert cont.lineage["stage"] == "train-aft"
    fresh = resolve_base(str(ckpt.root), "lora", True, None, merge=no_merge)
    assert (fresh.model, fresh.adapter) == (str(ckpt.model_dir), None)
    assert base_config_file(str(ckpt.root)) == base / "config.json"
    only = _checkpoint(tmp_path / "o", model=False, adapter=True, base=str(base))
    merged = resolve_base(str(only.root), "full", False, None, merge=lambda p: p / "model")
    assert merged.model == str(only.model_dir)


def test_a_model_folder_is_described_by_its_own_manifest_or_its_checkpoint(
    tmp_path: Path,
) -> None:
    ckpt = _checkpoint(tmp_path / "c", model=True, adapter=False)
    assert model_manifest(ckpt.model_dir)["stage"] == "train-aft"  # type: ignore[index]
    assert model_manifest(ckpt.root)["stage"] == "train-aft"  # type: ignore[index]
    assert model_manifest(tmp_path / "nothing") is None
