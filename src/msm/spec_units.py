"""Planning the corpus: domains and subdomains ("units"), each with its exact spec text.

``structure`` planner: domains and subdomains come from the spec's own headings,
and each unit's excerpt *is* the section text, so it is faithful by construction.
``llm`` planner: the model proposes domains and subdomains with quotes; a quote
that is not really in the spec is dropped and counted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

from msm.spec import Section, Spec, approx_token_counts

MIN_UNIT_WORDS = 12


@dataclass(frozen=True)
class Unit:
    """A subdomain: the smallest piece of spec that documents are grounded on."""

    id: str
    domain: str
    subdomain: str
    summary: str
    excerpt: str
    section_ids: tuple[str, ...]
    position: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def item_id(prefix: str, *parts: object) -> str:
    """A short id from content and position; never from an LLM-chosen name alone."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{h[:16]}"


def _own_words(section: Section) -> int:
    return len(section.body.split()) if section.level else len(section.text.split())


def _split_long(text: str, max_tokens: int) -> list[str]:
    """Split text at paragraph breaks into parts of at most ~max_tokens (approx)."""
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    for p, n in zip(paras, approx_token_counts(paras), strict=True):
        if cur and size + n > max_tokens:
            parts.append("\n\n".join(cur))
            cur, size = [], 0
        cur.append(p)
        size += n
    if cur:
        parts.append("\n\n".join(cur))
    return parts


def _domain_level(sections: list[Section]) -> int:
    """The shallowest heading level with at least two sections (the spec's domains)."""
    levels = sorted({s.level for s in sections if s.level > 0})
    for lv in levels:
        if sum(1 for s in sections if s.level == lv) >= 2:
            return lv
    return levels[0] if levels else 0


def structure_units(spec: Spec, max_section_tokens: int) -> tuple[list[Unit], dict[str, int]]:
    """Units from headings. Returns the units and counts of skipped sections by reason."""
    sections = spec.sections
    level = _domain_level(sections)
    skipped: dict[str, int] = {}
    units: list[Unit] = []
    domain = "(untitled)"
    for s in sections:
        if s.level == 0:
            domain_of = "Overview" if level else "Spec"
        elif s.level <= level:
            domain = s.title
            domain_of = s.title
        else:
            domain_of = domain
        if _own_words(s) < MIN_UNIT_WORDS:
            skipped["section_too_short"] = skipped.get("section_too_short", 0) + 1
            continue
        parts = _split_long(s.text, max_section_tokens)
        if len(parts) > 1:
            skipped["section_split"] = skipped.get("section_split", 0) + 1
        for k, part in enumerate(parts):
            title = s.title if len(parts) == 1 else f"{s.title} (part {k + 1}/{len(parts)})"
            units.append(
                Unit(
                    id=item_id("u", s.id, k, part),
                    domain=domain_of,
                    subdomain=title,
                    summary=" / ".join(s.path) or title,
                    excerpt=part,
                    section_ids=(s.id,),
                    position=len(units),
                )
            )
    return units, skipped


_WS = re.compile(r"\s+")
_MD = re.compile(r"[*_`>#]")


def normalise_for_match(text: str) -> str:
    """Whitespace- and Markdown-emphasis-insensitive form used to check quotes."""
    return _WS.sub(" ", _MD.sub("", text)).strip().casefold()


def quote_in_spec(quote: str, spec_norm: str, min_chars: int = 20) -> bool:
    """True if the (normalised) quote really occurs in the (normalised) spec."""
    q = normalise_for_match(quote).strip(" .\"'")
    return len(q) >= min_chars and q in spec_norm
