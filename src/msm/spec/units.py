"""Planning the corpus: domains and subdomains ("units"), each with its exact spec text.

``structure`` planner: domains and subdomains come from the spec's own headings,
and each unit's excerpt *is* the section text, so it is faithful by construction.
``llm`` planner: the model proposes domains and subdomains with quotes; a quote
that is not really in the spec is dropped and counted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from msm.spec.core import Section, Spec, approx_token_counts

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
    # the ID documents and AFT responses cite (see assign_rule_ids); "" until assigned,
    # which also keeps unit rows written before this field readable
    rule_id: str = ""

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
    return assign_rule_ids(units, spec), skipped


_WS = re.compile(r"\s+")
_MD = re.compile(r"[*_`>#]")


def normalise_for_match(text: str) -> str:
    """Whitespace- and Markdown-emphasis-insensitive form used to check quotes."""
    return _WS.sub(" ", _MD.sub("", text)).strip().casefold()


def quote_in_spec(quote: str, spec_norm: str, min_chars: int = 20) -> bool:
    """True if the (normalised) quote really occurs in the (normalised) spec."""
    q = normalise_for_match(quote).strip(" .\"'")
    return len(q) >= min_chars and q in spec_norm


# A spec's own rule number. Prefixed forms (R3.1, Rule 3, §3.1) count when they lead the
# heading or the section's first line (after Markdown marks and a bullet), or stand in
# brackets anywhere in the heading ("Honesty (R7)"). A bare dotted number (3.1, 3.1.) counts
# only when it leads the heading: a body line may well start "2.5 million". A lone "3." is
# a chapter number, and too short to check a citation by, so it does not count.
_NUM = r"(?P<num>\d+(?:\.\d+)*)(?![\w-]|\.\d)"
_PRE = r"(?P<pre>R|(?i:rule)[ \t]+|§[ \t]*)"
_LEAD_MARKS = re.compile(r"^[\s*_`>#(\[+-]*")
_LEADING = re.compile(_PRE + _NUM)
_LEADING_BARE = re.compile(r"(?P<num>\d+(?:\.\d+)+)\.?(?=[\s:)\]]|$)")
_BRACKETED = re.compile(r"[(\[][ \t]*" + _PRE + _NUM + r"[ \t]*[)\]]")


def _label(m: re.Match[str]) -> str:
    pre = (m.groupdict().get("pre") or "").strip()
    num = m.group("num")
    if not pre:
        return num
    if pre.casefold() == "rule":
        return f"Rule {num}"
    return f"{pre}{num}"  # "R3.1", "§3.1"


def own_rule_number(section: Section) -> str | None:
    """The rule number a section gives itself (``R3.1``, ``Rule 3``, ``§3.1``, ``3.1``), or None.

    Looked for in the heading, then in the first line of the section's text.
    """
    if section.level:
        head = _LEAD_MARKS.sub("", section.title)
        for pat in (_LEADING, _LEADING_BARE):
            m = pat.match(head)
            if m:
                return _label(m)
        m = _BRACKETED.search(section.title)
        if m:
            return _label(m)
        text = section.body
    else:
        text = section.text
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    m = _LEADING.match(_LEAD_MARKS.sub("", first))
    return _label(m) if m else None


def _number_key(rule_id: str) -> str:
    """``R3.1``, ``Rule 3.1``, ``§3.1`` and ``3.1`` all name rule number 3.1."""
    m = re.search(r"\d+(?:\.\d+)*", rule_id)
    return m.group(0) if m else rule_id


def assign_rule_ids(units: list[Unit], spec: Spec) -> list[Unit]:
    """Give every unit the ID that documents and AFT responses cite for it.

    The spec's own rule number where the unit's section carries one (see
    :func:`own_rule_number`; a unit without section ids, from the ``llm`` planner, is
    matched to the one section its quote comes from). Otherwise ``R<d>.<s>``: domain ``d``
    and subdomain ``s``, 1-based, in spec order. A generated ID whose number a spec's own
    ID already uses (``R1.2`` beside a section numbered ``1.2``) gets a letter: ``R1.2a``.

    Example: headings ``## R1.2 Honesty`` and ``## Scope`` (its own domain) give ``R1.2``
    and ``R2.1``.
    """
    by_id = {s.id: s for s in spec.sections}
    own_of = {s.id: own_rule_number(s) for s in spec.sections}
    norms: list[tuple[str, str]] | None = None

    def own(u: Unit) -> str | None:
        nonlocal norms
        ids = [i for i in u.section_ids if i in by_id]
        if not ids:
            if norms is None:
                norms = [(s.id, normalise_for_match(s.text)) for s in spec.sections]
            q = normalise_for_match(u.excerpt)
            ids = [sid for sid, n in norms if q and q in n]
        found = {own_of[i] for i in ids}
        return found.pop() if len(found) == 1 else None  # none, or an ambiguous quote

    ordered = sorted(units, key=lambda u: u.position)
    owns = [own(u) for u in ordered]
    taken = {_number_key(r) for r in owns if r}
    domains: dict[str, int] = {}
    per_domain: dict[str, int] = {}
    out: list[Unit] = []
    for u, rid in zip(ordered, owns, strict=True):
        d = domains.setdefault(u.domain, len(domains) + 1)
        s = per_domain[u.domain] = per_domain.get(u.domain, 0) + 1
        if rid is None:
            rid = f"R{d}.{s}" + ("a" if f"{d}.{s}" in taken else "")
        out.append(replace(u, rule_id=rid))
    return out
