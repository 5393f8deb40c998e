"""The spec as generation prompts show it: the whole spec, or its outline when too long.

The authors' pipeline gives the generator the whole spec plus the part in focus at
every stage, so a document or AFT response can give a reason stated in another section.
msm does the same within a token budget (``context_tokens``): a spec over the budget is
shown as its outline (the headings) plus the focus part, and the stage's stats say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from msm.spec.core import Spec, split_front_matter

TOKENS_PER_WORD = 1.35  # the rough rate the projections use; only compared with a budget


@dataclass(frozen=True)
class SpecContext:
    text: str
    mode: str  # "whole" | "outline"
    spec_tokens: int
    budget: int

    def stats(self) -> dict[str, object]:
        return {"mode": self.mode, "spec_tokens": self.spec_tokens, "budget": self.budget}


def spec_body(spec: Spec) -> str:
    """The templated spec without its YAML front matter."""
    _, n_lines = split_front_matter(spec.text, spec.path)
    return "\n".join(spec.text.split("\n")[n_lines:]).strip()


def spec_context(spec: Spec, budget: int) -> SpecContext:
    body = spec_body(spec)
    tokens = int(len(body.split()) * TOKENS_PER_WORD)
    if tokens <= budget:
        return SpecContext(body, "whole", tokens, budget)
    outline = "\n".join("#" * s.level + " " + s.title for s in spec.sections if s.title)
    text = (
        "(The full guidelines are longer than this generator's context budget; their "
        f"outline:)\n{outline}"
    )
    return SpecContext(text, "outline", tokens, budget)


def value_terms(spec: Spec) -> list[str]:
    """Words that state the spec's value (front matter ``value_terms``), for the cheap
    attribution check; empty when the spec declares none."""
    terms = spec.metadata.get("value_terms")
    if not isinstance(terms, list):
        return []
    return [str(t).strip() for t in terms if str(t).strip()]


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def reason_attributed(text: str, model_name: str, terms: list[str]) -> bool:
    """Whether one sentence names the model and states the value (explicit attribution,
    not mere co-occurrence somewhere in the document)."""
    pats = [re.compile(rf"(?<!\w){re.escape(t)}", re.IGNORECASE) for t in terms]
    name = model_name.casefold()
    for sentence in _SENTENCES.split(text):
        if name in sentence.casefold() and any(p.search(sentence) for p in pats):
            return True
    return False


def spec_statements(
    excerpt: str, model_name: str, terms: list[str], n: int, fallback: bool = True
) -> list[str]:
    """Up to ``n`` of the excerpt's own sentences that name the model and state the value (a
    value term), in spec order; where none states it (or no terms are given), those that
    name the model (``fallback``; without it, none). Assertions in the spec's words, for a
    generator too small to restate the spec faithfully."""
    prose = " ".join(
        line.strip().lstrip("-*").strip()
        for line in excerpt.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", prose) if s.strip()]
    named = [s for s in sentences if model_name.casefold() in s.casefold() and len(s.split()) >= 6]
    pats = [re.compile(rf"(?<!\w){re.escape(t)}", re.IGNORECASE) for t in terms]
    stating = [s for s in named if any(p.search(s) for p in pats)]
    if not terms or (fallback and not stating):
        stating = named
    return list(dict.fromkeys(stating))[:n]
