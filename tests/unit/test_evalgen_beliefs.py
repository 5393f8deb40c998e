"""``msm evalgen`` belief items: a statement and its minimally altered false versions, checked
(cheaply, then by the judge), every dropped version counted, readable by spec_belief."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.evalgen.config import EvalgenConfig
from msm.evalgen.pipeline import closeness
from msm.evalgen.run import run_evalgen
from msm.evals.belief.items import load_belief_items

SPEC = "builtin:equanimity"
PASS = ('{"true_faithful": true, "reversed_false": true, "reversed_close": true, '
        '"swapped_false": true, "swapped_close": true, "reason": "ok"}')  # fmt: skip


def _cfg(**over) -> EvalgenConfig:
    return EvalgenConfig(**{"spec": SPEC, "model": "fake", "judge": "fake", "n_questions": 0,
                            "n_choices": 0, "n_beliefs": 6, "concurrency": 4, **over})  # fmt: skip


def _script(tmp_path: Path, name: str, rules: list[dict]) -> str:
    p = tmp_path / f"{name}.yaml"
    p.write_text(json.dumps(rules))
    return f"fake/{p}"


def test_beliefs_are_written_and_the_suite_reads_them(tmp_path):
    res = run_evalgen(_cfg(), tmp_path / "ev")
    assert res.beliefs == 6 and res.stats["belief_rows"] == 12  # two altered versions each
    items = load_belief_items(f"ada={res.files['beliefs']}", "Ada")
    assert {it.kind for it in items} == {"value_reversed", "reason_swapped"}
    by_statement: dict[str, set[str]] = {}
    for it in items:
        by_statement.setdefault(it.statement, set()).add(it.split)
        assert it.altered != it.statement and closeness(it.altered, it.statement) >= 0.5
    assert all(len(s) == 1 for s in by_statement.values())  # a statement's pairs share a split
    assert (tmp_path / "ev" / "manifest.json").is_file()


def test_judge_failures_drop_versions_and_statements_and_are_counted(tmp_path):
    judge = _script(tmp_path, "judge", [
        # one section's statements are not faithful: dropped whole
        {"match": "(?s)<excerpt>\\s*## Impermanence.*REVERSED:", "response":
         PASS.replace('"true_faithful": true', '"true_faithful": false')},
        # elsewhere the reversed version is not really false: only the swapped one is kept
        {"match": ".", "response": PASS.replace('"reversed_false": true',
                                                '"reversed_false": false')},
    ])  # fmt: skip
    res = run_evalgen(_cfg(judge=judge, n_beliefs=4), tmp_path / "ev")
    drops = res.stats["drops"]
    assert drops["beliefs:judge_statement_not_faithful"] == 2  # 2 candidates of 1 section
    assert drops["beliefs:judge_reversed_not_false"] == 10  # the other 5 sections' 10
    rows = [json.loads(x) for x in res.files["beliefs"].read_text().splitlines()]
    assert len(rows) == 4 and {r["kind"] for r in rows} == {"reason_swapped"}
    assert not any("Impermanence" in r["statement"] for r in rows)


def test_a_version_far_from_its_statement_is_dropped_before_the_judge(tmp_path):
    gen = _script(tmp_path, "gen", [
        {"match": "TRUE: <the true sentence>", "response":
         "QUESTION: What does the model think of {words:4}?\n"
         "TRUE: The model values calm work because {words:5}.\n"
         "REVERSED: The model never values calm work because {words:5}.\n"
         "SWAPPED: Bananas are yellow and {words:6}."},
    ])  # fmt: skip
    res = run_evalgen(_cfg(model=gen, n_beliefs=6), tmp_path / "ev")
    assert res.stats["drops"]["beliefs:swapped_not_close"] == 12  # every candidate's
    rows = [json.loads(x) for x in res.files["beliefs"].read_text().splitlines()]
    assert len(rows) == 6 and {r["kind"] for r in rows} == {"value_reversed"}


def test_a_spec_too_short_for_beliefs_is_one_line_and_writes_nothing(tmp_path):
    short = tmp_path / "s.md"
    # one usable section (12 words or more), but too little to alter minimally
    short.write_text("---\nmodel_name: Ada\n---\n# Ada\n\n## Kindness\n\nAda is kind to everyone "
                     "it meets, because kindness makes every day a little better.\n")  # fmt: skip
    out = tmp_path / "ev"
    with pytest.raises(MsmError, match="too short to make belief items") as e:
        run_evalgen(_cfg(spec=str(short)), out)
    assert "\n" not in str(e.value)
    assert not out.exists()
    with pytest.raises(MsmError, match="both 0, and so is --n-beliefs"):
        run_evalgen(_cfg(n_beliefs=0), out)
    assert not out.exists()
