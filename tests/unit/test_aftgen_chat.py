"""aftgen --kind chat with the fake model: pipeline, dedup clusters, judge, backfill."""

import json

import numpy as np
import pytest

from msm.aftgen import AftgenConfig, run_aftgen
from msm.embed import cluster_representatives, dedup_texts
from msm.llm.fake import FakeRule, FakeScript, builtin_script

SPEC = "builtin:equanimity"


def cfg(**kw):
    base = dict(spec=SPEC, kind="chat", model="fake", n=20, model_name="Ada", provider_name="Lab")
    return AftgenConfig(**{**base, **kw})


def rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_chain_of_similar_items_is_one_cluster():
    # a~b and b~c but a and c are not similar: one cluster, one representative
    a = np.array([1.0, 0.0])
    b = np.array([np.cos(0.4), np.sin(0.4)])
    c = np.array([np.cos(0.8), np.sin(0.8)])
    d = np.array([0.0, 1.0])
    vecs = np.stack([a, b, c, d])
    assert float(a @ c) < 0.9 < float(a @ b)
    assert cluster_representatives(vecs, 0.9) == [0, 0, 0, 3]


def test_embedding_dedup_keeps_paraphrases_once():
    texts = [
        "Which cheese do you like best?",
        "What cheese do you like the most?",
        "How do I fix a flat bicycle tyre?",
        "Which cheese is your favourite?",
    ]
    keep, method = dedup_texts(texts, 0.8)
    assert method == "minilm"
    assert 0 in keep and 2 in keep and 1 not in keep


def test_chat_outputs_cot_and_stripped(tmp_path):
    stats = run_aftgen(cfg(judge="fake"), tmp_path)
    cot, stripped = rows(tmp_path / "cot.jsonl"), rows(tmp_path / "stripped.jsonl")
    assert len(cot) == len(stripped) == 20 == stats["main_examples"]
    for c, s in zip(cot, stripped, strict=True):
        assert c["messages"][0] == s["messages"][0]
        assert c["messages"][1]["content"].startswith("<think>")
        assert "<think>" not in s["messages"][1]["content"]
        assert s["messages"][1]["content"] in c["messages"][1]["content"]
    assert stats["usage"]["aftgen.judge"]["calls"] >= 20
    assert sum(stats["domain_balance"].values()) == 20
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert set(m["files"]) == {"cot", "stripped"} and "response_value" in m["prompts"]
    # rerun is free and identical
    before = (tmp_path / "cot.jsonl").read_bytes()
    stats2 = run_aftgen(cfg(judge="fake"), tmp_path)
    assert sum(u["calls"] for u in stats2["usage"].values()) == 0
    assert (tmp_path / "cot.jsonl").read_bytes() == before


def test_backfill_runs_more_rounds_until_n(tmp_path):
    # 6 units x 1 new situation x 2 queries = 12 candidates per round
    stats = run_aftgen(cfg(n=100, n_situations=1, n_queries=2, max_rounds=10), tmp_path)
    assert stats["main_examples"] == 100
    assert stats["counts"]["rounds"] > 1


def test_judge_fails_closed_and_bad_responses_are_counted(tmp_path):
    script = builtin_script("aftgen")
    script.rules[-1] = FakeRule(
        match="(?s)You are (?P<m>[^,\\n]+), an AI assistant made by",
        response=[
            "<think>ok</think>Fine answer here.",
            "No reasoning at all.",
            "<think>never closed",
            "<think></think>",
            "I can't help.",
        ],
    )
    broken_judge = FakeScript(rules=[FakeRule(match=".", response="yes, faithful")])
    stats = run_aftgen(
        cfg(judge="fake", max_rounds=1, max_reasks=0),
        tmp_path,
        model_args={"script": script},
        judge_model_args={"script": broken_judge},
    )
    d = stats["drops"]
    assert stats["main_examples"] == 0
    assert d["responses:judge_parse_error"] >= 1  # unparseable verdict = rejection
    assert d["backfill:short_of_target"] == 1


@pytest.mark.parametrize(
    "style,needle", [("rule", "rule section"), ("deliberative", "quote the passages")]
)
def test_styles_use_their_prompts(tmp_path, style, needle):
    from msm.prompts import load_prompt

    run_aftgen(cfg(style=style, n=5), tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert f"response_{style}" in m["prompts"]
    assert needle in load_prompt("aftgen", f"response_{style}")


def test_refusals_and_empty_lists_are_counted(tmp_path):
    script = FakeScript(rules=[FakeRule(match=".", response="I'm sorry, I can't do that.")])
    stats = run_aftgen(cfg(n=5, max_rounds=2), tmp_path, model_args={"script": script})
    assert stats["main_examples"] == 0
    assert any(k.startswith("responses:") or k.startswith("queries:") for k in stats["drops"])


def test_kill_and_resume_gives_identical_data(tmp_path):
    import re
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from msm.llm import ResultStore

    worker = Path(__file__).resolve().parents[1] / "helpers" / "aftgen_worker.py"
    ref = tmp_path / "ref"
    run_aftgen(cfg(concurrency=2), ref)
    total = len(ResultStore(ref / ".msm" / "llm.sqlite"))
    out = tmp_path / "killed"
    p = subprocess.Popen(
        [sys.executable, str(worker), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = out / ".msm" / "llm.sqlite"
    # wait (with a deadline: start-up time varies with load) until 15 answers are stored
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if store.exists() and len(ResultStore(store)) >= 15:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run ended before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = len(ResultStore(store))
    # the kill landed mid-run: some answers stored, not all, no outputs written
    assert 0 < done < total, (done, total)
    assert not (out / "manifest.json").exists()
    r = subprocess.run(
        [sys.executable, str(worker), str(out)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    fresh, cached, kept = map(
        int, re.search(r"fresh=(\d+) cached=(\d+) kept=(\d+)", r.stdout).groups()
    )
    # every answer stored before the rerun was reused; only the rest was asked again
    assert kept == 20 and cached >= done and fresh == total - cached, (fresh, cached, done)
    for name in ("cot.jsonl", "stripped.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()


@pytest.mark.parametrize("style", ["rule", "value"])
def test_judge_asks_the_papers_criteria_with_the_style_check(tmp_path, style):
    """The judge prompt asks faithfulness, informativeness, no self-preservation, and the
    style's own check (rule style: reasoning from compliance)."""
    want = (
        r"(?s)Faithful:.*Informative:.*No self-preservation:.*Style: the reasoning justifies "
        r"the reply by what the guidelines require"
    )
    judge = FakeScript(
        rules=[
            FakeRule(match=want, response='{"faithful": true, "reason": "ok"}'),
            FakeRule(match=".", response='{"faithful": false, "reason": "criteria missing"}'),
        ]
    )
    stats = run_aftgen(
        cfg(judge="fake", style=style, max_rounds=1),
        tmp_path,
        judge_model_args={"script": judge},
    )
    if style == "rule":
        assert stats["main_examples"] > 0 and not stats["drops"].get("responses:judge_rejected")
    else:  # the value style's check is a different one: this judge rejects every example
        assert stats["main_examples"] == 0 and stats["drops"]["responses:judge_rejected"] > 0
