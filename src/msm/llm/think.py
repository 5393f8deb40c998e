"""``<think>`` handling: AFT with reasoning and AFT with the reasoning stripped; reasoning
models' answers read by stages that want the answer only (documents, parsed lists, judges)."""

from __future__ import annotations

import re

_OPEN = re.compile(r"<think>", re.I)
_CLOSE = re.compile(r"</think>", re.I)


def strip_think(text: str) -> str:
    """Remove every ``<think>...</think>`` block, nested ones included.

    An unclosed ``<think>`` removes everything after it (a reasoning block that
    never ended is not an answer); a stray ``</think>`` without an opener
    removes everything before it (the reasoning whose opener was lost).
    Repeats until nothing changes, so tags rebuilt from the pieces around a
    removed block (``<thi<think>..</think>nk>``) go too, and stripping twice
    changes nothing.
    """
    while True:
        out = _strip_once(text)
        if out == text:
            return out
        text = out


def _strip_once(text: str) -> str:
    out: list[str] = []
    depth = 0
    pos = 0
    tokens = sorted(
        [(m.start(), m.end(), +1) for m in _OPEN.finditer(text)]
        + [(m.start(), m.end(), -1) for m in _CLOSE.finditer(text)]
    )
    for start, end, kind in tokens:
        if kind > 0:
            if depth == 0:
                out.append(text[pos:start])
            depth += 1
        elif depth > 0:
            depth -= 1
        else:
            out = []  # a closer without an opener: what came before was reasoning
        pos = end if depth == 0 else pos
    if depth == 0:
        out.append(text[pos:])
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()


def has_think(text: str) -> bool:
    """True if the text contains a complete reasoning block."""
    return bool(re.search(r"<think>.*?</think>", text, re.I | re.S))


def strip_reasoning(text: str) -> str:
    """The answer without its reasoning, for stages that read the answer only.

    A reasoning model's stored answer keeps its ``<think>`` block (aftgen needs it);
    documents, list and JSON parsers and judges must not read it as the answer. Text
    with no think tag is returned unchanged, byte for byte.
    """
    return strip_think(text) if _ANY_TAG.search(text) else text


_ANY_TAG = re.compile(r"</?think>", re.I)
