"""Finding and loading base models, msm checkpoints and adapters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.artifacts.manifest import read_manifest
from msm.errors import MsmError

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
    from msm.llm.bundled import EMBEDDED_NAME, embedded_model_dir

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
                if not (_is_model_folder(Path(model)) or _hub_cached(model)):
                    raise MsmError(
                        f"checkpoint {p} continues an adapter on base {model!r}, which is gone; "
                        "use --fresh-adapter to start a new adapter on its merged model"
                    )
            elif _is_model_folder(p / "model"):
                model, cont = str(p / "model"), None
            elif cont:  # saved as an adapter only: merge it now, kept as this base's model
                from msm.train.checkpoint import merge_adapter

                model, cont = str(merge_adapter(p)), None
            else:
                raise MsmError(f"checkpoint {p} has neither model/ nor adapter/")
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


@dataclass
class ModelFacts:
    """A model's size, read without loading it: parameters and bytes per parameter on disk.

    ``source`` says where the numbers come from (``config.json``, the weights' index, the
    name): a dry run prints it beside every projection made from them.
    """

    params: int | None
    bytes_per_param: int
    source: str
    config: dict[str, Any]


_SIZE_IN_NAME = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")
_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def _config_file(base: str) -> Path | None:
    from msm.llm.bundled import EMBEDDED_NAME, embedded_model_dir

    if base == EMBEDDED_NAME:
        try:
            return embedded_model_dir(convert=False) / "config.json"
        except MsmError:  # not converted yet: the dry run does not convert it
            return None
    p = Path(base).expanduser()
    if p.is_dir():
        man = read_manifest(p)
        if man is not None and man.get("stage") in TRAIN_STAGES:
            return _config_file(str(man.get("base_path") or ""))
        return p / "config.json" if (p / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(base, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id
        return None
    return Path(hit) if isinstance(hit, str) else None


def params_from_config(c: dict[str, Any]) -> int | None:
    """Parameters of a dense decoder (Llama, Qwen, Mistral style) from its config."""
    try:
        h, n_layers, inter = (
            int(c["hidden_size"]),
            int(c["num_hidden_layers"]),
            int(c["intermediate_size"]),
        )
        vocab, heads = int(c["vocab_size"]), int(c["num_attention_heads"])
    except (KeyError, TypeError, ValueError):
        return None
    head_dim = int(c.get("head_dim") or h // heads)
    kv = int(c.get("num_key_value_heads") or heads)
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2
    per_layer = attn + 3 * h * inter + 2 * h
    embed = vocab * h * (1 if c.get("tie_word_embeddings", False) else 2)
    return n_layers * per_layer + embed + h


def model_facts(base: str) -> ModelFacts:
    """Size facts of ``base`` (``embedded``, a folder, an msm checkpoint, a hub id): from its
    ``config.json`` where found locally, else from a size in its name (``Qwen3-32B``)."""
    import json

    path = _config_file(base)
    config: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            config = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            config = {}
    width = _BYTES.get(str(config.get("torch_dtype") or config.get("dtype") or ""), 2)
    params = params_from_config(config) if config else None
    if params is not None:
        return ModelFacts(params, width, "config.json", config)
    m = _SIZE_IN_NAME.search(Path(base).name)
    if m:
        return ModelFacts(int(float(m.group(1)) * 1e9), 2, "guess from the name", config)
    return ModelFacts(None, width, "unknown size", config)
