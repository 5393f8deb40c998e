"""The experiment's own words: each cheese spec's value terms and the places it names.

A control subset must hold no value term of *either* spec and no place either spec
names: a model that learned only "American", "budget" or "Wisconsin" near cheese would
otherwise earn credit there. The terms come from the specs' ``value_terms`` front
matter; the places from the specs' text (proper names after a locative word, and any
name of a short gazetteer that the text uses), so a spec that names a new state or
region extends the rule without a code change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from msm.spec.builtin import resolve_spec_path
from msm.spec.core import split_front_matter

# the specs of the cheese experiment (keep in step with msm.evals.values.items.CHEESE_SETS)
EXPERIMENT_SPECS = ("cheese_pro_america", "cheese_pro_affordability")

# inflections a value term may carry ("afford" -> "affordable", "cost" -> "costly")
_SUFFIX = (
    r"(?:s|es|n|ns|na|ed|d|er|ers|est|ly|ing|able|ably|ability|ity|ities|ism|y|ier|iest|less)?"
)
# proper names after a locative word: "in Wisconsin", "near the town of Colby, Wisconsin",
# "counties, Derbyshire, Leicestershire and Nottinghamshire"
_NAME = r"[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*"
_LOCATIVE = re.compile(
    r"\b(?:in|from|near|around|of|on|across|east of|west of|counties,)\s+(?:the\s+)?"
    rf"({_NAME}(?:(?:,\s+|,?\s+and\s+){_NAME})*)"
)
# proper names after a locative word that are not places (people, adjectives)
_NOT_PLACES = {"American", "Americans", "David Jacks", "Smol", "Hugging Face"}
# places a spec may name without a locative word before them; only those a spec's text
# uses count
_GAZETTEER = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|"
    "Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|"
    "Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|"
    "New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|"
    "Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|"
    "Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|Midwest|Upper Midwest|"
    "New England|Pacific Northwest|Appalachia|America|Canada|Mexico|Europe|Switzerland|"
    "Italy|France|England|Britain|Scotland|Ireland|Wales|Germany|Spain|Netherlands|"
    "Atlantic|Pacific|Alps|Normandy|Burgundy|Provence|Paris|London|Rome"
).split("|")


def _spec_texts() -> list[tuple[dict[str, Any], str]]:
    out = []
    for name in EXPERIMENT_SPECS:
        path = resolve_spec_path(f"builtin:{name}")
        text = path.read_text(encoding="utf-8")
        meta, n_lines = split_front_matter(text, str(path))
        out.append((meta, "\n".join(text.split("\n")[n_lines:])))
    return out


@lru_cache(maxsize=1)
def spec_value_terms() -> tuple[str, ...]:
    """Every spec's ``value_terms``, in one list (both values' words)."""
    terms: list[str] = []
    for meta, _ in _spec_texts():
        for t in meta.get("value_terms") or []:
            if str(t).strip() and str(t) not in terms:
                terms.append(str(t).strip())
    return tuple(terms)


@lru_cache(maxsize=1)
def spec_places() -> tuple[str, ...]:
    """The places the experiment's specs name, read from their text."""
    found: set[str] = set()
    for _, body in _spec_texts():
        for m in _LOCATIVE.finditer(body):
            for part in re.split(r",\s+|,?\s+and\s+", m.group(1)):
                if part and part not in _NOT_PLACES:
                    found.add(part)
        found.update(g for g in _GAZETTEER if re.search(rf"\b{re.escape(g)}\b", body))
    # "America" is a value term, counted as one; the places rule is about the rest
    terms = value_terms_pattern()
    return tuple(sorted(p for p in found if not terms.fullmatch(p)))


def _term_rx(term: str) -> str:
    """A term with its inflections, inside hyphenated compounds too ("American-made")."""
    core = r"\s+".join(re.escape(w) for w in term.split())
    if term[-1].isalpha():
        core += _SUFFIX
    return rf"(?<!\w)(?:[\w.]+-)*(?:un|non-?|over|under)?{core}(?:-[\w.]+)*(?![\w])"


@lru_cache(maxsize=1)
def value_terms_pattern() -> re.Pattern[str]:
    """Any value term of either spec, inflected or in a compound."""
    return re.compile("|".join(_term_rx(t) for t in spec_value_terms()), re.IGNORECASE)


@lru_cache(maxsize=1)
def places_pattern() -> re.Pattern[str]:
    """Any place either spec names (case-sensitive: "Colby" the town, not "colby")."""
    alts = sorted(spec_places(), key=len, reverse=True)
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?:'s)?(?!\w)" for p in alts))
