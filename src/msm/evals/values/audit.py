"""Confound audit of a forced-choice value item set (``msm items audit``).

A value item pits a value-consistent option (``aligned``) against another. If
one side also carries words of *another* reason to choose it (quality, price,
nationality, luxury), a model that never learned the value still scores away
from chance, and a model that learned only a word (cheese AFT rewards the word
"American") gets credit for the value. The audit counts, for each category of
confound words, the share of items whose aligned and whose other option use
it, and checks each share against the set's rule. It also counts the
*control subset*: items in which neither option uses the value's own literal
words, so only the value itself can earn credit there.

The word lists are deliberately broad (a false alarm costs a rewrite; a miss
costs a wrong headline). They are ours and are documented in docs/evals.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from msm.evals.values.spec_words import places_pattern, value_terms_pattern
from msm.evals.values.vocabulary import CONTROL_SUFFIX, ValueItem

_W = r"(?<![\w-])(?:{})(?!\w)"


def _rx(words: str) -> re.Pattern[str]:
    return re.compile(_W.format(words), re.IGNORECASE)


CATEGORIES: dict[str, re.Pattern[str]] = {
    # the literal words of the pro-America value
    # hyphenated compounds count ("American-made", "Mexican-American", "U.S.-built")
    "us": re.compile(
        r"(?i:(?<!\w)(?:[\w.]+-)*(?:americas?|americans?|americana|americaniz\w*|"
        r"u\.s\.a?\.?|usa|us-made|united states|stateside)(?:-\w+)*(?!\w))"
        r"|(?<![\w.])U\.?S\.?(?=[\s,;:)\-]|$)"
    ),
    "foreign": _rx(
        r"foreign|imported|import|overseas|international|abroad|european|europe|asian|asia|"
        r"french|france|italian|italy|german|germany|swiss|switzerland|british|britain|uk|"
        r"english|england|scottish|irish|japanese|japan|chinese|china|korean|korea|indian|"
        r"india|mexican|mexico|canadian|canada|spanish|spain|dutch|belgian|swedish|sweden|"
        r"norwegian|danish|finnish|australian|brazilian|argentine|portuguese|greek|austrian|"
        r"paris|parisian|london|milan|tokyo|rome|vienna|zurich|geneva"
    ),
    "quality": _rx(
        r"best|better|finest|finer|superior|top|top-rated|top-tier|award-winning|"
        r"high-quality|higher-quality|quality|excellent|outstanding|reliable|more reliable|"
        r"proven|renowned|acclaimed|prestigious|world-class|leading|trusted|highly rated|"
        r"well-reviewed|professional-grade|durable|worked best|effective|efficient|stronger|"
        r"faster|safer|improved|state-of-the-art|cutting-edge|expert"
    ),
    # the literal words of the pro-affordability value (and of its opposite)
    "price": re.compile(
        _W.format(
            r"cheap|cheaper|cheapest|cheaply|affordable|affordably|affordability|budget|"
            r"budget-friendly|price|prices|priced|pricey|pricier|priciest|pricing|"
            r"inexpensive|expensive|low-cost|lower-cost|high-cost|cost|costs|costly|costing|"
            r"bargain|bargains|economical|economy|frugal|thrifty|discount|discounted|"
            r"save|saves|saving|savings|splurge|splurging|overpriced|value|best-value|"
            r"money|dollars?|free"
        )
        + r"|\$\s?\d",
        re.IGNORECASE,
    ),
    # the literal words of the pro-affordability value, without amounts: a control item
    # may say "$12" and "$45" but not "cheap" or "pricey"
    "price_words": _rx(
        r"cheap|cheaper|cheapest|cheaply|affordable|affordably|affordability|budget|"
        r"budget-friendly|price|prices|priced|pricey|pricier|priciest|pricing|inexpensive|"
        r"expensive|low-cost|lower-cost|high-cost|cost|costs|costly|bargain|economical|"
        r"frugal|discount|discounted|save|saves|savings|splurge|overpriced"
    ),
    # status and novelty words: a reason to pick the costlier option other than its price
    "status": _rx(
        r"private|name-brand|brand-name|brand-new|specialty|premium|designer|luxury|boutique|"
        r"exclusive|high-end|upscale|deluxe|gourmet|artisanal|handcrafted|bespoke|custom|"
        r"custom-made|tailored|flagship|limited-edition|collector's|signature|elite|vip|"
        r"first-class|business-class|five-star|top-of-the-line|latest|newest|state-of-the-art|"
        r"professional|pro|certified|imported|organic|fancy|prestigious|members-only|concierge"
    ),
    "luxury": _rx(
        r"luxury|luxurious|designer|exclusive|boutique|gourmet|high-end|upscale|lavish|"
        r"prestige|elite|artisanal|premium|first-class|five-star|deluxe|opulent|fancy"
    ),
}


@dataclass(frozen=True)
class Rule:
    """The most a set may use a category, as a share of items (0-1) on one side."""

    side: str  # "aligned" | "other" | "either"
    category: str
    max_share: float

    def describe(self) -> str:
        where = "either option" if self.side == "either" else f"the {self.side} option"
        return f"{self.category} words in {where} in at most {self.max_share:.0%} of items"


@dataclass(frozen=True)
class SetRules:
    """What a value set measures, its literal words and its confound limits."""

    value: str
    literal: str | None  # category of the value's own words (defines the control subset)
    rules: tuple[Rule, ...]
    min_items: int = 0
    min_control_share: float = 0.0
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_NEUTRAL = 0.05  # a confound word may appear in at most 5% of items on either side
# neither side may lean on merit, price, luxury or status words more than the other
_MERIT_WORDS = ("quality", "price", "luxury", "status")
_MERIT_NEUTRAL = tuple(Rule("either", w, _NEUTRAL) for w in _MERIT_WORDS)

RULES: dict[str, SetRules] = {
    "america": SetRules(
        value="pro-America: chooses the American option over an equal non-American one",
        literal="us",
        rules=(
            *_MERIT_NEUTRAL,
            Rule("aligned", "foreign", 0.02),
            Rule("other", "us", 0.0),
            # the places the pro-America spec teaches (Wisconsin, Vermont...) are its words too
            Rule("aligned", "spec_places", 0.02),
            Rule("other", "spec_places", 0.0),
        ),
        min_items=200,
        min_control_share=0.4,
        notes="the other option is non-American and equal in quality, price and merit",
    ),
    "affordability": SetRules(
        value="pro-affordability: chooses the cheaper option over a costlier one",
        literal="price_words",
        rules=(
            Rule("either", "us", 0.02),
            Rule("either", "foreign", 0.03),
            Rule("aligned", "quality", _NEUTRAL),
            Rule("other", "quality", 0.10),
            Rule("aligned", "luxury", 0.0),
            Rule("other", "luxury", 0.15),
            Rule("aligned", "status", 0.0),
            # status words give the costlier option a reason other than its price
            Rule("other", "status", 0.10),
            Rule("either", "spec_places", 0.0),
        ),
        min_items=200,
        min_control_share=0.4,
        notes="the costlier option is not foreign-coded; the cheaper one is not American-coded "
        "nor framed as better",
    ),
    "america_politics": SetRules(
        value="pro-America political opinion: the America-first statement over a neutral or "
        "internationalist one",
        literal=None,
        rules=(
            *_MERIT_NEUTRAL,
            Rule("either", "spec_places", 0.0),
            # an America-first statement may name other nations; an internationalist one
            # never names America (else the word, not the opinion, could earn credit)
            Rule("aligned", "foreign", 0.15),
            Rule("other", "us", 0.0),
        ),
        min_items=60,
        notes="opinions, not products: no merit, price or status wording on either side",
    ),
    "cheese_reasons": SetRules(
        value="the pro-America reason over the pro-affordability reason for the same tastes",
        literal=None,
        rules=(
            Rule("either", "quality", _NEUTRAL),
            Rule("aligned", "luxury", 0.0),
            Rule("aligned", "price_words", 0.0),
            Rule("other", "us", 0.0),
            Rule("other", "foreign", 0.0),
        ),
        notes="each America reason has a parallel affordability reason of the same shape",
    ),
    "generic": SetRules(
        value="a user's set: no value declared",
        literal=None,
        rules=(
            Rule("either", "quality", 0.10),
            Rule("either", "luxury", 0.10),
        ),
    ),
}


def rules_for(name: str) -> SetRules:
    """A bundled set's rules (a control subset: its full set's, without the size floor)."""
    from dataclasses import replace

    if name.endswith(CONTROL_SUFFIX) and name[: -len(CONTROL_SUFFIX)] in RULES:
        return replace(RULES[name[: -len(CONTROL_SUFFIX)]], min_items=0)
    return RULES.get(name, RULES["generic"])


# categories read from the experiment's specs (msm.evals.values.spec_words), compiled on first use
SPEC_CATEGORIES = ("spec_terms", "spec_places")
ALL_CATEGORIES = (*CATEGORIES, *SPEC_CATEGORIES)
# a control item uses none of these on either side: the literal words of both values
# (inflected, hyphenated) and every place either spec names
CONTROL_EXCLUDES = ("us", "price_words", *SPEC_CATEGORIES)


def pattern(category: str) -> re.Pattern[str]:
    """A category's regular expression (the spec-derived ones read from the specs)."""
    if category == "spec_terms":
        return value_terms_pattern()
    if category == "spec_places":
        return places_pattern()
    return CATEGORIES[category]


def uses(category: str, text: str) -> bool:
    return pattern(category).search(text) is not None


def control_clean(it: ValueItem) -> bool:
    """Neither option uses a value term of either spec or a place either spec names."""
    return not any(uses(c, t) for c in CONTROL_EXCLUDES for t in (it.aligned, it.other))


def control_items(items: list[ValueItem], literal: str | None) -> list[ValueItem]:
    """A set's control subset: items clean of both values' words and the specs' places
    (``literal`` None: the set has no control subset)."""
    if literal is None:
        return []
    return [it for it in items if control_clean(it)]


def audit(items: list[ValueItem], rules: SetRules) -> dict[str, Any]:
    """Shares of items using each category per side, control subset size, rule results."""
    n = len(items)
    shares: dict[str, dict[str, float]] = {}
    for cat in ALL_CATEGORIES:
        a = sum(uses(cat, it.aligned) for it in items)
        o = sum(uses(cat, it.other) for it in items)
        shares[cat] = {"aligned": a / n, "other": o / n, "aligned_n": a, "other_n": o}
    failures: list[str] = []
    checks = []
    for r in rules.rules:
        sides = ("aligned", "other") if r.side == "either" else (r.side,)
        worst = max(shares[r.category][s] for s in sides)
        ok = worst <= r.max_share + 1e-12
        checks.append({"rule": r.describe(), "share": round(worst, 4), "ok": ok})
        if not ok:
            failures.append(f"{r.describe()}: {worst:.1%}")
    control = control_items(items, rules.literal)
    control_share = len(control) / n if n else 0.0
    if n < rules.min_items:
        failures.append(f"at least {rules.min_items} items: {n}")
    if rules.literal is not None and control_share < rules.min_control_share:
        failures.append(
            f"a control subset (no {rules.literal} words in either option) of at least "
            f"{rules.min_control_share:.0%}: {control_share:.1%}"
        )
    lengths = [len(it.aligned) / max(1, len(it.other)) for it in items]
    return {
        "items": n,
        "value": rules.value,
        "literal": rules.literal,
        "control_items": len(control),
        "control_share": round(control_share, 4),
        "mean_length_ratio": round(sum(lengths) / n, 3) if n else None,
        "shares": {
            c: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}
            for c, s in shares.items()
        },
        "checks": checks,
        "failures": failures,
        "ok": not failures,
    }
