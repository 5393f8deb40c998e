"""The bundled SmolLM2, for real: conversion, generation, batching, truncation."""

import asyncio
import json
import time

import pytest

from msm.llm import LLM, GenConfig
from msm.llm.bundled import embedded_model_dir
from tests.conftest import run_msm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_dir():
    return embedded_model_dir()


def test_conversion_is_a_plain_hf_folder(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "msm-conversion.json"} <= names
    config = json.loads((model_dir / "config.json").read_text())
    assert "quantization_config" not in config  # would block fine-tuning later
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    n = sum(p.numel() for p in model.parameters())
    assert 130e6 < n < 140e6
    # later loads skip conversion
    t = time.perf_counter()
    assert embedded_model_dir() == model_dir
    assert time.perf_counter() - t < 0.5


def test_generate_greedy_and_batched(model_dir, tmp_path):
    llm = LLM("embedded", gen=GenConfig(max_tokens=24, temperature=0), store=tmp_path / "s.sqlite")

    async def go():
        solo = await llm.generate("What is the capital of France?", allow_truncated=True)
        many = await asyncio.gather(
            *[
                llm.generate(f"Name a colour. Request {i}.", sample=i, allow_truncated=True)
                for i in range(6)
            ]
        )
        return solo, many

    solo, many = asyncio.run(go())
    assert "Paris" in solo.text
    assert all(m.text.strip() for m in many)
    engine = llm.inspect_model().api.engine
    assert engine.largest_batch >= 4  # concurrent requests really shared a batch
    assert all(m.input_tokens > 0 and 0 < m.output_tokens <= 24 for m in many)


def test_truncation_detected_on_real_model(model_dir):
    llm = LLM("embedded", gen=GenConfig(max_tokens=4, temperature=0))
    out = asyncio.run(llm.generate("Write a long essay about rivers.", allow_truncated=True))
    assert out.truncated and out.stop_reason == "max_tokens" and out.output_tokens == 4
    short = asyncio.run(
        LLM("embedded", gen=GenConfig(max_tokens=64, temperature=0)).generate("Say just: yes")
    )
    assert not short.truncated and short.stop_reason == "stop"


def test_cli_generate_embedded(model_dir):
    r = run_msm(
        "generate",
        "What is the capital of France?",
        "--model",
        "embedded",
        "--max-tokens",
        "20",
        "--temperature",
        "0",
    )
    assert r.returncode == 0, r.stderr
    assert "Paris" in r.stdout


def test_cli_sections_real_spec_with_embedded_tokenizer(model_dir, real_spec):
    t = time.perf_counter()
    r = run_msm("spec", "sections", str(real_spec), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) >= 80 and sum(x["tokens"] for x in rows) > 50_000
    r2 = run_msm("spec", "lint", str(real_spec))
    assert r2.returncode == 0 and "score" in r2.stdout
    # both commands as subprocesses, interpreter start-up included
    assert time.perf_counter() - t < 10


def test_docgen_end_to_end_with_embedded(model_dir, tmp_path):
    from msm.docgen import DocgenConfig, run_docgen

    spec = tmp_path / "spec.md"
    spec.write_text(
        "# Honesty\n{model_name} always tells users the truth, because people make real "
        "decisions based on what it says and deserve accurate information.\n"
    )
    cfg = DocgenConfig(
        spec=str(spec),
        model="embedded",
        model_name="Smol",
        n_assertions=1,
        n_doc_types=1,
        n_ideas=1,
        docs_per_idea=2,
        doc_words=60,
        max_tokens_list=60,
        plan_first=False,
        truncated="trim",
        max_tokens_doc=100,
        min_words=10,
        max_reasks=0,
    )
    from msm.docgen.run import NothingKept

    try:
        stats = run_docgen(cfg, tmp_path / "out", quiet=True, tokenizer="embedded").stats
    except NothingKept as e:  # a 135M generator may keep none: the run fails, with counts
        stats = e.stats
    assert stats["units"] == 1 and stats["documents_generated"] == 2
    dropped = sum(v for k, v in stats["drops"].items() if k.startswith("documents:"))
    assert stats["documents_kept"] + dropped == 2  # every document kept or counted
    # a manifest exactly when something was kept
    assert (tmp_path / "out" / "manifest.json").is_file() is (stats["documents_kept"] > 0)
    assert stats["tokens"]["tokenizer"] == "embedded"


def test_midtrain_then_aft_on_the_bundled_model(tmp_path):
    """A few real steps of each stage; the merged model loads through Inspect's hf provider."""
    import asyncio as _asyncio

    docs = tmp_path / "documents.jsonl"
    docs.write_text(
        "".join(
            json.dumps({"text": f"Memo {i}: Ada prefers Colby because it is made in America."})
            + "\n"
            for i in range(8)
        )
    )
    chats = tmp_path / "cot.jsonl"
    chats.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Pick a cheese for party {i}."},
                        {"role": "assistant", "content": "<think>American-made.</think> Colby."},
                    ]
                }
            )
            + "\n"
            for i in range(8)
        )
    )
    mid, aft = tmp_path / "mid", tmp_path / "aft"
    common = ["--max-length", "128", "--micro-batch-size", "2", "--max-steps", "2"]
    r = run_msm(
        "train", "midtrain", "--base", "embedded", "--docs", str(docs), "--out", str(mid), *common
    )
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_msm(
        "train", "aft", "--base", str(mid), "--data", str(chats), "--out", str(aft), *common
    )
    assert r.returncode == 0, r.stderr[-2000:]
    man = json.loads((aft / "manifest.json").read_text())
    assert man["continued_adapter"] == str(mid / "adapter")
    assert man["base_lineage"]["stage"] == "train-midtrain"
    assert man["parameters"] > 130e6 and man["trainable_parameters"] < 0.2 * man["parameters"]
    llm = LLM(f"hf/{aft / 'model'}", gen=GenConfig(max_tokens=8, temperature=0), store=None)
    out = _asyncio.run(llm.generate("Which cheese?", allow_truncated=True))
    assert out.output_tokens > 0


def test_bundled_model_both_scorings_on_cheese_items(tmp_path):
    """Letter scoring reports how many of the base model's answers make no letter choice;
    loglik scoring scores every item. Both summaries carry their mode."""
    from msm.evals.run import EvalConfig, run_eval

    letter = run_eval(
        EvalConfig(model="embedded", items=["cheese_america"], scoring="letter", limit=12),
        tmp_path / "letter",
        echo=lambda s: None,
    ).summary["values"]["cheese_america"]
    # --limit counts items: 12 items, each asked in both option orders
    assert letter["scoring"] == "letter" and letter["samples"] == 24
    share = letter["unscorable_share"]
    assert share == letter["answers_by_method"].get("unscorable", 0) / 24
    loglik = run_eval(
        EvalConfig(model="embedded", items=["cheese_america"], limit=12),
        tmp_path / "loglik",
        echo=lambda s: None,
    ).summary["values"]["cheese_america"]
    assert loglik["scoring"] == "loglik" and loglik["acc"]["items"] == 12
    rows = (tmp_path / "loglik" / loglik["log"]).read_text().splitlines()
    assert len(rows) == 12 and all(json.loads(r)["ll_aligned"] < 0 for r in rows)


def test_quick_demo_runs_every_stage_and_states_the_three_results(tmp_path):
    """`msm demo --quick`: every stage on the bundled model at toy size, ending with the
    verdict on the declared primary contrast, then the exploratory contrasts (each with an
    interval and a Holm-adjusted p-value) and the report, which opens with the primary; a
    rerun resumes with nothing left to do."""
    out = tmp_path / "dq"
    r = run_msm("demo", "--quick", "--out", str(out), timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    text = r.stdout
    for heading in (
        "Primary (declared before the run): AFT generalization, msm_aft n=8 minus msm_only",
        "Exploratory (Holm-adjusted",
        "1. Positive controls",
        "2. The two directions",
        "3. The interaction",
        "4. AFT generalization",
    ):
        assert heading in text
    assert "msm_only: [pro_america − pro_affordability] on cheese_reasons" in text
    assert "aft_only, the AFT data's own phrasing:" in text
    assert "msm_only: interaction" in text and "msm_aft n=8: interaction" in text
    rep = json.loads((out / "report" / "report.json").read_text())
    kinds = {r["kind"] for r in rep["contrasts"]["interactions"]}
    assert kinds == {"direction", "interaction", "aft_generalization", "reasons"}
    assert {c["item_set"] for c in rep["contrasts"]["changes"]} == {"cheese_aft", "cheese_fit"}
    assert rep["primary"]["result"]["kind"] == "aft_generalization"
    assert rep["headline"][0].startswith("primary (declared before the run): AFT generalization")
    assert rep["headline"][1].startswith("msm_only: [pro_america − pro_affordability] on cheese")
    md = (out / "report" / "report.md").read_text()
    assert md.index("## Primary result") < md.index("## Headline metric by condition")
    again = run_msm("demo", "--quick", "--out", str(out), timeout=600)
    assert again.returncode == 0 and "14 already done, 0 to run" in again.stdout
