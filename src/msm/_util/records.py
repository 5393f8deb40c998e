"""JSONL records shared by stages: one reader with one-line errors, chat records, and the
instruction data mixed into AFT.

The lowest layer for data files: aftgen, train and the evals read through here,
so a bad line is reported the same way (``file:line: ...``) everywhere.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msm.errors import MsmError

MAX_DATA_BYTES = 8 * 1024**3


def read_jsonl(
    path: str | Path, what: str, max_bytes: int = MAX_DATA_BYTES
) -> Iterator[tuple[int, Any]]:
    """(line number, object) for each non-blank line; one clear error for bad input."""
    p = Path(path)
    if not p.is_file():
        raise MsmError(f"{what} not found (or not a file): {p}")
    if p.stat().st_size > max_bytes:
        raise MsmError(f"{what} is too large (> {max_bytes / 1024**3:g} GiB): {p}")
    try:
        with p.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as e:
                    raise MsmError(f"{p}:{lineno}: not valid JSON ({e.msg})") from e
    except UnicodeDecodeError as e:
        raise MsmError(f"{what} is not valid UTF-8: {p}") from e


def to_messages(obj: Any) -> list[dict[str, str]] | None:
    """Accept TRL messages format, or prompt/response and instruction/output pairs."""
    if isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        msgs = obj["messages"]
        ok = all(
            isinstance(m, dict)
            and m.get("role") in ("system", "user", "assistant")
            and isinstance(m.get("content"), str)
            for m in msgs
        )
        if ok and msgs and msgs[-1]["role"] == "assistant":
            return [{"role": m["role"], "content": m["content"]} for m in msgs]
        return None
    for q, a in (("prompt", "response"), ("instruction", "output"), ("prompt", "completion")):
        if isinstance(obj, dict) and isinstance(obj.get(q), str) and isinstance(obj.get(a), str):
            return [{"role": "user", "content": obj[q]}, {"role": "assistant", "content": obj[a]}]
    return None


# -- instruction data mixed into AFT (keeps a model coherent): read by aftgen and train --

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
