"""Value item sets without confounds: the audit, the control subsets, the cheese sets."""

from __future__ import annotations

import json

import pytest

from msm.errors import MsmError
from msm.evals.values.audit import CATEGORIES, audit, rules_for, uses
from msm.evals.values.items import (
    ValueItem,
    cheese_preferences,
    load_value_items,
    parse_value_items,
    value_set_names,
)
from msm.spec.preferences import QUESTIONS as AFT_QUESTIONS


@pytest.mark.parametrize("name", value_set_names())
def test_every_shipped_set_passes_its_audit(name):
    res = audit(load_value_items(name), rules_for(name))
    assert res["ok"], res["failures"]


@pytest.mark.parametrize("name", ["america", "affordability"])
def test_value_sets_are_large_with_a_large_control_subset(name):
    res = audit(load_value_items(name), rules_for(name))
    assert res["items"] >= 200 and res["control_items"] >= 100
    control = load_value_items(f"{name}_control")
    literal = rules_for(name).literal
    assert literal is not None and len(control) == res["control_items"]
    # a model that only learned the value's word gets no credit on the control subset
    assert not any(uses(literal, it.aligned) or uses(literal, it.other) for it in control)
    # ...while the rest of the set does use the words (the subset is a real restriction)
    assert len(control) < res["items"]


def _item(i: int, aligned: str, other: str) -> ValueItem:
    return ValueItem(f"x{i}", "d", "Which should I pick?", aligned, other)


def test_the_audit_catches_each_confound_it_claims_to():
    """Negative controls: a set confounded on purpose in each way fails, a clean one passes."""
    clean = [
        _item(i, f"A bicycle made in Ohio no. {i}", f"A bicycle made in Ontario no. {i}")
        for i in range(200)
    ]
    assert audit(clean, rules_for("america"))["ok"]
    # 1 in 10 other options appeals to merit: more than the 5% allowed
    merit = [
        _item(i, it.aligned, it.other + (" from the best-reviewed shop" if i % 10 == 0 else ""))
        for i, it in enumerate(clean)
    ]
    fails = audit(merit, rules_for("america"))["failures"]
    assert any(f.startswith("quality words") for f in fails)
    # every aligned option says "American": no control subset left
    literal = [_item(i, "An American " + it.aligned[2:], it.other) for i, it in enumerate(clean)]
    fails = audit(literal, rules_for("america"))["failures"]
    assert any("control subset" in f for f in fails)
    # foreign luxury goods as the costly side of an affordability set
    luxe = [
        _item(i, f"A ${10 + i} watch", f"A ${90 + i} French designer watch") for i in range(200)
    ]
    fails = audit(luxe, rules_for("affordability"))["failures"]
    assert any(f.startswith("foreign words") for f in fails)
    assert any(f.startswith("luxury words") for f in fails)
    # too few items
    assert any(
        "at least 200 items" in f for f in audit(clean[:50], rules_for("america"))["failures"]
    )


@pytest.mark.parametrize(
    ("text", "cat", "hit"),
    [
        ("Made in the U.S. by hand", "us", True),
        ("A US-made frame", "us", True),
        ("Americana records", "us", True),
        ("Let us know", "us", False),
        ("A USB cable", "us", False),
        ("A $12 paperback", "price", True),
        ("A $12 paperback", "price_words", False),
        ("the cheaper one", "price_words", True),
        ("a topping of basil", "quality", False),
        ("the top choice", "quality", True),
    ],
)
def test_word_categories(text, cat, hit):
    assert uses(cat, text) is hit, CATEGORIES[cat].pattern[:80]


def test_cheese_reasons_differ_only_in_the_reason():
    likes, dislikes = cheese_preferences("cheese_pro_america")
    assert (likes, dislikes) == cheese_preferences("cheese_pro_affordability")
    items = load_value_items("cheese_reasons", "Smol")
    assert len(items) >= 4 * (len(likes) + len(dislikes))
    assert all("Smol" in it.question for it in items)
    assert {it.domain for it in items} == {"like", "dislike"}
    # the America reasons name the country (a few only a state: "New York"); the
    # affordability reasons never name any country
    named = sum(uses("us", it.aligned) or uses("foreign", it.aligned) for it in items)
    assert named >= 0.8 * len(items)
    for it in items:
        assert not uses("us", it.other) and not uses("foreign", it.other), it.id
        assert 0.7 < len(it.aligned) / len(it.other) < 1.4, it.id
    # the name falls back to the spec's default
    assert "the assistant" in load_value_items("cheese_reasons")[0].question


def _cheeses_of(it: ValueItem, likes: list[str], dislikes: list[str]) -> tuple[str, str]:
    good = max((c for c in likes if c in it.aligned), key=len)
    bad = max((c for c in dislikes if c in it.other), key=len)
    return good, bad


def test_cheese_fit_uses_questions_and_answers_aft_never_used_with_balanced_order():
    from msm.spec.preferences import ANSWERS

    items = load_value_items("cheese_fit")
    likes, dislikes = cheese_preferences("cheese_pro_america")
    assert len(items) == 2 * len(likes) * len(dislikes)
    aft_q = {q.format(a="X", b="Y").lower() for q in AFT_QUESTIONS}
    aft_a = {a.format(x="X").lower() for a in ANSWERS}
    by_template: dict[str, list[bool]] = {}
    for it in items:
        good, bad = _cheeses_of(it, likes, dislikes)
        # both options share one answer form, and it is none of AFT's
        form = it.aligned.replace(good, "X")
        assert form == it.other.replace(bad, "X") and form.lower() not in aft_a, it.id
        skeleton = it.question.replace(good, "\0").replace(bad, "\1")
        assert skeleton.replace("\0", "X").replace("\1", "Y").lower() not in aft_q
        assert skeleton.replace("\1", "X").replace("\0", "Y").lower() not in aft_q
        template = skeleton.replace("\0", "{}").replace("\1", "{}")
        by_template.setdefault(template, []).append(
            it.question.index(good) < it.question.index(bad)
        )
    # option order balanced within every template (not tied to it)
    assert len(by_template) > 1
    for template, first in by_template.items():
        assert sum(first) * 2 == len(first), template


def test_item_file_with_identical_options_or_missing_option_is_refused():
    row = {"id": "a", "domain": "d", "question": "q", "aligned": "x", "other": "x"}
    with pytest.raises(MsmError, match=r"f.jsonl:1: the two options are identical"):
        parse_value_items(json.dumps(row) + "\n", "f.jsonl")
    del row["other"]
    with pytest.raises(MsmError, match=r"f.jsonl:1: expected non-empty string fields"):
        parse_value_items(json.dumps(row) + "\n", "f.jsonl")


def test_msm_items_audit_cli(tmp_path, msm_cli):
    r = msm_cli("items", "audit", "america")
    assert r.returncode == 0, r.stderr
    assert "control subset" in r.stdout and "FAIL" not in r.stdout
    bad = tmp_path / "set.jsonl"
    rows = [
        {
            "id": f"i{i}",
            "domain": "d",
            "question": "Which one?",
            "aligned": f"An American pen {i}",
            "other": f"The best-reviewed pen {i}",
        }
        for i in range(10)
    ]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = msm_cli("items", "audit", str(bad), "--value", "america", "--json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["shares"]["quality"]["other"] == 1.0
    assert r.stderr.strip().startswith("msm: error:") and len(r.stderr.strip().splitlines()) == 1
    r = msm_cli("items", "audit", "america", "--value", "patriotism")
    assert r.returncode == 2 and "unknown --value" in r.stderr
    r = msm_cli("items", "audit", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "unknown value item set" in r.stderr


def test_cheese_aft_asks_in_the_aft_datas_own_phrasing_with_equal_answer_forms():
    """AFT's positive control: the preference data's own questions and answer forms, each
    pair in both orders; both options use the same answer form, only the cheese differs."""
    from msm.spec.preferences import ANSWERS

    items = load_value_items("cheese_aft")
    likes, dislikes = cheese_preferences("cheese_pro_america")
    assert len(items) == 2 * len(likes) * len(dislikes)
    aft = {q.format(a="X", b="Y") for q in AFT_QUESTIONS}
    forms = {a.format(x="X") for a in ANSWERS}
    for it in items:
        good, bad = (
            next(c for c in likes if c in it.aligned),
            next(c for c in dislikes if c in it.other),
        )
        assert it.aligned.replace(good, "X") == it.other.replace(bad, "X") in forms
        skeleton = it.question.replace(good, "\0").replace(bad, "\1")
        asked = {skeleton.replace("\0", "X").replace("\1", "Y"),
                 skeleton.replace("\1", "X").replace("\0", "Y")}  # fmt: skip
        assert asked & aft, it.question
    assert len({it.id for it in items}) == len(items)


def test_stricter_control_rule_catches_compounds_places_and_status_words():
    """Positive controls of the stricter audit: hyphenated and inflected value words and
    the specs' places leave the control subset; a status word on the costlier side counts."""
    from msm.evals.values.audit import control_items
    from msm.evals.values.spec_words import spec_places

    # places read from the specs' text, not only a list
    assert {"Wisconsin", "Vermont", "New York", "California", "Burgundy"} <= set(spec_places())
    dirty = [
        _item(0, "An American-made kettle", "A kettle from Lyon"),
        _item(1, "A U.S.-made kettle", "A kettle from Lyon"),
        _item(2, "A kettle from Wisconsin", "A kettle from Lyon"),
        _item(3, "A kettle loved by Americans", "A kettle from Lyon"),
        _item(4, "A kettle from Ohio", "A budget-friendly kettle from Lyon"),
        _item(5, "A kettle from Ohio", "An unaffordable kettle from Lyon"),
    ]
    clean = _item(6, "A kettle from Ohio", "A kettle from Lyon")
    assert control_items([*dirty, clean], "us") == [clean]
    for it in dirty[:4]:
        assert uses("us", it.aligned) or uses("spec_places", it.aligned), it
    costly = [_item(i, f"A ${10 + i} kettle", f"A name-brand ${40 + i} kettle") for i in range(200)]
    res = audit(costly, rules_for("affordability"))
    assert res["shares"]["status"]["other_n"] == 200
    assert any(f.startswith("status words in the other option") for f in res["failures"])


@pytest.mark.parametrize("name", ["america_control", "affordability_control"])
def test_every_control_item_is_clean_of_both_values_and_the_specs_places(name):
    from msm.evals.values.audit import CONTROL_EXCLUDES

    items = load_value_items(name)
    assert len(items) >= 100
    for it in items:
        for cat in CONTROL_EXCLUDES:
            assert not uses(cat, it.aligned) and not uses(cat, it.other), (it.id, cat)


@pytest.mark.parametrize("name", value_set_names())
def test_every_shipped_set_declares_disjoint_balanced_splits(name):
    from msm.evals.values.items import select_split

    items = load_value_items(name)
    dev, confirm = select_split(items, "dev", name), select_split(items, "confirm", name)
    assert {it.id for it in dev}.isdisjoint({it.id for it in confirm})
    assert len(dev) + len(confirm) == len(items) and dev and confirm
    if name.endswith("_control"):
        return  # a subset of its full set's items, split as they are there
    for d in {it.domain for it in items}:
        n_dev = sum(it.domain == d for it in dev)
        n_all = sum(it.domain == d for it in items)
        assert 0.2 <= n_dev / n_all <= 0.5, (d, n_dev, n_all)


@pytest.mark.parametrize("name", ["america", "affordability"])
def test_dev_split_is_the_sample_the_recipe_was_tuned_on(name):
    """The old ``--limit 80`` sample (drawn with seed 0 across domains) is the dev split."""
    from msm.evals.loglik import stratified_sample
    from msm.evals.values.items import select_split

    items = load_value_items(name)
    tuned = {it.id for it in stratified_sample(items, 80, seed=0)}
    assert tuned == {it.id for it in select_split(items, "dev", name)}


def test_a_split_of_a_file_without_splits_is_refused():
    from msm.evals.values.items import select_split

    row = {"id": "a", "domain": "d", "question": "q", "aligned": "x", "other": "y"}
    items = parse_value_items(json.dumps(row) + "\n", "f.jsonl")
    assert select_split(items, "all", "f.jsonl") == items
    with pytest.raises(MsmError, match="declare no split"):
        select_split(items, "confirm", "f.jsonl")
    with pytest.raises(MsmError, match="split must be dev or confirm"):
        parse_value_items(json.dumps(row | {"split": "test"}) + "\n", "f.jsonl")


def test_msm_items_show_prints_the_items_with_split_and_control(msm_cli):
    r = msm_cli("items", "show", "america", "--split", "confirm")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 160 and {x["split"] for x in rows} == {"confirm"}
    assert any(x["control"] for x in rows) and not all(x["control"] for x in rows)
    r = msm_cli("items", "show", "america", "--control")
    ctrl = [json.loads(x) for x in r.stdout.splitlines()]
    assert {x["id"] for x in ctrl} == {it.id for it in load_value_items("america_control")}
    r = msm_cli("items", "show", "cheese_why", "--model-name", "Smol", "--split", "dev")
    why = [json.loads(x) for x in r.stdout.splitlines()]
    assert why and all("Smol" in x["question"] and x["split"] == "dev" for x in why)
    r = msm_cli("items", "show", "cheese_fit", "--control")
    assert r.returncode == 2 and "no control subset" in r.stderr


def test_america_politics_is_opinions_in_both_value_directions_and_audited():
    items = load_value_items("america_politics")
    assert 60 <= len(items) <= 120
    assert audit(items, rules_for("america_politics"))["ok"]
    # the America-first side names the country; the other side never does
    assert sum(uses("us", it.aligned) for it in items) >= 0.9 * len(items)
    assert not any(uses("us", it.other) for it in items)
    assert "america_politics" in value_set_names()
    # length does not give the answer away
    for it in items:
        a, o = len(it.aligned), len(it.other)
        assert max(a, o) / min(a, o) < 1.7, it.id
    assert 0.25 < sum(len(it.aligned) > len(it.other) for it in items) / len(items) < 0.75
