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


def prefix_cache(model: Any, ids: list[int]) -> Any:
    """The keys and values of one token sequence (a prompt head many prompts share)."""
    import torch

    dev = model.get_output_embeddings().weight.device
    with torch.inference_mode():
        return cache_of(model.base_model(input_ids=torch.tensor([ids], device=dev), use_cache=True))


def shared_prefill(model: Any, rows: list[list[int]], pad: int) -> tuple[Any, Any, Any] | None:
    """A batch of prompts prefilled with nothing computed twice, ready for ``generate``.

    Each prompt is laid out as [the head every prompt shares][padding][its own part], so
    all end at the last column; position ids (from the attention mask) run on over the
    padding exactly as in the prompt alone. The head runs once; each distinct prompt's
    own part (all but its last token) runs once from the head's keys and values, in
    groups of similar length (so one long prompt does not pad every other); the result
    is copied to every row that repeats that prompt. ``generate`` then runs only the last
    column. Returns (input ids, attention mask, cache), or None where this saves under a
    fifth of a plain left-padded batch (one prompt, or short distinct prompts).
    """
    import copy

    import torch

    index: dict[tuple[int, ...], int] = {}
    which = [index.setdefault(tuple(r), len(index)) for r in rows]
    distinct = [list(k) for k in index]
    width = max(len(r) for r in distinct)
    head = min(len(common_prefix(distinct)), min(len(r) for r in distinct) - 1)
    groups = _length_groups([len(r) for r in distinct])
    cost = head + sum(len(g) * (max(len(distinct[i]) for i in g) - 1 - head) for g in groups)
    plain = len(rows) * width
    if plain - (cost + len(rows)) < plain / 5:
        return None
    dev = model.get_output_embeddings().weight.device

    def layout(seqs: list[list[int]], w: int) -> tuple[Any, Any]:
        ids = torch.full((len(seqs), w), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), w), dtype=torch.long)
        for i, s in enumerate(seqs):
            own = len(s) - head
            ids[i, :head], ids[i, w - own :] = torch.tensor(s[:head]), torch.tensor(s[head:])
            mask[i, :head], mask[i, w - own :] = 1, 1
        return ids.to(dev), mask.to(dev)

    kw = cache_kwarg(model)
    with torch.inference_mode():
        head_cache = prefix_cache(model, distinct[0][:head]) if head else None
        parts = []  # (distinct indices, their width, their cache)
        for g in groups:
            w = max(len(distinct[i]) for i in g)
            cache = None
            if head_cache is not None:
                cache = copy.deepcopy(head_cache) if len(groups) > 1 else head_cache
                cache.batch_repeat_interleave(len(g))
            if w - 1 > head:
                ids_g, mask_g = layout([distinct[i] for i in g], w)
                pos = (mask_g.cumsum(-1) - 1).clamp(min=0)[:, head : w - 1]
                out = model.base_model(
                    input_ids=ids_g[:, head : w - 1],
                    attention_mask=mask_g[:, : w - 1],
                    position_ids=pos,
                    use_cache=True,
                    **({kw: cache} if cache is not None else {}),
                )
                cache = cache_of(out)
            parts.append((g, w, cache))
    if any(c is None for _, _, c in parts):  # one-token prompts: nothing to prefill
        return None
    cache = parts[0][2] if len(parts) == 1 else _assemble(parts, head, width)
    if cache is None:
        return None
    # the cache's rows are the distinct prompts in group order; each row of the batch
    # takes its prompt's
    at = {i: k for k, i in enumerate(i for g, _, _ in parts for i in g)}
    cache.batch_select_indices(torch.tensor([at[i] for i in which], device=dev))
    ids, mask = layout(rows, width)
    return ids, mask, cache


def _length_groups(lengths: list[int]) -> list[list[int]]:
    """Indices grouped longest first, each group at most a quarter longer than its
    shortest member."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if groups and lengths[groups[-1][0]] <= 1.25 * lengths[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _assemble(parts: list[tuple[list[int], int, Any]], head: int, width: int) -> Any:
    """One cache for all distinct prompts (in group order) from per-group caches of other
    widths: each group's keys and values get padding columns after the head (masked in
    ``generate``, as in the layout). Only for plain dynamic layers; else None."""
    import torch

    first = parts[0][2]
    layers = getattr(first, "layers", None)
    if not layers or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
        return None
    for li, layer in enumerate(layers):
        for name in ("keys", "values"):
            blocks = []
            for _, w, cache in parts:
                t = getattr(cache.layers[li], name)
                gap = t.new_zeros(t.shape[0], t.shape[1], width - w, t.shape[3])
                blocks.append(torch.cat([t[:, :, :head], gap, t[:, :, head:]], dim=2))
            setattr(layer, name, torch.cat(blocks))
    return first
