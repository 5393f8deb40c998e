"""What a call costs: list prices, prompt-cache prices and batch prices per model.

Read from ``msm/data/prices.yaml`` (or ``MSM_PRICES=/path/to/prices.yaml``). A model's
entry is ``[input, output]`` USD per million tokens, or a mapping with ``input``,
``output`` and optionally ``cache_read``, ``cache_write``, ``batch_input``,
``batch_output`` (USD per million tokens) and ``cache_min_tokens`` (the shortest prefix
the provider caches). What a model leaves out comes from its provider's entry under
``providers``: ``cache_read_ratio`` and ``cache_write_ratio`` (times the input price),
``batch_discount`` (the share taken off every token when batched) and
``cache_min_tokens``. A price found nowhere stays unknown (None), never a guess.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Price:
    """USD per million tokens of one model; None where unknown."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None
    cache_min_tokens: int | None = None


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


def _model_price(v: Any, prov: dict[str, Any]) -> Price:
    if isinstance(v, list | tuple):
        v = {"input": v[0], "output": v[1]}
    tin, tout = float(v["input"]), float(v["output"])
    read, write = _opt(v.get("cache_read")), _opt(v.get("cache_write"))
    if read is None and prov.get("cache_read_ratio") is not None:
        read = tin * float(prov["cache_read_ratio"])
    if write is None and prov.get("cache_write_ratio") is not None:
        write = tin * float(prov["cache_write_ratio"])
    bin_, bout = _opt(v.get("batch_input")), _opt(v.get("batch_output"))
    if prov.get("batch_discount") is not None:
        keep = 1.0 - float(prov["batch_discount"])
        bin_ = tin * keep if bin_ is None else bin_
        bout = tout * keep if bout is None else bout
    least = v.get("cache_min_tokens", prov.get("cache_min_tokens"))
    return Price(tin, tout, read, write, bin_, bout, None if least is None else int(least))


@lru_cache(maxsize=4)
def _price_table(override: str | None) -> tuple[dict[str, Price], tuple[str, ...]]:
    text = (
        Path(override).read_text(encoding="utf-8")
        if override
        else resources.files("msm").joinpath("data/prices.yaml").read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text) or {}
    providers = data.get("providers") or {}
    models = {
        str(k): _model_price(v, providers.get(str(k).split("/", 1)[0]) or {})
        for k, v in (data.get("models") or {}).items()
    }
    return models, tuple(data.get("free_prefixes") or ())


FREE = Price(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def model_price(model: str) -> Price | None:
    """The model's prices, or None when unknown. Local models cost nothing per token.

    Dated snapshots (``...-20250929``) fall back to their undated family name.
    """
    models, free = _price_table(os.environ.get("MSM_PRICES") or None)
    if model in free or any(model.startswith(p) for p in free if p.endswith(("/", ":"))):
        return FREE
    if model in models:
        return models[model]
    base = model.rsplit("-", 1)[0]
    if base != model and model.rsplit("-", 1)[1].isdigit():
        return models.get(base)
    return None


def priced_lookalike(model: str) -> str | None:
    """A priced model whose name ``model`` nearly spells (``claude-sonet-4-5``), when
    ``model`` itself has no price; None otherwise."""
    if model_price(model) is not None:
        return None
    models, _ = _price_table(os.environ.get("MSM_PRICES") or None)
    same = [m for m in models if m.split("/", 1)[0] == model.split("/", 1)[0]]
    close = difflib.get_close_matches(model, same, n=1, cutoff=0.9)
    return close[0] if close else None


def price_per_mtok(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens at list price, or None when unknown."""
    p = model_price(model)
    return None if p is None else (p.input, p.output)


def cost_usd(model: str, *tokens: Any, **how: Any) -> float | None:
    """Dollars for calls of ``model`` (the arguments of :func:`price_cost` after its price):
    None where a price that applies is unknown."""
    p = model_price(model)
    return None if p is None else price_cost(p, *tokens, **how)


def price_cost(
    p: Price,
    input_tokens: int,
    output_tokens: int,
    cache_read: int | None = None,
    cache_write: int | None = None,
    batch: bool = False,
) -> float | None:
    """Dollars for calls at price ``p``: ``input_tokens`` counts every input token, of which
    ``cache_read`` were read from and ``cache_write`` written to the prompt cache; ``batch``:
    sent through the provider's batch API. None where a price that applies is unknown."""
    read, write = cache_read or 0, cache_write or 0
    if (read and p.cache_read is None) or (write and p.cache_write is None):
        return None
    # batch and cache discounts stack: the batch share applies to cache prices too
    scale_in = scale_out = 1.0
    if batch:
        if p.batch_input is None or p.batch_output is None:
            return None
        scale_in = p.batch_input / p.input if p.input else 0.0
        scale_out = p.batch_output / p.output if p.output else 0.0
    full = max(0, input_tokens - read - write)
    usd = full * p.input * scale_in + output_tokens * p.output * scale_out
    usd += read * (p.cache_read or 0.0) * scale_in + write * (p.cache_write or 0.0) * scale_in
    return usd / 1_000_000


def projected_cache(model: str, prefixes: list[list[int]] | None) -> tuple[int, int]:
    """(cache read, cache write) input tokens projected for calls of ``model``.

    ``prefixes``: [calls, tokens] for each group of calls that open with the same system
    message of that many tokens. A group is cached when its prefix reaches the model's
    shortest cached prefix and the cache-read price is known: the first call writes it and
    every later one reads it (Anthropic keeps a prefix about 5 minutes from its last use,
    and a stage's calls follow each other closely). Elsewhere nothing is projected as cached,
    so the input is priced in full: an upper bound.
    """
    p = model_price(model)
    if not prefixes or p is None or p.cache_read is None or p.cache_min_tokens is None:
        return 0, 0
    read = write = 0
    for calls, tokens in prefixes:
        if calls > 0 and tokens >= p.cache_min_tokens:
            write += tokens
            read += (calls - 1) * tokens
    return read, write
