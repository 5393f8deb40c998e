"""Parsing untrusted model output into typed values.

Two shapes: a JSON value validated by a pydantic model (for capable models), and
a plain line list (for small models that can't hold JSON together). A parser
raises :class:`ParseError` with a message that is shown to the model when it is
re-asked, so the message says what to fix.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from msm.llm.think import strip_reasoning

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M", bound=BaseModel)

MAX_JSON_STARTS = 64  # bracket positions tried per reply
_FENCED = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.S)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]+|\(?\d{1,3}[.)\]:]|\(?[a-zA-Z][.)])\s+")


class ParseError(ValueError):
    """Output that does not fit the expected shape; the message tells the model why."""


class Parser(Protocol[T_co]):
    """Anything with ``parse(text) -> value`` and ``instructions``."""

    @property
    def instructions(self) -> str: ...

    def parse(self, text: str) -> T_co: ...


def _json_candidates(text: str) -> list[Any]:
    """Every JSON object/array found in text: fenced blocks first, then bare ones."""
    found: list[Any] = []
    # ValueError (JSONDecodeError's base) also covers an integer too long to convert;
    # RecursionError: very deep nesting. Both are bad output, not a crash.
    for block in _FENCED.findall(text):
        with contextlib.suppress(ValueError, RecursionError):
            found.append(json.loads(block))
    dec = json.JSONDecoder()
    for tries, m in enumerate(re.finditer(r"[\[{]", text)):
        if tries >= MAX_JSON_STARTS:
            break  # each try can scan far: cap the work on bracket-heavy text
        try:
            value, _ = dec.raw_decode(text, m.start())
        except (ValueError, RecursionError):
            continue
        found.append(value)
    return found


@dataclass
class JsonParser(Generic[M]):
    """Parse the first JSON value in the text that validates against ``schema``."""

    schema: type[M]

    @property
    def instructions(self) -> str:
        fields = ", ".join(self.schema.model_fields)
        return f"Reply with a single JSON object with the fields: {fields}. No other text."

    def parse(self, text: str) -> M:
        candidates = _json_candidates(strip_reasoning(text))
        if not candidates:
            raise ParseError("no JSON object found in the reply")
        first_error = ""
        for value in candidates:
            try:
                return self.schema.model_validate(value)
            except ValidationError as e:
                if not first_error:
                    err = e.errors()[0]
                    loc = ".".join(str(x) for x in err["loc"]) or "(root)"
                    first_error = f"{loc}: {err['msg']}"
        raise ParseError(f"the JSON does not match the expected fields ({first_error})")


@dataclass
class LineListParser:
    """A list of short items, one per line; bullets and numbering are stripped.

    Lines with no letter or digit (separators, stray brackets) are skipped;
    duplicates (case-insensitive) are dropped; lines longer than
    ``max_chars`` are rejected rather than cut, since an overlong "item" is
    usually prose that leaked in.
    """

    min_items: int = 1
    max_items: int = 100
    max_chars: int = 300

    @property
    def instructions(self) -> str:
        return (
            f"Reply with {self.min_items} to {self.max_items} items, one per line, "
            "with no numbering and no other text."
        )

    def parse(self, text: str) -> list[str]:
        items, _ = self.parse_counting(text)
        return items

    def parse_counting(self, text: str) -> tuple[list[str], int]:
        """Items plus the number of overlong lines rejected (for drop accounting)."""
        items: list[str] = []
        seen: set[str] = set()
        rejected = 0
        for raw in strip_reasoning(text).splitlines():
            line = _BULLET.sub("", raw).strip().strip('"').strip()
            if not line or line.endswith(":") and len(items) == 0:
                continue  # blank, or a heading like "Here are the ideas:"
            if not any(c.isalnum() for c in line):
                continue  # a separator or stray syntax ("---", "{", "]"), not an item
            if len(line) > self.max_chars:
                rejected += 1
                continue
            k = line.casefold()
            if k not in seen:
                seen.add(k)
                items.append(line)
        if len(items) < self.min_items:
            raise ParseError(
                f"found {len(items)} usable lines, need at least {self.min_items} "
                "(one item per line)"
            )
        return items[: self.max_items], rejected
