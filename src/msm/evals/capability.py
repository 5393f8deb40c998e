"""Capability check: perplexity of held-out general prose (catches midtraining damage).

Perplexity needs the probability of given text, which chat APIs don't return,
so this suite runs on local models (``embedded``, ``hf/<folder>``) only; the ``fake``
model gets a pseudo-perplexity from a hash, for dry runs. The text
(``data/evals/capability/heldout.txt``) was written for msm and avoids the topics msm
trains on (AI, specs, values, cheese, America).
"""

from __future__ import annotations

import hashlib
import math
import time
from importlib import resources
from typing import Any

from msm.errors import MsmError
from msm.llm.names import resolve_model


def heldout_text() -> str:
    ref = resources.files("msm") / "data" / "evals" / "capability" / "heldout.txt"
    return ref.read_text(encoding="utf-8")


def perplexity(model_path: str, text: str, window: int = 1024) -> dict[str, Any]:
    """Token perplexity; windows overlap by one token, so each token after the first counts once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    ids = tok(text, add_special_tokens=False).input_ids
    if len(ids) < 2:
        raise MsmError("held-out text is too short for a perplexity")
    nll, n = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, window - 1):
            chunk = torch.tensor([ids[start : start + window]])
            if chunk.shape[1] < 2:
                break
            logits = model(input_ids=chunk, use_cache=False).logits[0, :-1].float()
            nll += float(torch.nn.functional.cross_entropy(logits, chunk[0, 1:], reduction="sum"))
            n += chunk.shape[1] - 1
    return {
        "perplexity": math.exp(nll / n),
        "nll_per_token": nll / n,
        "tokens": n,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def fake_perplexity(text: str) -> dict[str, Any]:
    """The ``fake`` model's stand-in for :func:`perplexity`, so the suite runs offline.

    Each whitespace-separated word after the first gets a pseudo log-probability in
    [-5, -1] from a hash of it and the word before: deterministic, and no measurement
    of anything. The result says ``fake: true``.
    """
    words = text.split()
    if len(words) < 2:
        raise MsmError("held-out text is too short for a perplexity")
    nll = 0.0
    for prev, word in zip(words, words[1:], strict=False):
        digest = hashlib.sha256(f"{prev}\x1f{word}".encode()).digest()
        nll += 1.0 + 4.0 * int.from_bytes(digest[:4], "big") / 2**32
    n = len(words) - 1
    return {"perplexity": math.exp(nll / n), "nll_per_token": nll / n, "tokens": n, "fake": True}


def local_model_path(name: str) -> str:
    r = resolve_model(name)
    path = r.model_args.get("model_path") if r.local else None
    if not path:
        raise MsmError(
            f"the capability suite (perplexity) needs a local model (embedded or hf/<folder>), "
            f"not {name!r}"
        )
    return str(path)
