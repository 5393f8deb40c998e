"""Training's files: the work folder, checkpoints to resume from, and the saved model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.fsutil import atomic_write_text
from msm.manifest import read_manifest
from msm.train.config import TrainConfig, check_report_to
from msm.train.model_io import load_model


def trained_model_dir(out: str | Path) -> Path:
    """The loadable model a finished training wrote into ``out`` (merged, or full weights)."""
    return Path(out) / "model"


def work_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.msm-train"


def latest_checkpoint(work: Path) -> Path | None:
    ckpts = sorted(p for p in work.glob("ckpt-*") if (p / "msm-state.json").is_file())
    return ckpts[-1] if ckpts else None


def prepare_output(cfg: TrainConfig, out: Path) -> dict[str, Any] | None:
    """Checks before any work. Returns the manifest if this exact run is already complete."""
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    if out.exists():
        man = read_manifest(out)
        if man is not None and man.get("weights_hash") == cfg.weights_hash():
            return man
        raise MsmError(f"output exists: {out} (remove it or choose another --out)")
    check_report_to(cfg.report_to)
    return None


def save_checkpoint(
    acc: Any, work: Path, step: int, tokens: int, history: list[dict[str, Any]], train_s: float
) -> None:
    tmp = work / f".tmp-ckpt-{step:08d}"
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp))
    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {"step": step, "tokens": tokens, "history": history, "train_s": train_s}
        atomic_write_text(tmp / "msm-state.json", json.dumps(state))
        os.replace(tmp, work / f"ckpt-{step:08d}")
        for old in work.glob("ckpt-*"):
            if old.name != f"ckpt-{step:08d}":
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def save_model(
    acc: Any,
    model: Any,
    tok: Any,
    final: Path,
    base_model: str,
    cfg: TrainConfig,
    full: bool,
    base_dtype: Any,
) -> None:
    """``adapter/`` (LoRA) and ``model/`` (a merged, plain Hugging Face folder)."""
    from accelerate.utils import DistributedType

    state = acc.get_state_dict(model)
    unwrapped = acc.unwrap_model(model)
    if full:
        if acc.is_main_process:
            unwrapped.config.use_cache = True
            unwrapped.save_pretrained(final / "model", state_dict=state, safe_serialization=True)
            tok.save_pretrained(final / "model")
        return
    if acc.is_main_process:
        unwrapped.save_pretrained(final / "adapter", state_dict=state, safe_serialization=True)
    if not cfg.merge or not acc.is_main_process:
        return
    if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        from peft import PeftModel

        fresh = load_model(base_model, base_dtype)
        unwrapped = PeftModel.from_pretrained(fresh, str(final / "adapter"))
    merged = unwrapped.merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(final / "model", safe_serialization=True)
    tok.save_pretrained(final / "model")
