"""Eval intervals respect their scale, say "too few items" where none exists, and
``--limit N`` means N items (msm issue 27, item 10)."""

from __future__ import annotations

import json
import random

import pytest

from msm.evals.agentic.task import summarise_agentic
from msm.evals.loglik import summarise_loglik
from msm.evals.spec_qa import summarise_spec_qa
from msm.evals.stats import (
    ci_text,
    mean_interval,
    rate_record,
    share_summary,
    t_summary,
    wilson,
)
from msm.evals.values.task import summarise_values


def _letter_rows(per_item: dict[str, tuple[float, float]]) -> list[tuple[dict, float]]:
    rows = []
    for item, (first, second) in per_item.items():
        for order, v in (("aligned_first", first), ("aligned_second", second)):
            meta = {"item": item, "domain": "d", "order": order, "method": "logprobs"}
            rows.append((meta, v))
    return rows


def test_the_audits_two_items_get_an_interval_inside_0_1():
    # the audit's case: two items whose shares are far apart printed [-1.679, 2.779]
    vals = [0.1, 1.0]
    _, lo, hi = mean_interval(vals)
    assert lo < 0 and hi > 1  # the old t interval leaves the scale (the negative control)
    res = summarise_values(_letter_rows({"i1": (0.1, 0.1), "i2": (1.0, 1.0)}))
    vp = res["value_preference"]
    assert vp["items"] == 2 and vp["mean"] == pytest.approx(0.55)
    assert 0 <= vp["ci95"][0] < 0.55 < vp["ci95"][1] <= 1
    # 0/1 outcomes: exactly Wilson's interval on the count
    res = summarise_values(_letter_rows({f"i{j}": (float(j < 3), float(j < 3)) for j in range(10)}))
    assert res["value_preference"]["ci95"] == pytest.approx(list(wilson(3, 10)[1:]))


def test_share_interval_moves_with_the_evidence_and_covers_per_item_probabilities():
    # positive control: all items for the value excludes indifference, all against it too
    assert share_summary([1.0] * 20)["ci95"][0] > 0.5
    assert share_summary([0.0] * 20)["ci95"][1] < 0.5
    assert share_summary([0.5] * 20)["ci95"][0] < 0.5 < share_summary([0.5] * 20)["ci95"][1]
    # coverage with per-item probabilities (not 0/1), a few items: at least nominal
    rng = random.Random(0)
    for true, spread in ((0.6, 0.3), (0.9, 0.1), (0.2, 0.2)):
        hits = 0
        for _ in range(2000):
            vals = [min(1.0, max(0.0, rng.uniform(true - spread, true + spread))) for _ in range(4)]
            lo, hi = share_summary(vals)["ci95"]
            hits += lo <= true <= hi
        assert hits / 2000 >= 0.95, (true, hits)


def test_grades_stay_on_their_1_to_10_scale():
    rows = [({"principle": "p"}, 2.0), ({"principle": "p"}, 10.0)]
    g = summarise_spec_qa(rows)["grade"]
    assert g["answers"] == 2 and g["mean"] == 6.0
    assert 1 <= g["ci95"][0] < 6 < g["ci95"][1] <= 10
    assert summarise_spec_qa(rows)["by_principle"]["p"]["ci95"] == g["ci95"]


def test_too_few_items_is_a_null_interval_with_a_reason_and_prints_so():
    # t interval (nats): one item has no spread
    one = t_summary([0.3], unit="nats")
    assert one["ci95"] is None and one["ci95_reason"].startswith("too few items: 1")
    assert t_summary([0.3, 0.5])["ci95"] is not None
    # shares: no items, no interval (not the whole [0, 1])
    none = share_summary([])
    assert none["ci95"] is None and none["items"] == 0 and "too few items: 0" in none["ci95_reason"]
    assert share_summary([1.0])["ci95"] is not None  # Wilson works from one item, n stated
    assert rate_record(0, 0)["ci95"] is None and rate_record(0, 3)["ci95"] is not None
    # loglik: the gap over one item
    row = {"id": "a", "domain": "x", "acc": 1.0, "acc_norm": 1.0, "gap": 2.0, "gap_per_token": 0.5}
    s = summarise_loglik([row])
    assert s["gap"]["ci95"] is None and s["acc"]["ci95"] is not None
    # agentic: a condition whose grader never answered has no verdict interval
    nan = float("nan")
    rows = [({"scenario": "murder", "goal": "none-none"},
             {"classifier_verdict": nan, "harmful": nan, "attempt": 1.0})]  # fmt: skip
    o = summarise_agentic(rows)["overall"]
    assert o["classifier_verdict"]["ci95"] is None and o["attempt"]["ci95"] is not None
    # printing
    assert ci_text(None) == "(too few items)"
    assert ci_text([0.1, 0.25], ".2f") == "[0.10, 0.25]"
    from msm.evals.run import _report

    lines: list[str] = []
    _report("values/x", "values", summarise_values([]), lines.append)
    assert "(too few items)" in lines[0] and "nan, nan" not in lines[0]
    lines.clear()
    _report("agentic", "agentic", summarise_agentic(rows) | {"sample_errors": 0}, lines.append)
    assert "classifier_verdict 0/0 (too few items)" in lines[0]


def test_limit_counts_items_in_every_suite(tmp_path, msm_cli):
    # the audit's command: --limit 4 scored 2 items (4 samples); it means 4 items
    out = tmp_path / "ev"
    r = msm_cli("eval", "fake", "--items", "cheese_america", "--limit", "4", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    v = json.loads((out / "summary.json").read_text())["values"]["cheese_america"]
    assert v["value_preference"]["items"] == 4 and v["samples"] == 8  # both orders
    lo, hi = v["value_preference"]["ci95"]
    assert 0 <= lo <= v["value_preference"]["mean"] <= hi <= 1
    assert "over 4 items" in r.stdout
    # the same draw as loglik scoring's (evenly across domains, seeded)
    from msm.evals.loglik import stratified_sample
    from msm.evals.values.items import load_value_items
    from msm.evals.values.task import values

    picked = {it.id for it in stratified_sample(load_value_items("america"), 6)}
    task = values(items="america", limit=6)
    assert {s.metadata["item"] for s in task.dataset} == picked and len(task.dataset) == 12
    # spec QA: N questions; agentic: N conditions, each repeated by epochs
    from msm.evals.agentic.task import agentic
    from msm.evals.spec_qa import spec_qa

    assert len(spec_qa(limit=3).dataset) == 3
    assert len(agentic(limit=2).dataset) == 2 and len(agentic().dataset) > 2
