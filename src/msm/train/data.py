"""Training data: tokenised segments, label masks and packing.

A *segment* is one training sequence of at most ``max_length`` tokens with its
labels (``-100`` = no loss). Segments are packed into rows of exactly
``max_length`` tokens by best-fit decreasing; each segment's position ids start
at 0. Transformers reads restarting position ids (with no attention mask and
no KV cache) as packed sequences and builds a block-diagonal causal mask, so a
token never attends to another segment (``tests/unit/test_train_data.py``
checks logits of a packed row against each document alone). Padding at a
row's end is its own segment with no labels.

Labels follow the Hugging Face convention: ``labels[i]`` is the token at
position ``i``; the loss compares the prediction at ``i - 1`` with it. The
first token of every segment is context only (a document-start marker, or the
last token of the previous chunk of a split document), so across a split
document every token is predicted exactly once.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm._util.records import read_jsonl, to_messages
from msm.errors import MsmError

IGNORE = -100


@dataclass
class Segment:
    ids: list[int]
    labels: list[int]


@dataclass
class DataStats:
    """Counts reported in the manifest: nothing is dropped or cut silently."""

    examples: int = 0
    mix_examples: int = 0
    segments: int = 0
    split_examples: int = 0
    extra_chunks: int = 0
    dropped_too_long: int = 0
    dropped_no_labels: int = 0
    input_tokens: int = 0
    label_tokens: int = 0
    rows: int = 0
    padding_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        total = self.rows and (self.input_tokens + self.padding_tokens)
        d["padding_fraction"] = round(self.padding_tokens / total, 5) if total else 0.0
        return d


@dataclass
class Row:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]

    @property
    def n_labels(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def read_documents(path: str | Path) -> list[str]:
    """Texts of a docgen ``documents.jsonl`` (or any JSONL of ``{"text": ...}``)."""
    texts = []
    for lineno, obj in read_jsonl(path, "documents file"):
        text = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(text, str):
            raise MsmError(f"{path}:{lineno}: expected an object with a string field 'text'")
        if text.strip():
            texts.append(text)
    if not texts:
        raise MsmError(f"documents file has no documents: {path}")
    return texts


def read_chats(path: str | Path) -> list[list[dict[str, str]]]:
    """Conversations of an aftgen ``cot.jsonl``/``stripped.jsonl`` (TRL messages format)."""
    rows = []
    for lineno, obj in read_jsonl(path, "AFT data file"):
        msgs = to_messages(obj)
        if msgs is None:
            raise MsmError(
                f"{path}:{lineno}: expected {{'messages': [...]}} with user/assistant turns "
                "ending in an assistant turn (or prompt/response fields)"
            )
        rows.append(msgs)
    if not rows:
        raise MsmError(f"AFT data file has no examples: {path}")
    return rows


def _start_token(tok: Any) -> int:
    """The context-only token that opens each document."""
    probe = tok("a", add_special_tokens=True).input_ids
    if tok.bos_token_id is not None and probe and probe[0] == tok.bos_token_id:
        return int(tok.bos_token_id)
    if tok.eos_token_id is None:
        raise MsmError("the tokenizer has neither a BOS nor an EOS token")
    return int(tok.eos_token_id)


def document_segments(
    texts: Sequence[str], tok: Any, max_length: int, stats: DataStats
) -> list[Segment]:
    """``[start] + tokens + [EOS]`` per document; long ones split with a 1-token overlap."""
    if tok.eos_token_id is None:
        raise MsmError("the tokenizer has no EOS token; documents need one between them")
    start, eos = _start_token(tok), int(tok.eos_token_id)
    out: list[Segment] = []
    enc = tok(list(texts), add_special_tokens=False).input_ids
    for ids in enc:
        seq = [start, *ids, eos]
        if len(seq) <= max_length:
            out.append(Segment(seq, [IGNORE, *seq[1:]]))
        else:
            stats.split_examples += 1
            pos = 0
            while pos < len(seq) - 1:
                chunk = seq[pos : pos + max_length]
                out.append(Segment(chunk, [IGNORE, *chunk[1:]]))
                pos += max_length - 1
                stats.extra_chunks += 1
            stats.extra_chunks -= 1
    return out


def _render(tok: Any, msgs: list[dict[str, str]], gen: bool) -> str:
    try:
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
    except Exception as e:  # noqa: BLE001 - jinja errors vary
        raise MsmError(f"the chat template failed: {' '.join(str(e).split())[:200]}") from e
    return str(text)


def assistant_spans(tok: Any, msgs: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of assistant turns.

    Each assistant turn is located by rendering the conversation up to it (with
    the generation prompt) and through it; the difference is the turn, end-of-
    turn marker included. Works for any template that renders earlier turns the
    same when later ones are added; others fail with a clear error.
    """
    full = _render(tok, msgs, gen=False)
    spans = []
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        before = _render(tok, msgs[:i], gen=True)
        through = _render(tok, msgs[: i + 1], gen=False)
        if not (through.startswith(before) and full.startswith(through)):
            raise MsmError(
                "the chat template renders earlier turns differently once later turns are "
                f"added (assistant turn {i}); use single-turn examples with this template"
            )
        if len(through) > len(before):
            spans.append((len(before), len(through)))
    return full, spans


def chat_segment(tok: Any, msgs: list[dict[str, str]]) -> Segment:
    """One conversation: chat template applied, labels only on assistant tokens."""
    text, spans = assistant_spans(tok, msgs)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    starts = [s for s, _ in spans]
    labels = []
    for tid, (a, _b) in zip(ids, offsets, strict=True):
        k = bisect.bisect_right(starts, a) - 1
        inside = k >= 0 and spans[k][0] <= a < spans[k][1]
        labels.append(int(tid) if inside else IGNORE)
    return Segment([int(x) for x in ids], labels)


def chat_segments(
    chats: Sequence[list[dict[str, str]]],
    tok: Any,
    max_length: int,
    stats: DataStats,
    system_prompt: str | None = None,
) -> list[Segment]:
    if getattr(tok, "chat_template", None) is None:
        raise MsmError("the base model's tokenizer has no chat template; AFT needs one")
    out = []
    for msgs in chats:
        if system_prompt and msgs[0]["role"] != "system":
            msgs = [{"role": "system", "content": system_prompt}, *msgs]
        seg = chat_segment(tok, msgs)
        if len(seg.ids) > max_length:
            stats.dropped_too_long += 1
            continue
        if all(x == IGNORE for x in seg.labels):
            stats.dropped_no_labels += 1
            continue
        out.append(seg)
    return out


def pack(segments: Sequence[Segment], max_length: int, pad_id: int, seed: int) -> list[Row]:
    """Best-fit-decreasing packing into rows of ``max_length``; rows shuffled by seed."""
    rng = random.Random(seed)
    order = list(range(len(segments)))
    rng.shuffle(order)
    order.sort(key=lambda i: -len(segments[i].ids))
    bins: list[list[int]] = []
    free: dict[int, list[int]] = {}
    caps: list[int] = []  # sorted distinct free capacities with open bins
    for i in order:
        n = len(segments[i].ids)
        k = bisect.bisect_left(caps, n)
        if k < len(caps):
            cap = caps[k]
            b = free[cap].pop()
            if not free[cap]:
                del free[cap]
                caps.pop(k)
        else:
            cap, b = max_length, len(bins)
            bins.append([])
        bins[b].append(i)
        rest = cap - n
        if rest > 0:
            if rest not in free:
                free[rest] = []
                bisect.insort(caps, rest)
            free[rest].append(b)
    rows = []
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        pos: list[int] = []
        for i in members:
            s = segments[i]
            ids += s.ids
            labels += s.labels
            pos += range(len(s.ids))
        pad = max_length - len(ids)
        ids += [pad_id] * pad
        labels += [IGNORE] * pad
        pos += range(pad)
        rows.append(Row(ids, labels, pos))
    rng.shuffle(rows)
    return rows


def finish_stats(stats: DataStats, segments: Sequence[Segment], rows: Sequence[Row]) -> None:
    stats.segments = len(segments)
    stats.rows = len(rows)
    stats.input_tokens = sum(len(s.ids) for s in segments)
    stats.label_tokens = sum(1 for s in segments for x in s.labels if x != IGNORE)
    stats.padding_tokens = sum(len(r.input_ids) for r in rows) - stats.input_tokens
