"""Finding and loading base models, msm checkpoints and adapters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.manifest import read_manifest

TRAIN_STAGES = ("train-midtrain", "train-aft")


@dataclass
class BaseSpec:
    """What to load: a plain model folder/id, plus an adapter to continue (or not)."""

    model: str  # folder or hub id of a full model
    adapter: str | None  # LoRA adapter folder to keep training
    lineage: dict[str, Any]  # manifest of an msm checkpoint used as base, if any


def _is_model_folder(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file()


def _hub_cached(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return False
    try:
        hit = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id
        return False
    return isinstance(hit, str)


def resolve_base(base: str, method: str, fresh_adapter: bool, adapter: str | None) -> BaseSpec:
    """Turn ``--base`` (and ``--adapter``) into concrete folders, or one clear error."""
    from msm.models import EMBEDDED_NAME, embedded_model_dir

    lineage: dict[str, Any] = {}
    if base == EMBEDDED_NAME:
        model = str(embedded_model_dir())
        cont = None
    else:
        p = Path(base).expanduser()
        man = read_manifest(p) if p.is_dir() else None
        if man is not None and man.get("stage") in TRAIN_STAGES:
            lineage = man
            cont = str(p / "adapter") if (p / "adapter").is_dir() else None
            if cont and not (method == "full" or fresh_adapter):
                model = str(man.get("base_path") or "")
                if not _is_model_folder(Path(model)):
                    raise MsmError(
                        f"checkpoint {p} continues an adapter on base {model!r}, which is gone; "
                        "use --fresh-adapter to start a new adapter on its merged model"
                    )
            elif _is_model_folder(p / "model"):
                model, cont = str(p / "model"), None
            else:
                raise MsmError(f"checkpoint {p} has no model/ folder (trained with --no-merge?)")
        elif _is_model_folder(p):
            model, cont = str(p.resolve()), None
        elif p.exists():
            raise MsmError(f"base model folder {p} has no config.json")
        elif _hub_cached(base):
            model, cont = base, None
        else:
            raise MsmError(
                f"base model not found: {base!r} is not a folder, not 'embedded', and not in the "
                "local Hugging Face cache (msm runs offline; download it first)"
            )
    if adapter is not None:
        ap = Path(adapter).expanduser()
        if not (ap / "adapter_config.json").is_file():
            raise MsmError(f"adapter folder {ap} has no adapter_config.json")
        cont = str(ap)
    return BaseSpec(model=model, adapter=cont, lineage=lineage)


def load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model)
    except Exception as e:  # noqa: BLE001 - many loader errors
        raise MsmError(f"cannot load the tokenizer of {model}: {_first_line(e)}") from e
    return tok


def load_model(model: str, dtype: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        m = AutoModelForCausalLM.from_pretrained(model, dtype=dtype, attn_implementation="sdpa")
    except Exception as e:  # noqa: BLE001
        raise MsmError(f"cannot load base model {model}: {_first_line(e)}") from e
    if getattr(m.config, "quantization_config", None):
        raise MsmError(f"base model {model} is quantized; msm trains unquantized weights")
    m.config.use_cache = False
    return m


def attach_adapter(model: Any, cfg: Any, adapter: str | None) -> Any:
    """Continue ``adapter`` (trainable) or add a fresh LoRA adapter."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if adapter is not None:
        try:
            return PeftModel.from_pretrained(model, adapter, is_trainable=True)
        except Exception as e:  # noqa: BLE001 - size mismatches, missing modules...
            raise MsmError(
                f"adapter {adapter} does not fit the base model: {_first_line(e)}"
            ) from e
    lcfg = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lcfg)
    except ValueError as e:
        raise MsmError(f"cannot add a LoRA adapter: {_first_line(e)}") from e


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] if text else type(e).__name__
