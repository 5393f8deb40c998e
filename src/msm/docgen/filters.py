"""Turning a raw generation into a kept document, or a counted drop reason."""

from __future__ import annotations

import re

_DOC = re.compile(r"<document>(.*?)(?:</document>|\Z)", re.S | re.I)
_PLAN = re.compile(r"<plan>.*?(?:</plan>|\Z)", re.S | re.I)
_LEAKS = (
    re.compile(r"</?(?:plan|document|excerpt)>", re.I),
    re.compile(r"^\s*(?:plan|outline)\s*:", re.I | re.M),
    re.compile(r"\bhere (?:is|'s) (?:the|a|my) (?:document|memo|draft|plan)\b", re.I),
    re.compile(r"\b(?:as an ai language model|i cannot write|i can't write)\b", re.I),
    re.compile(r"\bthe (?:excerpt|guidelines excerpt) (?:says|states)\b", re.I),
)


def extract_document(raw: str) -> tuple[str | None, str | None]:
    """(document text, None) or (None, drop reason).

    Only the part inside ``<document>`` is kept. Without tags, the whole answer
    is taken as the document once any ``<plan>`` block is removed (small models
    rarely follow the tag format), and leak checks catch what slips through.
    """
    m = _DOC.search(raw)
    if m:
        return m.group(1).strip(), None
    if re.search(r"<plan>", raw, re.I):
        rest = _PLAN.sub("", raw).strip()
        if not rest:
            return None, "plan_only"
        return rest, None
    return raw.strip(), None


def cites(text: str, rule_id: str) -> bool:
    """True if ``text`` cites ``rule_id`` as a whole ID: "R1.1" is not cited by "R1.10",
    "R1.1.2" or "R1.1a", but is by "Under R1.1," or "(R1.1)."; "Rule 3" by "rule 3"."""
    pattern = r"(?<![\w.])" + re.escape(rule_id) + r"(?![\w]|[.-]\w)"
    return re.search(pattern, text, re.I) is not None


def check_document(
    text: str, model_name: str, min_words: int, rule_id: str | None = None
) -> str | None:
    """The first reason to drop ``text``, or None to keep it."""
    if any(p.search(text) for p in _LEAKS):
        return "planning_leak"
    if len(text.split()) < min_words:
        return "too_short"
    if model_name.casefold() not in text.casefold():
        return "no_model_mention"
    if rule_id is not None and not cites(text, rule_id):
        return "no_rule_id"
    return None


_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


def trim_to_sentence(text: str, min_keep: float = 0.5) -> str | None:
    """Cut a truncated text back to its last complete sentence.

    Returns None when that would keep less than ``min_keep`` of the text (then
    the document is dropped as truncated instead). An open ``<document>`` tag
    is closed so extraction still works.
    """
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends or ends[-1] < len(text) * min_keep:
        return None
    cut = text[: ends[-1]]
    if re.search(r"<document>", cut, re.I) and not re.search(r"</document>", cut, re.I):
        cut += "\n</document>"
    return cut
