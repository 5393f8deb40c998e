"""Loading base models, tokenizers and adapters (names are resolved by
:mod:`msm.llm.names`), and a model's size read without loading it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.llm.bases import base_config_file


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
    path = base_config_file(base)
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
