"""Base models for training, resolved without Inspect: ``embedded``, a model folder, an msm
checkpoint (its merged model, or its base and adapter to continue) or a cached hub id.

Training runs on GPU machines that may not have Inspect or the API clients installed, so
this lives apart from :mod:`msm.llm.names` (which resolves every provider and pulls
Inspect); both read checkpoints through :mod:`msm.artifacts.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.artifacts.checkpoint import Checkpoint, is_training_manifest
from msm.errors import MsmError
from msm.llm.bundled import EMBEDDED_NAME, embedded_model_dir


def model_folder(path: str | Path) -> Path | None:
    """The Hugging Face folder a path names: the folder itself (it has ``config.json``), or
    the merged ``model/`` of an msm training checkpoint; None when it is neither."""
    p = Path(path).expanduser()
    if not p.is_dir():
        return None
    ckpt = Checkpoint(p)
    if ckpt.is_training_output():
        return ckpt.model_dir if ckpt.has_model() else None
    return p if (p / "config.json").is_file() else None


@dataclass
class BaseSpec:
    """What to load: a plain model folder/id, plus an adapter to continue (or not)."""

    model: str  # folder or hub id of a full model
    adapter: str | None  # LoRA adapter folder to keep training
    lineage: dict[str, Any]  # manifest of an msm checkpoint used as base, if any


HF_PREFIX = "hf/"  # a local folder or cached hub id, in every command's model names


def _is_model_folder(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file()


def hub_config_file(name: str) -> Path | None:
    """``config.json`` of hub id ``name`` in the local Hugging Face cache (None: not cached,
    or not a valid repo id); msm runs offline, so the cache is the hub."""
    try:
        from huggingface_hub import try_to_load_from_cache  # lazy: a heavy package
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    try:
        hit = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id
        return None
    return Path(hit) if isinstance(hit, str) else None


def _from_checkpoint(
    ckpt: Checkpoint, method: str, fresh_adapter: bool, merge: Callable[[Path], Path]
) -> tuple[str, str | None]:
    """(model, adapter to continue) of an msm checkpoint used as a base; ``merge`` writes
    the merged model of a checkpoint that saved only its adapter."""
    cont = str(ckpt.adapter_dir) if ckpt.adapter_dir.is_dir() else None
    if cont and not (method == "full" or fresh_adapter):
        model = ckpt.base_path()
        if not (_is_model_folder(Path(model)) or hub_config_file(model) is not None):
            raise MsmError(
                f"checkpoint {ckpt.root} continues an adapter on base {model!r}, which is "
                "gone; use --fresh-adapter to start a new adapter on its merged model"
            )
        return model, cont
    if _is_model_folder(ckpt.model_dir):
        return str(ckpt.model_dir), None
    if cont:  # saved as an adapter only: merge it now, kept as this base's model
        return str(merge(ckpt.root)), None
    raise MsmError(f"checkpoint {ckpt.root} has neither model/ nor adapter/")


def resolve_base(
    base: str,
    method: str,
    fresh_adapter: bool,
    adapter: str | None,
    merge: Callable[[Path], Path],
) -> BaseSpec:
    """Turn training's ``--base`` (and ``--adapter``) into concrete folders, or one clear
    error. ``merge`` is training's adapter merge (torch and peft live in the train stage)."""
    lineage: dict[str, Any] = {}
    base = base.removeprefix(HF_PREFIX)  # hf/<folder-or-id>, as eval and generation take it
    if base == EMBEDDED_NAME:
        model, cont = str(embedded_model_dir()), None
    else:
        p = Path(base).expanduser()
        ckpt = Checkpoint(p)
        man = ckpt.manifest()
        if is_training_manifest(man):
            lineage = man or {}
            model, cont = _from_checkpoint(ckpt, method, fresh_adapter, merge)
        elif _is_model_folder(p):
            model, cont = str(p.resolve()), None
        elif p.exists():
            raise MsmError(f"base model folder {p} has no config.json")
        elif hub_config_file(base) is not None:
            model, cont = base, None
        else:
            raise MsmError(
                f"base model not found: {base!r} is not a folder, not 'embedded', and not in "
                "the local Hugging Face cache (msm runs offline; download it first)"
            )
    if adapter is not None:
        ap = Path(adapter).expanduser()
        if not (ap / "adapter_config.json").is_file():
            raise MsmError(f"adapter folder {ap} has no adapter_config.json")
        cont = str(ap)
    return BaseSpec(model=model, adapter=cont, lineage=lineage)


def base_config_file(base: str) -> Path | None:
    """``config.json`` of a base model name (``embedded``, a folder, an msm checkpoint: its
    base, a cached hub id) without converting or downloading anything; None if not found."""
    base = base.removeprefix(HF_PREFIX)
    if base == EMBEDDED_NAME:
        try:
            return embedded_model_dir(convert=False) / "config.json"
        except MsmError:  # not converted yet: a dry run does not convert it
            return None
    p = Path(base).expanduser()
    if p.is_dir():
        ckpt = Checkpoint(p)
        if ckpt.is_training_output():
            return base_config_file(ckpt.base_path())
        return p / "config.json" if (p / "config.json").is_file() else None
    return hub_config_file(base)
