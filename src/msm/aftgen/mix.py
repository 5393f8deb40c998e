"""Mixing general instruction data into AFT (keeps a model coherent)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.records import read_jsonl, to_messages

MAX_MIX_BYTES = 2 * 1024**3


def read_mix(path: str | Path) -> list[list[dict[str, str]]]:
    """Read an instruction-tuning JSONL file; one clear error for a wrong format."""
    p = Path(path)
    rows = []
    for lineno, obj in read_jsonl(p, "mix file", max_bytes=MAX_MIX_BYTES):
        msgs = to_messages(obj)
        if msgs is None:
            raise MsmError(
                f"{p}:{lineno}: expected {{'messages': [...]}} ending with an assistant "
                "turn, or prompt/response or instruction/output fields"
            )
        rows.append(msgs)
    if not rows:
        raise MsmError(f"mix file has no examples: {p}")
    return rows


def mix_in(
    rows: list[dict[str, Any]], mix: list[list[dict[str, str]]], ratio: float, seed: int
) -> tuple[list[dict[str, Any]], int]:
    """Add round(ratio * len(rows)) mix examples (sampled without replacement when possible)."""
    if ratio < 0:
        raise MsmError("--mix-ratio must be >= 0")
    k = round(ratio * len(rows))
    rng = random.Random(seed)
    picked = rng.sample(mix, k) if k <= len(mix) else [rng.choice(mix) for _ in range(k)]
    extra = [{"messages": m, "meta": {"source": "mix"}} for m in picked]
    return rows + extra, k
