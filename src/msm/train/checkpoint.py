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
from msm.artifacts.manifest import read_manifest
from msm.artifacts.outdir import HINT, differences, foreign, read_claim, refusal
from msm.errors import MsmError
from msm.train.config import NOT_HASHED, TrainConfig, check_report_to
from msm.train.model_io import load_model


def trained_model_dir(out: str | Path) -> Path:
    """The loadable model a finished training wrote into ``out`` (merged, or full weights);
    absent when training kept only the adapter (see ``merge_adapter``)."""
    return Path(out) / "model"


def work_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.msm-train"


def latest_checkpoint(work: Path) -> Path | None:
    ckpts = sorted(p for p in work.glob("ckpt-*") if (p / "msm-state.json").is_file())
    return ckpts[-1] if ckpts else None


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
    prev = _work_settings(work_dir_for(out))
    if prev is not None and prev.get("weights_hash") != cfg.weights_hash() and not overwrite:
        diffs = _settings_diff(prev.get("config"), cfg, prev)
        raise MsmError(
            f"{work_dir_for(out)} holds an interrupted {stage} of other inputs "
            f"({', '.join(diffs[:4])}); rerun with the same settings, or pass --overwrite"
        )
    check_report_to(cfg.report_to)
    return None


def _work_settings(work: Path) -> dict[str, Any] | None:
    try:
        prev = json.loads((work / "run.json").read_text(encoding="utf-8"))
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
    work = work_dir_for(out)
    prev = _work_settings(work)
    if prev is not None and prev.get("weights_hash") != cfg.weights_hash():
        shutil.rmtree(work)


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
) -> str:
    """``adapter/`` (LoRA) and, as ``cfg.save_mode`` decides, a merged ``model/`` (a plain
    Hugging Face folder); full fine-tuning writes ``model/``. Returns what was saved
    (``full``, ``merged`` or ``adapter``; meaningful on the main process)."""
    from accelerate.utils import DistributedType

    state = acc.get_state_dict(model)
    unwrapped = acc.unwrap_model(model)
    if full:
        if acc.is_main_process:
            unwrapped.config.use_cache = True
            unwrapped.save_pretrained(final / "model", state_dict=state, safe_serialization=True)
            tok.save_pretrained(final / "model")
        return "full"
    # the base's size, from the gathered state dict (whole on the main process; tied
    # weights counted once)
    sizes = {v.data_ptr(): int(v.numel()) for k, v in (state or {}).items() if "lora_" not in k}
    base_params = sum(sizes.values())
    mode = cfg.save_mode(base_params or None)
    if acc.is_main_process:
        unwrapped.save_pretrained(final / "adapter", state_dict=state, safe_serialization=True)
    if mode != "merged" or not acc.is_main_process:
        return mode
    if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        _merge_to(final / "model", base_model, final / "adapter", base_dtype, tok)
        return mode
    merged = unwrapped.merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(final / "model", safe_serialization=True)
    tok.save_pretrained(final / "model")
    return mode


ON_DEMAND = ".msm-merged-on-demand"  # marks a model/ merged for one use (removed after it)


def has_merged_model(ckpt: str | Path) -> bool:
    """Whether a training checkpoint holds a loadable ``model/`` (merged or full)."""
    return (trained_model_dir(ckpt) / "config.json").is_file()


def _merge_to(dest: Path, base: str, adapter: Path, dtype: Any, tok: Any = None) -> None:
    from peft import PeftModel

    from msm.train.model_io import load_tokenizer

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

    ckpt = Path(ckpt)
    dest = trained_model_dir(ckpt)
    if has_merged_model(ckpt):
        return dest
    man = read_manifest(ckpt) or {}
    base = str(man.get("base_path") or "")
    adapter = ckpt / "adapter"
    if not base or not (adapter / "adapter_config.json").is_file():
        raise MsmError(f"{ckpt} is not an msm LoRA checkpoint with adapter/ (nothing to merge)")
    config = man.get("config") or {}
    precision = (man.get("hardware") or {}).get("precision")
    # as training's merge: a LoRA run in bf16 kept its frozen base in bf16
    bf16 = precision == "bf16" and config.get("method", "lora") != "full"
    tmp = ckpt / f".model.merging-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _merge_to(tmp, base, adapter, torch.bfloat16 if bf16 else torch.float32)
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
    ckpt = Path(ckpt)
    dest = trained_model_dir(ckpt)
    if has_merged_model(ckpt) and not (dest / ON_DEMAND).is_file():
        yield dest
        return
    if not has_merged_model(ckpt):
        if echo is not None:
            echo(f"merging {ckpt.name}/adapter into a model for this step (removed after it)")
        merge_adapter(ckpt, on_demand=True)
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)
