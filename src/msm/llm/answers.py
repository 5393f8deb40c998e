"""A provider's output read back: the answer with its reasoning; why an attempt failed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

_THINK_ONLY = re.compile(r"\s*<think[^>]*>(.*)</think>\s*", re.S)


def completion_text(out: Any) -> str:
    r"""The answer as the model wrote it, reasoning included as ``<think>...</think>``.

    Inspect moves reasoning out of the text into ``ContentReasoning`` parts: a
    leading ``<think>X</think>`` in an OpenAI-compatible answer (both sides
    stripped), a separate ``reasoning_content`` field (vLLM's reasoning parsers),
    Anthropic's extended thinking. ``out.completion`` holds only the text parts,
    so this puts each readable reasoning part back as a ``<think>`` block in its
    place. The separator is ``"\n\n"`` unless the text already starts with
    whitespace (vLLM keeps it), so ``<think>X</think>\n\nY`` and vLLM's split of
    ``<think>\nX\n</think>\n\nY`` both come back byte for byte. Redacted
    reasoning (an opaque or encrypted payload) is left out, never invented.
    Without a readable reasoning part this is exactly ``out.completion``, so
    answers of other providers are stored as before.
    """
    content = out.choices[0].message.content if out.choices else None
    if isinstance(content, str) or not content:
        return str(out.completion)
    thoughts = [
        c.reasoning
        for c in content
        if c.type == "reasoning" and not c.redacted and c.reasoning.strip()
    ]
    if not thoughts:
        return str(out.completion)
    texts = [c.text for c in content if c.type == "text" and c.text]
    for t in texts:
        # with nothing after </think>, Inspect keeps the raw answer as the text too
        m = _THINK_ONLY.fullmatch(t)
        if m is not None and m.group(1).strip() in {r.strip() for r in thoughts}:
            return str(out.completion)
    pieces: list[str] = []
    prev = ""
    for c in content:
        if c.type == "reasoning":
            if c.redacted or not c.reasoning.strip():
                continue
            piece, kind = f"<think>{c.reasoning}</think>", "think"
        elif c.type == "text" and c.text:
            piece, kind = c.text, "text"
        else:
            continue
        if prev:
            if prev == "text" and kind == "text":
                pieces.append("\n")  # Inspect's own join of text parts
            elif not piece[:1].isspace() and not pieces[-1][-1:].isspace():
                pieces.append("\n\n")
        pieces.append(piece)
        prev = kind
    return "".join(pieces)


def failure_reason(e: BaseException) -> str:
    """A short, stable reason for a failed attempt: rate_limit, timeout, server_error or
    provider_error. Providers' exception classes and HTTP status codes are both used."""
    named = getattr(e, "msm_reason", None)
    if isinstance(named, str):
        return named
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    cls = type(e).__name__.lower()
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    if "ratelimit" in cls or status == 429:
        return "rate_limit"
    if "timeout" in cls:
        return "timeout"
    if isinstance(status, int) and status >= 500 or "internalserver" in cls or "overloaded" in cls:
        return "server_error"
    return "provider_error"


def root_cause(e: BaseException) -> BaseException:
    """Unwrap tenacity's RetryError to the last attempt's exception."""
    last = getattr(e, "last_attempt", None)
    if last is not None:
        inner = last.exception()
        if inner is not None:
            return root_cause(inner)
    return e


def usage_tokens(usage: Any) -> tuple[int, int, int | None, int | None]:
    """(input, output, cache read, cache write) tokens of one call's Inspect ``ModelUsage``.

    Inspect's ``input_tokens`` leaves out the tokens read from or written to a prompt
    cache; msm's input count is every input token the call sent, and the cache counts are
    parts of it. A provider that reports no cache counts gives None (unknown), never 0.
    """
    if usage is None:
        return 0, 0, None, None
    read = getattr(usage, "input_tokens_cache_read", None)
    write = getattr(usage, "input_tokens_cache_write", None)
    read = None if read is None else int(read)
    write = None if write is None else int(write)
    n_in = int(usage.input_tokens or 0) + (read or 0) + (write or 0)
    return n_in, int(usage.output_tokens or 0), read, write
