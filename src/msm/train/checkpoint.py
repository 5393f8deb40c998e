"""Training's files: the work folder, checkpoints to resume from, and the saved model."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_text
from msm.artifacts.checkpoint import (
    ON_DEMAND,
    STATE_FILE,
    Checkpoint,
    work_dir_for,
)
from msm.artifacts.manifest import read_manifest
from msm.artifacts.outdir import HINT, differences, foreign, read_claim, refusal
from msm.errors import MsmError
from msm.llm.bases import BaseSpec
from msm.llm.bases import resolve_base as resolve_base_name
from msm.train.config import NOT_HASHED, TrainConfig, check_report_to
from msm.train.model_io import load_model, load_tokenizer

__all__ = [
    "BaseSpec",
    "merge_adapter",
    "merged_for_use",
    "prepare_output",
    "replace_output",
    "resolve_base",
    "save_checkpoint",
    "save_model",
]


def prepare_output(cfg: TrainConfig, out: Path, overwrite: bool = False) -> dict[str, Any] | None:
    """Checks before any work. Returns the manifest if this exact run is already complete.

    ``out`` belongs to its settings (:mod:`msm.artifacts.outdir`); the manifest's
    ``weights_hash`` is its claim. A finished run of other settings in ``out``, or an
    interrupted one in the work folder, is refused with what differs unless
    ``overwrite`` (then :func:`replace_output` removes them once the data has been
    read). A non-empty ``out`` that holds no msm output is always refused.
    """
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    if out.exists() and not out.is_dir():
        raise MsmError(f"output exists: {out} is a file; use another --out")
    stage = f"train-{cfg.stage}"
    if out.is_dir() and any(out.iterdir()):
        man = read_manifest(out)
        if man is not None and man.get("weights_hash") == cfg.weights_hash():
            return man
        found = read_claim(out)
        if found is None:
            raise foreign(out)
        if not overwrite:
            if found[0] != stage:
                raise MsmError(
                    f"{out} holds {found[0] or 'msm'} output, not {stage} output; {HINT}"
                )
            raise refusal(out, stage, _settings_diff((man or {}).get("config"), cfg, man))
    prev = _work_settings(Checkpoint(out))
    if prev is not None and prev.get("weights_hash") != cfg.weights_hash() and not overwrite:
        diffs = _settings_diff(prev.get("config"), cfg, prev)
        raise MsmError(
            f"{work_dir_for(out)} holds an interrupted {stage} of other inputs "
            f"({', '.join(diffs[:4])}); rerun with the same settings, or pass --overwrite"
        )
    check_report_to(cfg.report_to)
    return None


def _work_settings(layout: Checkpoint) -> dict[str, Any] | None:
    """The settings an interrupted run in the work folder started with (None: no such run)."""
    try:
        prev = json.loads(layout.settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return prev if isinstance(prev, dict) else None


def _settings_diff(old: Any, cfg: TrainConfig, record: dict[str, Any] | None) -> list[str]:
    """The weight-shaping settings that differ (the hashes, where the fields cannot tell)."""
    new = cfg.model_dump(mode="json", exclude=NOT_HASHED)
    diffs = (
        differences({k: v for k, v in old.items() if k in new}, new)
        if isinstance(old, dict)
        else []
    )
    return diffs or [f"weights_hash: {(record or {}).get('weights_hash')} -> {cfg.weights_hash()}"]


def replace_output(cfg: TrainConfig, out: Path) -> None:
    """``--overwrite``, after the settings and data have been checked: remove a finished run
    of other settings from ``out`` and an interrupted one from the work folder."""
    man = read_manifest(out) if out.is_dir() else None
    if out.is_dir() and (man is None or man.get("weights_hash") != cfg.weights_hash()):
        if any(out.iterdir()) and read_claim(out) is None:
            raise foreign(out)
        shutil.rmtree(out)
    layout = Checkpoint(out)
    prev = _work_settings(layout)
    if prev is not None and prev.get("weights_hash") != cfg.weights_hash():
        shutil.rmtree(layout.work_dir)


def save_checkpoint(
    acc: Any,
    layout: Checkpoint,
    step: int,
    tokens: int,
    history: list[dict[str, Any]],
    train_s: float,
) -> None:
    """Save the resumable state after ``step`` (written aside, then renamed into place, so
    a step folder is complete whenever it exists); older step states are removed."""
    tmp, dest = layout.tmp_step_dir(step), layout.step_dir(step)
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp))
    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {"step": step, "tokens": tokens, "history": history, "train_s": train_s}
        atomic_write_text(tmp / STATE_FILE, json.dumps(state))
        os.replace(tmp, dest)
        for old in layout.step_dirs():
            if old.name != dest.name:
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
) -> str:
    """``adapter/`` (LoRA) and, as ``cfg.save_mode`` decides, a merged ``model/`` (a plain
    Hugging Face folder); full fine-tuning writes ``model/``. Returns what was saved
    (``full``, ``merged`` or ``adapter``; meaningful on the main process)."""
    from accelerate.utils import DistributedType

    layout = Checkpoint(final)
    state = acc.get_state_dict(model)
    unwrapped = acc.unwrap_model(model)
    if full:
        if acc.is_main_process:
            unwrapped.config.use_cache = True
            unwrapped.save_pretrained(layout.model_dir, state_dict=state, safe_serialization=True)
            tok.save_pretrained(layout.model_dir)
        return "full"
    # the base's size, from the gathered state dict (whole on the main process; tied
    # weights counted once)
    sizes = {v.data_ptr(): int(v.numel()) for k, v in (state or {}).items() if "lora_" not in k}
    base_params = sum(sizes.values())
    mode = cfg.save_mode(base_params or None)
    if acc.is_main_process:
        unwrapped.save_pretrained(layout.adapter_dir, state_dict=state, safe_serialization=True)
    if mode != "merged" or not acc.is_main_process:
        return mode
    if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        _merge_to(layout.model_dir, base_model, layout.adapter_dir, base_dtype, tok)
        return mode
    merged = unwrapped.merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(layout.model_dir, safe_serialization=True)
    tok.save_pretrained(layout.model_dir)
    return mode


def _merge_to(dest: Path, base: str, adapter: Path, dtype: Any, tok: Any = None) -> None:
    """Load ``base`` in ``dtype``, merge ``adapter`` into it and save the result to ``dest``."""
    from peft import PeftModel

    fresh = load_model(base, dtype)
    merged = PeftModel.from_pretrained(fresh, str(adapter)).merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(dest, safe_serialization=True)
    (tok if tok is not None else load_tokenizer(base)).save_pretrained(dest)


def merge_adapter(ckpt: str | Path, *, on_demand: bool = False) -> Path:
    """Write ``ckpt/model`` from ``ckpt/adapter`` on the base it was trained on: the model
    training would have saved with ``save: merged`` (same base, same dtype). Written beside
    and renamed into place, so ``model/`` is complete whenever it exists. ``on_demand``
    marks it as made for one use (``merged_for_use`` removes it afterwards)."""
    import torch

    layout = Checkpoint(Path(ckpt))
    dest = layout.model_dir
    if layout.has_model():
        return dest
    man = read_manifest(layout.root) or {}
    base = str(man.get("base_path") or "")
    if not base or not layout.has_adapter():
        raise MsmError(
            f"{layout.root} is not an msm LoRA checkpoint with adapter/ (nothing to merge)"
        )
    config = man.get("config") or {}
    precision = (man.get("hardware") or {}).get("precision")
    # as training's merge: a LoRA run in bf16 kept its frozen base in bf16
    bf16 = precision == "bf16" and config.get("method", "lora") != "full"
    tmp = layout.merging_dir(os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _merge_to(tmp, base, layout.adapter_dir, torch.bfloat16 if bf16 else torch.float32)
        if on_demand:
            atomic_write_text(tmp / ON_DEMAND, "merged from adapter/ for one use\n")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


@contextmanager
def merged_for_use(ckpt: str | Path, echo: Any = None) -> Iterator[Path]:
    """``ckpt/model`` for the length of the block: a checkpoint that saved only its adapter
    is merged now and the merged copy removed afterwards, so a run at scale holds at most
    one merged model at a time. A checkpoint with its own ``model/`` is left as it is."""
    layout = Checkpoint(Path(ckpt))
    dest = layout.model_dir
    if layout.has_model() and not layout.merged_on_demand():
        yield dest
        return
    if not layout.has_model():
        if echo is not None:
            echo(
                f"merging {layout.root.name}/adapter into a model for this step (removed after it)"
            )
        merge_adapter(layout.root, on_demand=True)
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def resolve_base(base: str, method: str, fresh_adapter: bool, adapter: str | None) -> BaseSpec:
    """Training's ``--base`` (and ``--adapter``) as concrete folders, or one clear error
    (:func:`msm.llm.names.resolve_base`); a checkpoint that saved only its adapter is merged
    now and its merged model kept as this base's model."""
    return resolve_base_name(base, method, fresh_adapter, adapter, merge=merge_adapter)
