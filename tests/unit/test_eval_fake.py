"""Every eval suite runs offline on the ``fake`` model, and a suite that scores nothing fails."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from inspect_ai.model import GenerateConfig, ModelOutput

from msm.errors import MsmError
from msm.evals.agentic.task import summarise_agentic
from msm.evals.capability import fake_perplexity
from msm.evals.values.task import PROMPT, letter_probabilities, summarise_values
from msm.llm.fake import FakeRule, FakeScript, builtin_script
from msm.llm.names import get_inspect_model


def _generate(rules: list[FakeRule], prompt: str, **config: Any) -> ModelOutput:
    model = get_inspect_model("fake", model_args={"script": FakeScript(rules=rules)})
    out: ModelOutput = asyncio.run(model.generate(prompt, config=GenerateConfig(**config)))
    return out


def test_fake_options_answer_the_likeliest_with_logprobs_when_asked():
    rules = [FakeRule(match="Reply with the letter", options=["A", "B"])]
    asked = {"logprobs": True, "top_logprobs": 20}
    letters, probs = set(), []
    for i in range(12):
        prompt = PROMPT.format(question=f"Which one, case {i}?", a="this", b="that")
        out = _generate(rules, prompt, **asked)
        p = letter_probabilities(out)
        assert p is not None and p["A"] + p["B"] == pytest.approx(1.0)
        assert out.completion == max(p, key=lambda k: p[k])
        letters.add(out.completion)
        probs.append(p["A"])
        again = _generate(rules, prompt, **asked)
        assert letter_probabilities(again) == p
    assert letters == {"A", "B"} and len(set(probs)) == 12  # varied, not one fixed answer
    # without a request for logprobs none come back; the text still says the letter
    plain = _generate(rules, PROMPT.format(question="q", a="x", b="y"))
    assert plain.choices[0].logprobs is None and plain.completion in ("A", "B")
    with pytest.raises(ValueError, match="response or options"):
        FakeRule(match=".", response="A", options=["A", "B"])
    with pytest.raises(ValueError):
        FakeRule(match=".", options=["A"])


def test_fake_pick_directive_varies_with_the_transcript_not_only_the_seed():
    rules = [FakeRule(match="grade", response="ok\nSCORE: {pick:2|5|9}")]
    got = {_generate(rules, f"grade answer {i}").completion for i in range(20)}
    assert got == {"ok\nSCORE: 2", "ok\nSCORE: 5", "ok\nSCORE: 9"}
    assert (
        _generate(rules, "grade answer 3").completion
        == _generate(rules, "grade answer 3").completion
    )


def test_fake_perplexity_is_deterministic_and_says_it_is_fake():
    text = "the quick brown fox jumps over the lazy dog " * 20
    a, b = fake_perplexity(text), fake_perplexity(text)
    assert a == b and a["fake"] is True and a["tokens"] == len(text.split()) - 1
    assert math.e < a["perplexity"] < math.exp(5)  # each word's pseudo NLL is in [1, 5]
    assert fake_perplexity("other words entirely here")["perplexity"] != a["perplexity"]
    with pytest.raises(MsmError, match="too short"):
        fake_perplexity("one")


def test_values_summary_averages_epochs_within_each_order():
    # two epochs of each order: the item is complete, and both orders weigh the same
    rows = [
        ({"item": "i1", "domain": "d", "order": "aligned_first", "method": "logprobs"}, 1.0),
        ({"item": "i1", "domain": "d", "order": "aligned_first", "method": "logprobs"}, 1.0),
        ({"item": "i1", "domain": "d", "order": "aligned_first", "method": "logprobs"}, 1.0),
        ({"item": "i1", "domain": "d", "order": "aligned_second", "method": "logprobs"}, 0.0),
        ({"item": "i2", "domain": "d", "order": "aligned_first", "method": "logprobs"}, 0.5),
        ({"item": "i2", "domain": "d", "order": "aligned_first", "method": "logprobs"}, 0.5),
    ]
    res = summarise_values(rows)
    assert res["value_preference"]["items"] == 1 and res["value_preference"]["mean"] == 0.5
    assert res["items_incomplete"] == 1  # i2 was never asked with the options swapped


def test_attempt_is_scored_even_when_the_grader_gives_no_verdict():
    nan = float("nan")
    rows = [
        ({"scenario": "murder", "goal": "none-none"}, {"classifier_verdict": nan, "harmful": nan,
                                                       "attempt": 1.0}),
        ({"scenario": "murder", "goal": "none-none"}, {"classifier_verdict": 1.0, "harmful": 1.0,
                                                       "attempt": 1.0}),
        ({"scenario": "murder", "goal": "none-none"}, {"classifier_verdict": 0.0, "harmful": 0.0,
                                                       "attempt": 0.0}),
    ]  # fmt: skip
    o = summarise_agentic(rows)["overall"]
    assert o["judged"] == 2 and o["grader_errors"] == 1
    assert (o["classifier_verdict"]["k"], o["classifier_verdict"]["n"]) == (1, 2)
    assert (o["attempt"]["k"], o["attempt"]["n"]) == (2, 3)


def test_builtin_eval_script_loads():
    script = builtin_script("eval")
    assert any(r.options == ["A", "B"] for r in script.rules)


def test_every_suite_runs_offline_with_the_fake_model(tmp_path, msm_cli):
    out = tmp_path / "ev"
    r = msm_cli(
        "eval", "fake", "--suite", "all", "--grader", "fake", "--limit", "4", "--epochs", "2",
        "--items", "cheese_fit", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert "failed" not in s and (out / "manifest.json").is_file()
    # agentic: the harmful action in some samples and not in others, judged both ways
    o = s["agentic"]["overall"]
    assert o["samples"] == 8 and o["judged"] == 8 and o["grader_errors"] == 0
    for m in ("classifier_verdict", "harmful", "attempt"):
        assert 0 < o[m]["k"] < o[m]["n"] == 8, (m, o[m])
        assert math.isfinite(o[m]["rate"])
    for cond, c in s["agentic"]["by_condition"].items():
        # the fake grader follows what the agent did
        assert c["classifier_verdict"]["k"] == c["attempt"]["k"] == c["harmful"]["k"], cond
    # values: letters with logprobs, read by the real scorer
    v = s["values"]["cheese_fit"]
    # --limit 4: 4 items, each in both orders, twice (--epochs 2)
    assert v["value_preference"]["items"] == 4 and v["samples"] == 16
    assert math.isfinite(v["value_preference"]["mean"])
    assert set(v["answers_by_method"]) == {"logprobs"}
    # spec QA: every grader reply had a score; its 4 questions once (--epochs is agentic's,
    # spec QA has --spec-qa-epochs, 1 by default)
    q = s["spec_qa"]["equanimity"]
    assert q["grade"]["answers"] == 4 and q["grader_errors"] == 0
    assert 1 <= q["grade"]["mean"] <= 10
    # capability: a pseudo-perplexity, marked as such
    cap = s["capability"]
    assert cap["fake"] is True and math.isfinite(cap["perplexity"]) and cap["tokens"] > 1000
    assert "fake model" in r.stdout
    # where the Inspect logs are, and how to open them
    assert f"inspect view --log-dir {out / 'logs'}" in r.stdout
    assert len(list((out / "logs").glob("*.eval"))) == 3  # agentic, values, spec_qa


GIBBERISH = "rules:\n  - match: '.'\n    response: 'zzz qqq'\n"


def test_a_suite_that_scores_nothing_fails_with_one_line(tmp_path, msm_cli):
    script = tmp_path / "gibberish.yaml"
    script.write_text(GIBBERISH)
    out = tmp_path / "ev"
    r = msm_cli(
        "eval", f"fake/{script}", "--items", "cheese_fit", "--limit", "4", "--out", str(out)
    )
    assert r.returncode == 2, r.stdout[-2000:]
    (line,) = r.stderr.strip().splitlines()
    want = "values/cheese_fit: 0 of 4 items scored (8 answers named neither option)"
    assert line == f"msm: error: {want}"
    assert not out.exists()  # a failed first run leaves nothing behind
    # a rerun into an existing folder: the summary says it failed, and no manifest vouches
    from msm.evals.run import EvalConfig, run_eval

    out.mkdir()
    lines: list[str] = []
    cfg = EvalConfig(
        model=f"fake/{script}", suite="values,spec_qa", grader=f"fake/{script}",
        items=["cheese_fit"], limit=4,
    )  # fmt: skip
    with pytest.raises(MsmError) as e:
        run_eval(cfg, out, echo=lines.append)
    msg = str(e.value)
    assert "\n" not in msg and want in msg
    assert "spec_qa/equanimity: 0 of 4 answers scored (4 grader replies had no parseable" in msg
    s = json.loads((out / "summary.json").read_text())
    assert s["failed"] == str(e.value) and not (out / "manifest.json").exists()
    assert any("inspect view --log-dir" in ln for ln in lines)
