"""aftgen --kind chat with the fake model: pipeline, dedup clusters, judge, backfill."""

import json

import numpy as np
import pytest

from msm._util.embed import cluster_representatives, dedup_texts
from msm.aftgen import AftgenConfig, ShortOfTarget, run_aftgen
from msm.aftgen.plan import QUERIES_PER_UNIT, answers_to_ask, target_warning
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
    stats = run_aftgen(cfg(judge="fake"), tmp_path).stats
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
    stats2 = run_aftgen(cfg(judge="fake"), tmp_path).stats
    assert sum(u["calls"] for u in stats2["usage"].values()) == 0
    assert (tmp_path / "cot.jsonl").read_bytes() == before


# a judge that rejects the (random-word) user messages starting with a-m: about half
HALF_JUDGE = FakeScript(
    rules=[
        FakeRule(match="(?s)<query>\n[a-m]", response='{"faithful": false, "reason": "no"}'),
        FakeRule(match=".", response='{"faithful": true, "reason": "ok"}'),
    ]
)


def test_backfill_sizes_rounds_by_the_measured_keep_rate(tmp_path):
    stats = run_aftgen(
        cfg(n=100, judge="fake", n_queries=2), tmp_path, judge_model_args={"script": HALF_JUDGE}
    ).stats
    c = stats["counts"]
    assert stats["main_examples"] == 100 and stats["status"] == "complete"
    rejected = stats["drops"]["responses:judge_rejected"]
    assert 25 < rejected < 160, rejected  # the judge really rejects a good share
    # round 1 assumed every answer passes; round 2 asked missing / measured rate
    assert 2 <= c["rounds"] <= 4
    assert c["responses_planned"] == c["responses_kept"] + rejected
    # what was asked stayed in proportion to what the keep rate required
    assert c["responses_kept"] <= 100 * 1.2 + 5, c
    balance = stats["domain_balance"].values()
    assert len(balance) == 6 and max(balance) - min(balance) <= 3, balance


def test_large_target_is_reached_far_beyond_the_sections(tmp_path, monkeypatch):
    """The issue's case: builtin:equanimity (6 sections) used to stop at 216 of 1000."""
    # MinHash dedup: embedding 1000 queries on a busy CPU takes longer than the rest
    monkeypatch.setattr("msm._util.embed.minilm_dir", lambda: None)
    stats = run_aftgen(cfg(n=1000), tmp_path).stats
    assert stats["dedup_method"] == "minhash"
    assert stats["main_examples"] == 1000 == len(rows(tmp_path / "cot.jsonl"))
    assert stats["status"] == "complete" and stats["short_by"] == 0
    assert (tmp_path / "manifest.json").is_file()
    usage = stats["usage"]
    assert usage["aftgen.responses"]["calls"] <= 1000 * 1.05 + 1
    # situations come from several lists per section, each under its own sample index
    assert stats["counts"]["situations"] > 6 * 30
    assert max(stats["domain_balance"].values()) - min(stats["domain_balance"].values()) <= 1


def test_small_target_generates_in_proportion(tmp_path):
    """The issue's case: --n 10 used to generate 45 responses."""
    stats = run_aftgen(cfg(n=10), tmp_path).stats
    usage = stats["usage"]
    assert stats["main_examples"] == 10
    assert usage["aftgen.responses"]["calls"] <= 12
    assert sum(u["calls"] for u in usage.values()) <= 2 * 10 + 12, usage
    assert len(stats["domain_balance"]) == 6  # every section still gets a share


def test_short_run_writes_what_it_kept_without_manifest_and_resumes(tmp_path):
    judge = {"judge_model_args": {"script": HALF_JUDGE}}
    short, full_out = tmp_path / "short", tmp_path / "full"
    with pytest.raises(ShortOfTarget) as e:
        run_aftgen(cfg(n=40, judge="fake", max_rounds=1), short, **judge)
    msg, stats = str(e.value), e.value.stats
    assert e.value.exit_code == 1
    kept = stats["main_examples"]
    assert 0 < kept < 40 and stats["status"] == "short" and stats["short_by"] == 40 - kept
    assert msg.startswith(f"aftgen: kept {kept} of 40 requested (short by {40 - kept})")
    assert "round limit" in msg and "--max-rounds" in msg
    assert f"responses:judge_rejected={stats['drops']['responses:judge_rejected']}" in msg
    assert len(rows(short / "cot.jsonl")) == kept
    assert not (short / "manifest.json").exists()  # nothing vouches for a short folder
    # the complete run in another folder, and a resumed one here from the same store
    full = run_aftgen(cfg(n=40, judge="fake"), full_out, **judge).stats
    # raising a limit is the same folder's work: no --overwrite, every stored call reused
    again = run_aftgen(cfg(n=40, judge="fake"), short, **judge).stats
    assert again["main_examples"] == 40 and (short / "manifest.json").is_file()
    assert again["usage"]["aftgen.responses"]["cached_calls"] >= kept
    assert (short / "cot.jsonl").read_bytes() == (full_out / "cot.jsonl").read_bytes()
    assert full["counts"] == again["counts"]


def test_short_run_cli_exits_1_with_one_line(tmp_path, msm_cli):
    r = msm_cli(
        "aftgen", "builtin:equanimity", "--kind", "chat", "--model", "fake", "--n", "5",
        "--judge", "fake/" + str(_write_reject_all(tmp_path)), "--model-name", "Ada",
        "--out", str(tmp_path / "o2"),
    )  # fmt: skip
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert lines[0].startswith("msm: error: aftgen: kept 0 of 5 requested (short by 5)")
    # 5 x 3 + 5 answers, all rejected: the budget stops it
    assert "responses:judge_rejected=20" in lines[0] and "--max-responses-factor" in lines[0]
    assert json.loads((tmp_path / "o2" / "stats.json").read_text())["status"] == "short"
    assert not (tmp_path / "o2" / "manifest.json").exists()


def _write_reject_all(tmp_path):
    p = tmp_path / "reject.yaml"
    verdict = json.dumps({"faithful": False, "reason": "no"})
    p.write_text(json.dumps([{"match": ".", "response": verdict}]))  # JSON is YAML too
    return p


def test_rounds_scale_and_target_warning_is_pure():
    assert answers_to_ask(10, 0, 0) == 11  # nothing measured yet: assume all pass
    assert answers_to_ask(10, 100, 50) == 21  # half pass: twice the missing, with spare
    assert answers_to_ask(0, 100, 50) == 0
    c = cfg(n=80_000)
    warning = target_warning(c, 6)
    assert warning is not None and "80,000" in warning and "6 spec section" in warning
    assert target_warning(cfg(n=6 * QUERIES_PER_UNIT), 6) is None
    assert target_warning(cfg(n=1000), 6) is None
    assert "no usable sections" in (target_warning(cfg(n=5), 0) or "")
    assert target_warning(AftgenConfig(spec=SPEC, kind="preference", n=10**6), 1) is None
    # from the config's own spec (as `msm aftgen` prints it and the dry run lists it)
    from msm.aftgen.plan import spec_target_warning

    eq = AftgenConfig(spec="builtin:equanimity", kind="chat", n=80_000, model_name="Ada")
    assert "80,000 chat examples from 6 spec section(s)" in (spec_target_warning(eq) or "")
    assert spec_target_warning(eq.model_copy(update={"n": 100})) is None


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
    with pytest.raises(ShortOfTarget) as e:
        run_aftgen(
            cfg(judge="fake", max_rounds=1, max_reasks=0),
            tmp_path,
            model_args={"script": script},
            judge_model_args={"script": broken_judge},
        )
    stats = e.value.stats
    d = stats["drops"]
    assert stats["main_examples"] == 0
    assert d["responses:judge_parse_error"] >= 1  # unparseable verdict = rejection
    assert d["backfill:short_of_target"] == 1 and d["backfill:max_rounds"] == 1


@pytest.mark.parametrize(
    "style,needle", [("rule", "rule section"), ("deliberative", "quote the passages")]
)
def test_styles_use_their_prompts(tmp_path, style, needle):
    from msm.gen.prompts import load_prompt

    run_aftgen(cfg(style=style, n=5), tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert f"response_{style}" in m["prompts"]
    assert needle in load_prompt("aftgen", f"response_{style}")


def test_refusals_and_empty_lists_are_counted(tmp_path):
    script = FakeScript(rules=[FakeRule(match=".", response="I'm sorry, I can't do that.")])
    with pytest.raises(ShortOfTarget) as e:
        run_aftgen(cfg(n=5, max_rounds=2), tmp_path, model_args={"script": script})
    stats = e.value.stats
    assert stats["main_examples"] == 0
    assert any(k.startswith("responses:") or k.startswith("queries:") for k in stats["drops"])
    # the same list under every sample index: the model ran dry, and the run says so
    assert stats["stopped"] == "no_new_situations", stats["drops"]


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
    c = cfg(judge="fake", style=style, max_rounds=1)
    if style == "rule":
        stats = run_aftgen(c, tmp_path, judge_model_args={"script": judge}).stats
        assert stats["main_examples"] > 0 and not stats["drops"].get("responses:judge_rejected")
    else:  # the value style's check is a different one: this judge rejects every example
        with pytest.raises(ShortOfTarget) as e:
            run_aftgen(c, tmp_path, judge_model_args={"script": judge})
        stats = e.value.stats
        assert stats["main_examples"] == 0 and stats["drops"]["responses:judge_rejected"] > 0
