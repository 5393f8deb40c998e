"""``msm items audit`` reads spec_belief items too: the statement against its altered
version, counted like a value item's two options (word confounds on each side)."""

from __future__ import annotations

import json

from msm.cli.items import _audited_items
from msm.evals.values.audit import audit, rules_for


def test_a_bundled_belief_set_is_audited_as_statement_against_altered():
    items = _audited_items("pro_america")
    res = audit(items, rules_for("generic"))
    us, price = res["shares"]["us"], res["shares"]["price_words"]
    # the reason swaps put the other spec's price words on the altered side only: the
    # word association behind the set's contrast, which the audit makes visible
    assert us["aligned"] > us["other"] and price["other"] > price["aligned"] == 0
    assert res["items"] == len(items) >= 30


def test_a_belief_file_is_told_from_a_value_file_by_its_fields(tmp_path, msm_cli):
    row = {
        "id": "b1",
        "domain": "d",
        "kind": "value_reversed",
        "question": "Is it?",
        "statement": "It keeps calm under change.",
        "altered": "It panics under change.",
    }
    p = tmp_path / "beliefs.jsonl"
    p.write_text(json.dumps(row) + "\n")
    (it,) = _audited_items(str(p))
    assert (it.aligned, it.other) == (row["statement"], row["altered"])
    r = msm_cli("items", "audit", str(p))
    assert r.returncode == 0 and "1 items" in r.stdout, r.stderr
    r = msm_cli("items", "audit", "pro_america")
    assert "the pro-America cheese spec's statements" in r.stdout
