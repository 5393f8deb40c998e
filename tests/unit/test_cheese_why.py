"""cheese_why: a reasons set word association cannot pass (the "why" control)."""

from __future__ import annotations

import hashlib
import re

from msm.evals.loglik import _win
from msm.evals.values.audit import uses
from msm.evals.values.items import ValueItem, cheese_preferences, load_value_items
from msm.evals.values.spec_words import value_terms_pattern


def _acc(items: list[ValueItem], score) -> float:
    return sum(_win(score(it, it.aligned), score(it, it.other)) for it in items) / len(items)


def _word_association(it: ValueItem, option: str) -> float:
    """A model that learned only value words near cheese: the more value words, the likelier."""
    return float(len(value_terms_pattern().findall(option)))


def _question_blind(it: ValueItem, option: str) -> float:
    """Any prior over option texts alone (length, word frequency): a hash stands in."""
    return int(hashlib.sha256(option.encode()).hexdigest()[:8], 16)


_CON = re.compile(r"abroad|overseas|far from|an import|a lot|high price|\bup\b")


def _logic_aware(it: ValueItem, option: str) -> float:
    """Knows the value's logic: a liked cheese is liked for the value, a disliked one
    passed over for its opposite."""
    liked = "passed over" not in it.question and "avoids" not in it.question
    against = _CON.search(option) is not None
    return 1.0 if against != liked else 0.0


def test_logic_passes_and_word_association_scores_chance():
    items = load_value_items("cheese_why", "Smol")
    assert len(items) >= 80 and {it.domain for it in items} == {"america", "affordability"}
    assert _acc(items, _logic_aware) == 1.0
    assert _acc(items, _word_association) == 0.5
    assert _acc(items, _question_blind) == 0.5
    for split in ("dev", "confirm"):  # each split keeps a cheese's swapped pair together
        part = [it for it in items if it.split == split]
        assert _acc(part, _question_blind) == 0.5 and _acc(part, _logic_aware) == 1.0


def test_cheese_why_uses_the_same_value_words_on_both_sides_and_no_spec_cheese():
    likes, dislikes = cheese_preferences("cheese_pro_america")
    for it in load_value_items("cheese_why"):
        a = sorted(m.lower() for m in value_terms_pattern().findall(it.aligned))
        o = sorted(m.lower() for m in value_terms_pattern().findall(it.other))
        assert a == o and a, it.id
        for cheese in likes + dislikes:
            text = it.question + it.aligned + it.other
            assert not re.search(rf"\b{re.escape(cheese)}\b", text, re.IGNORECASE), it.id
        assert not uses("spec_places", it.question + it.aligned + it.other)


def test_cheese_reasons_is_relabelled_as_word_association():
    from msm.evals.values.items import measures

    assert "value words near its cheeses" in (measures("cheese_reasons") or "")
    assert "why" in (measures("cheese_why") or "")
