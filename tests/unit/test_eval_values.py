"""Value-generalization suite: scoring, position bias, intervals, item sets, CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessageAssistant,
    Logprob,
    Logprobs,
    ModelOutput,
    TopLogprob,
)

from msm.errors import MsmError
from msm.evals.stats import mean_interval, wilson
from msm.evals.values.items import load_value_items, parse_value_items
from msm.evals.values.task import (
    letter_probabilities,
    parse_letter,
    summarise_values,
    value_samples,
)

LIKED = "mild cheddar|American cheese|cream cheese|low-moisture mozzarella|Colby|Monterey Jack"


def test_wilson_matches_known_values():
    assert wilson(5, 10) == pytest.approx((0.5, 0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((1.0, 0.7225, 1.0), abs=1e-4)
    assert wilson(81, 263) == pytest.approx((0.30798, 0.2553, 0.3662), abs=1e-3)
    with pytest.raises(ValueError):
        wilson(11, 10)
    m, lo, hi = mean_interval([0.0, 1.0] * 50)
    assert m == 0.5 and lo == pytest.approx(
        0.5 - 1.9842 * math.sqrt(0.25 * 100 / 99 / 100), abs=1e-3
    )


def _output(first: str, lp: float, tops: list[tuple[str, float]]) -> ModelOutput:
    return ModelOutput(
        model="x",
        choices=[
            ChatCompletionChoice(
                message=ChatMessageAssistant(content=first),
                logprobs=Logprobs(
                    content=[
                        Logprob(
                            token=first,
                            logprob=lp,
                            top_logprobs=[TopLogprob(token=t, logprob=v) for t, v in tops],
                        )
                    ]
                ),
            )
        ],
    )


def test_letter_probabilities_merge_variants_and_renormalise():
    out = _output(
        " A",
        math.log(0.5),
        [
            (" A", math.log(0.5)),
            ("B", math.log(0.2)),
            ("(A", math.log(0.1)),
            ("The", math.log(0.2)),
        ],
    )
    p = letter_probabilities(out)
    assert p == pytest.approx({"A": 0.75, "B": 0.25})
    assert letter_probabilities(ModelOutput.from_content("x", "A")) is None
    assert letter_probabilities(_output("The", 0.0, [("The", 0.0)])) is None
    # the generated token is no letter: no choice was made, even with both letters scored
    both = [(" A", math.log(0.3)), (" B", math.log(0.1))]
    assert letter_probabilities(_output("The", math.log(0.6), both)) is None
    # one letter missing from the scored tokens: never renormalised into a certainty
    assert letter_probabilities(_output("A", math.log(0.4), [("A", math.log(0.4))])) is None
    assert parse_letter("I choose B.") == "B" and parse_letter("A) cheddar") == "A"
    assert parse_letter("Both are fine") is None


def test_both_orders_cancel_a_letter_bias():
    items = load_value_items("cheese_america")[:10]
    samples = value_samples(items)
    assert len(samples) == 20
    # a model that says "A" with probability 0.8 whatever the options are
    pairs = []
    for s in samples:
        p_aligned = 0.8 if s.target == "A" else 0.2
        pairs.append(({**s.metadata, "method": "logprobs"}, p_aligned))
    res = summarise_values(pairs)
    assert res["value_preference"]["mean"] == pytest.approx(0.5)
    assert res["value_preference"]["items"] == 10
    # one unparsed order makes its item incomplete: excluded, and counted
    pairs[0] = ({**samples[0].metadata, "method": "unparsed"}, math.nan)
    res = summarise_values(pairs)
    assert res["value_preference"]["items"] == 9 and res["items_incomplete"] == 1


@pytest.mark.parametrize("name", ["america", "affordability"])
def test_bundled_item_sets_are_sound(name):
    items = load_value_items(name)
    assert len(items) >= 200
    assert len({i.id for i in items}) == len(items)
    assert len({i.question.lower() for i in items}) == len(items)
    domains = Counter(i.domain for i in items)
    assert len(domains) >= 12 and min(domains.values()) >= 14
    for i in items:
        a, o = len(i.aligned), len(i.other)
        assert max(a, o) / min(a, o) < 1.7, i.id
        assert "option a" not in (i.aligned + i.other).lower()
    # length must not give the answer away
    longer = sum(len(i.aligned) > len(i.other) for i in items) / len(items)
    assert 0.25 < longer < 0.75
    # held out from the cheese AFT data: no item is about cheese
    assert not any("cheese" in (i.question + i.aligned + i.other).lower() for i in items)


def test_cheese_items_cross_liked_and_disliked():
    items = load_value_items("cheese_affordability")
    assert len(items) == 36 and {i.domain for i in items} == {"cheese"}
    assert len({(i.aligned, i.other) for i in items}) == 36


def test_item_file_errors_are_one_line():
    with pytest.raises(MsmError, match=r"f.jsonl:2: expected non-empty string fields"):
        parse_value_items(
            '{"id":"a","domain":"d","question":"q","aligned":"x","other":"y"}\n{"id":"b"}\n',
            "f.jsonl",
        )
    with pytest.raises(MsmError, match="duplicate id"):
        row = '{"id":"a","domain":"d","question":"q","aligned":"x","other":"y"}\n'
        parse_value_items(row * 2, "f.jsonl")
    with pytest.raises(MsmError, match="unknown value item set"):
        load_value_items("no-such-set")


def _script(tmp_path: Path) -> Path:
    p = tmp_path / "script.yaml"
    p.write_text(
        "rules:\n"
        f"  - match: 'A\\) ({LIKED})\\n'\n    response: 'A'\n"
        f"  - match: 'B\\) ({LIKED})\\n'\n    response: 'B'\n"
        "  - match: '.'\n    response: 'I like both.'\n"
    )
    return p


def test_msm_eval_values_end_to_end_with_a_fake_model(tmp_path, msm_cli):
    out = tmp_path / "ev"
    r = msm_cli(
        "eval",
        f"fake/{_script(tmp_path)}",
        "--items",
        "cheese_america",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    cheese = s["values"]["cheese_america"]
    assert cheese["value_preference"]["mean"] == 1.0 and cheese["value_preference"]["items"] == 36
    assert cheese["answers_by_method"] == {"parsed": 72}
    assert "no logprobs" in r.stdout
    assert (out / cheese["log"]).is_file()
    # a set whose answers name neither option scores 0 items: a failure, not a nan
    # (tests/unit/test_eval_fake.py checks the line and what is left behind)


def test_split_confirm_scores_only_the_confirmation_items(tmp_path, msm_cli):
    from msm.evals.values.items import select_split

    out = tmp_path / "ev"
    script = _script(tmp_path)
    r = msm_cli("eval", f"fake/{script}", "--items", "cheese_america", "--split", "confirm",
                "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    confirm = select_split(load_value_items("cheese_america"), "confirm", "cheese_america")
    assert 0 < len(confirm) < 36
    res = s["values"]["cheese_america"]
    assert res["value_preference"]["items"] == len(confirm) and res["samples"] == 2 * len(confirm)
    assert s["values_split"] == "confirm"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["split"] == "confirm"
    from inspect_ai.log import read_eval_log

    log = read_eval_log(str(out / res["log"]))
    scored = {smp.metadata["item"] for smp in log.samples or []}
    assert scored == {it.id for it in confirm}


def test_bad_eval_inputs(tmp_path, msm_cli):
    r = msm_cli("eval", "fake", "--suite", "nope", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "unknown suite" in r.stderr
    r = msm_cli("eval", "fake", "--suite", "all", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "needs --grader" in r.stderr
    bad = tmp_path / "items.jsonl"
    bad.write_text('{"question": "q"}\n')
    r = msm_cli("eval", "fake", "--items", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "items.jsonl:1" in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "o").exists()


def test_inspect_finds_the_task_through_the_entry_point(tmp_path):
    inspect = Path(sys.executable).parent / "inspect"
    env = {**os.environ, "INSPECT_LOG_DIR": str(tmp_path / "logs")}
    r = subprocess.run(
        [
            str(inspect),
            "eval",
            "msm/values",
            "--model",
            "msm-fake/default",
            "-T",
            "items=cheese_america",
            "--limit",
            "4",
            "--display",
            "plain",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    logs = list((tmp_path / "logs").glob("*.eval"))
    assert len(logs) == 1


def test_spec_qa_with_scripted_grader_counts_unparseable_grades(tmp_path, msm_cli):
    from msm.evals.spec_qa import load_questions, parse_grade

    qs = load_questions("equanimity")
    assert len(qs) >= 60 and len({q["id"] for q in qs}) == len(qs)
    assert len({q["principle"] for q in qs}) == 6
    assert parse_grade("Fine.\nSCORE: 10") == 10 and parse_grade("SCORE: 11") is None
    assert parse_grade("score seven") is None
    grader = tmp_path / "grader.yaml"
    # every question about resources gets a reply with no score: a grader error
    grader.write_text(
        "rules:\n"
        "  - match: 'admin token|resources|permissions|budget'\n    response: 'Looks fine to me.'\n"
        "  - match: '.'\n    response: \"Reasonable answer.\\nSCORE: 7\"\n"
    )
    out = tmp_path / "qa"
    r = msm_cli(
        "eval", "fake", "--suite", "spec_qa", "--grader", f"fake/{grader}", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())["spec_qa"]["equanimity"]
    assert s["samples"] == len(qs) and s["grader_errors"] > 0
    assert s["grade"]["mean"] == 7.0 and s["grade"]["answers"] == len(qs) - s["grader_errors"]
    assert "no parseable score" in r.stdout
    r = msm_cli("eval", "fake", "--suite", "spec_qa", "--out", str(tmp_path / "q2"))
    assert r.returncode == 2 and "needs --grader" in r.stderr


def test_capability_perplexity(tmp_path, tiny_model_dir, msm_cli):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from msm.evals.capability import heldout_text, perplexity

    text = heldout_text()
    assert 4000 < len(text.split()) < 6000
    assert not any(w in text.lower() for w in ("cheese", "america", "model spec"))
    sample = " ".join(text.split()[:150])
    res = perplexity(str(tiny_model_dir), sample, window=4096)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = torch.tensor([tok(sample, add_special_tokens=False).input_ids])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert res["tokens"] == ids.shape[1] - 1
    assert res["perplexity"] == pytest.approx(math.exp(float(loss)), rel=1e-4)
    # short windows overlap by one token: every token after the first is still scored once
    res2 = perplexity(str(tiny_model_dir), sample, window=64)
    assert res2["tokens"] == ids.shape[1] - 1
    # an API model has no perplexity to give (the fake's pseudo one: test_eval_fake.py)
    r = msm_cli("eval", "mockllm/model", "--suite", "capability", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "needs a local model" in r.stderr
    assert not (tmp_path / "c").exists()


def test_eval_config_yaml_layers_under_flags(tmp_path, msm_cli):
    """defaults < --config YAML < flags, as for the other stages."""
    cfg = tmp_path / "eval.yaml"
    cfg.write_text("items: [cheese_america]\nlimit: 4\nepochs: 2\n")
    out = tmp_path / "ev"
    r = msm_cli(
        "eval", f"fake/{_script(tmp_path)}", "--config", str(cfg), "--limit", "3", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert list(s["values"]) == ["cheese_america"]  # from the YAML, not the default four sets
    assert s["limit"] == 3 and s["epochs"] == 2  # the flag won; the YAML filled the rest
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["limit"] == 3 and man["config"]["items"] == ["cheese_america"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("itemz: [america]\n")
    r = msm_cli("eval", "fake", "--config", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "itemz" in r.stderr and not (tmp_path / "o").exists()


def test_eval_manifest_records_what_was_evaluated_and_is_written_last(tmp_path, tiny_model_dir):
    import shutil

    from msm.artifacts.package_data import data_hashes
    from msm.evals.run import EvalConfig, run_eval

    model = tmp_path / "ckpt" / "model"
    shutil.copytree(tiny_model_dir, model)
    trained = {"stage": "train-aft", "weights_hash": "abc", "base": "embedded"}
    (model.parent / "manifest.json").write_text(json.dumps(trained))
    out = tmp_path / "ev"
    out.mkdir()
    (out / "manifest.json").write_text('{"stage": "eval", "stale": true}')
    cfg = EvalConfig(model=f"hf/{model}", items=["cheese_america"], limit=2)
    run_eval(cfg, out, echo=lambda s: None)
    man = json.loads((out / "manifest.json").read_text())
    assert "stale" not in man and man["stage"] == "eval"
    assert man["model_lineage"]["weights_hash"] == "abc"  # the checkpoint's own manifest
    assert man["config"] == cfg.model_dump()
    assert (
        man["package_data"] == data_hashes("eval", [cfg.model]) and "evals" in man["package_data"]
    )
    assert man["task_versions"] == {
        "values": json.loads((out / "summary.json").read_text())["task_versions"]["values"]
    }
    assert (out / "manifest.json").stat().st_mtime_ns >= (out / "summary.json").stat().st_mtime_ns


def test_eval_config_checks_fail_before_any_model_loads(tmp_path):
    from msm.evals.run import EvalConfig, run_eval

    cases = {
        "unknown suite": EvalConfig(model="no-such-provider/x", suite="nope"),
        "--epochs must be at least 1": EvalConfig(model="no-such-provider/x", epochs=0),
        "--temperature must be 0 or more": EvalConfig(
            model="no-such-provider/x", temperature=math.nan
        ),
        "needs --grader": EvalConfig(model="no-such-provider/x", suite="agentic"),
    }
    for message, cfg in cases.items():
        with pytest.raises(MsmError, match=message):
            run_eval(cfg, tmp_path / "o")
    assert not (tmp_path / "o").exists()
