"""Keys and values computed once and reused: what local generation and log-likelihood
scoring share, across the transformers versions msm allows (>=5.0)."""

from __future__ import annotations

import inspect
from typing import Any


def cache_kwarg(model: Any) -> str:
    """The forward argument that takes a KV cache: ``cache`` in newer transformers (5.24),
    ``past_key_values`` in older ones (5.17, as on the lent GPU machines)."""
    params = inspect.signature(model.base_model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_of(out: Any) -> Any:
    """The KV cache a forward pass returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def common_prefix(seqs: list[list[int]]) -> list[int]:
    """The longest list every sequence starts with."""
    if not seqs:
        return []
    first, n = seqs[0], min(len(s) for s in seqs)
    k = 0
    while k < n and all(s[k] == first[k] for s in seqs):
        k += 1
    return first[:k]


def shared_prefill(model: Any, rows: list[list[int]], pad: int) -> tuple[Any, Any, Any] | None:
    """A batch of prompts prefilled with nothing computed twice, ready for ``generate``.

    Each prompt is laid out as [the head every prompt shares][padding][its own part], so
    all end at the last column; position ids (from the attention mask) run on over the
    padding exactly as in the prompt alone. The head runs once; each distinct prompt's
    own part (all but its last token) runs once from the head's keys and values; the
    result is copied to every row that repeats that prompt. ``generate`` then runs only
    the last column. Returns (input ids, attention mask, cache), or None where this saves
    under a fifth of a plain left-padded batch (one prompt, or short distinct prompts).
    """
    import torch

    index: dict[tuple[int, ...], int] = {}
    which = [index.setdefault(tuple(r), len(index)) for r in rows]
    distinct = [list(k) for k in index]
    width = max(len(r) for r in distinct)
    head = min(len(common_prefix(distinct)), min(len(r) for r in distinct) - 1)
    plain = len(rows) * width
    if plain - (head + len(distinct) * (width - 1 - head) + len(rows)) < plain / 5:
        return None
    dev = model.get_output_embeddings().weight.device

    def layout(seqs: list[list[int]]) -> tuple[Any, Any]:
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            own = len(s) - head
            ids[i, :head], ids[i, width - own :] = torch.tensor(s[:head]), torch.tensor(s[head:])
            mask[i, :head], mask[i, width - own :] = 1, 1
        return ids.to(dev), mask.to(dev)

    ids_u, mask_u = layout(distinct)
    kw = cache_kwarg(model)
    cache: Any = None
    with torch.inference_mode():
        if head:
            cache = cache_of(model.base_model(input_ids=ids_u[:1, :head], use_cache=True))
            cache.batch_repeat_interleave(len(distinct))
        if width - 1 > head:
            pos = (mask_u.cumsum(-1) - 1).clamp(min=0)[:, head : width - 1]
            out = model.base_model(
                input_ids=ids_u[:, head : width - 1],
                attention_mask=mask_u[:, : width - 1],
                position_ids=pos,
                use_cache=True,
                **({kw: cache} if cache is not None else {}),
            )
            cache = cache_of(out)
    if cache is None:
        return None
    cache.batch_select_indices(torch.tensor(which, device=dev))
    ids, mask = layout(rows)
    return ids, mask, cache
