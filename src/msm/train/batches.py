"""From the stage's data files to the rows of each optimizer step."""

from __future__ import annotations

import math
import random
from typing import Any

from msm._util.records import read_jsonl, read_mix
from msm.errors import MsmError
from msm.train.config import TrainConfig
from msm.train.data import (
    IGNORE,
    DataStats,
    Row,
    chat_segments,
    document_segments,
    read_chats,
    read_documents,
)


def read_stage_data(cfg: TrainConfig) -> tuple[list[Any], list[Any]]:
    """The stage's rows and mix-in rows, read and checked: documents (midtrain) or chats (AFT).

    Cheap and model-free, so bad data fails before any library or model loads.
    """
    if cfg.stage == "midtrain":
        texts = read_documents(cfg.data)
        mix_texts: list[str] = []
        if cfg.mix:
            for lineno, obj in read_jsonl(cfg.mix, "mix file"):
                if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                    mix_texts.append(obj["text"])
                else:
                    raise MsmError(f"{cfg.mix}:{lineno}: expected an object with a string 'text'")
        return texts, mix_texts
    return read_chats(cfg.data), read_mix(cfg.mix) if cfg.mix else []


def build_segments(
    cfg: TrainConfig,
    tok: Any,
    stats: DataStats,
    data: tuple[list[Any], list[Any]] | None = None,
) -> list[Any]:
    """Tokenised segments for the stage, mix-in included (``data``: from read_stage_data)."""
    rows, mix_rows = data if data is not None else read_stage_data(cfg)
    if cfg.stage == "midtrain":
        texts = rows
        stats.examples = len(texts)
        segs = document_segments(texts, tok, cfg.max_length, stats)
        if cfg.mix:
            picked = _sample(mix_rows, cfg.mix_ratio, len(texts), cfg.seed)
            stats.mix_examples = len(picked)
            segs += document_segments(picked, tok, cfg.max_length, stats)
        return segs
    chats = rows
    stats.examples = len(chats)
    if cfg.mix:
        picked_chats = _sample(mix_rows, cfg.mix_ratio, len(chats), cfg.seed)
        stats.mix_examples = len(picked_chats)
        chats = chats + picked_chats
    segs = chat_segments(chats, tok, cfg.max_length, stats, cfg.system_prompt)
    if not segs:
        if stats.dropped_too_long:
            raise MsmError(
                f"every example is longer than --max-length {cfg.max_length} tokens "
                f"({stats.dropped_too_long} of {len(chats)}); raise --max-length"
            )
        raise MsmError("no example has assistant tokens to learn from")
    return segs


def _sample(items: list[Any], ratio: float, n: int, seed: int) -> list[Any]:
    k = round(ratio * n)
    rng = random.Random(seed + 7919)
    if not items or k == 0:
        return []
    return rng.sample(items, k) if k <= len(items) else [rng.choice(items) for _ in range(k)]


def plan_rows(rows: list[Row], cfg: TrainConfig, world: int) -> tuple[list[Row], int, int]:
    """Row order over all epochs, padded to whole global batches; (rows, steps, global batch)."""
    g = cfg.micro_batch_size * cfg.grad_accum * world
    per_epoch = math.ceil(len(rows) / g)
    steps = max(1, math.ceil(cfg.epochs * per_epoch))
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    if cfg.max_tokens:
        steps = min(steps, max(1, math.ceil(cfg.max_tokens / (g * cfg.max_length))))
    plan: list[Row] = []
    epoch = 0
    while len(plan) < steps * g:
        order = list(rows)
        if epoch:
            random.Random(cfg.seed * 1000 + epoch).shuffle(order)
        pad = per_epoch * g - len(order)
        filler = Row([0] * cfg.max_length, [IGNORE] * cfg.max_length, list(range(cfg.max_length)))
        plan += order + [filler] * pad
        epoch += 1
    return plan[: steps * g], steps, g
