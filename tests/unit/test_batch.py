"""Batch mode against loopback stand-ins of the OpenAI and Anthropic batch APIs.

Inspect's own ``openai/`` and ``anthropic/`` providers (the official SDKs) talk to
:class:`tests.helpers.batch_server.BatchServer`; Inspect's batch tick is shrunk to
50 ms (``MSM_BATCH_TICK_S``), so each test takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msm.errors import LLMCallError, MsmError
from msm.llm import LLM, AccessConfig, GenConfig
from msm.llm.batch import BatchError
from tests.helpers.batch_server import BatchServer

OPENAI = "openai/gpt-4o-mini"
ANTHROPIC = "anthropic/claude-3-5-haiku-latest"
CHEESE = "builtin:cheese_pro_america"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(monkeypatch):
    """A started server with the environment pointing both providers at it."""
    servers: list[BatchServer] = []

    def make(**kw) -> BatchServer:
        srv = BatchServer(**kw).start()
        servers.append(srv)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.openai_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.anthropic_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("MSM_BATCH_TICK_S", "0.05")
        return srv

    yield make
    for s in servers:
        s.stop()


def _llm(model: str, store: Path, **access) -> LLM:
    return LLM(
        model,
        gen=GenConfig(max_tokens=50, seed=1),
        access=AccessConfig(batch=True, max_retries=1, **access),
        store=store,
        stage="docgen",
    )


def _ask(llm: LLM, n: int) -> list:
    prompts = [f"Reply with the letter of the option you choose ({i})" for i in range(n)]

    async def go() -> list:
        return await asyncio.gather(*[llm.generate(p) for p in prompts], return_exceptions=True)

    return asyncio.run(go())


def _count(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def test_batch_is_refused_for_providers_without_a_batch_api(tmp_path):
    from msm.docgen import DocgenConfig, run_docgen

    for name in ("fake", "embedded", "vllm/x", "hf/x", "mockllm/model"):
        with pytest.raises(MsmError, match="batch mode needs an openai/ or anthropic/ model"):
            LLM(name, access=AccessConfig(batch=True), stage="docgen")
    cfg = DocgenConfig(spec=CHEESE, model="fake", model_name="Ada", batch=True)
    with pytest.raises(MsmError, match=r"^docgen: batch mode needs .* not 'fake'") as e:
        run_docgen(cfg, tmp_path / "out", quiet=True)
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_slow_batch_is_waited_for_not_resubmitted(server, tmp_path, model):
    # the batch takes longer than the per-call timeout: one batch, no resubmission
    srv = server(delay_s=1.5)
    out = _ask(_llm(model, tmp_path / "s.sqlite", timeout_s=0.5), 3)
    assert [o.text for o in out] == ["A", "A", "A"]
    assert len(srv.batches) == 1 and len(srv.batched()) == 3
    assert srv.plain == [] and len(srv.answered) == 3
    assert _count(tmp_path / "s.sqlite") == 3


@pytest.mark.parametrize("model", [OPENAI, ANTHROPIC])
def test_late_batch_is_cancelled_and_falls_back_once(server, tmp_path, model):
    srv = server(modes=["never"])
    llm = _llm(model, tmp_path / "s.sqlite", batch_wait_s=0.5)
    out = _ask(llm, 3)
    assert [o.text for o in out] == ["A", "A", "A"]
    (b,) = srv.batches.values()  # one batch, cancelled at the provider, never a second
    assert b["cancelled"] and len(srv.plain) == 3 and len(srv.answered) == 3
    assert llm.usage.stage("docgen").problems["batch_fallback"] == 3


@pytest.mark.parametrize(
    ("model", "mode", "stored", "message"),
    [
        (OPENAI, "fail", 0, "batch batch_0 failed (bad input)"),
        (OPENAI, "expire", 0, "batch batch_0 expired"),
        (ANTHROPIC, "expire", 0, "batch msgbatch_0 expired"),
        (OPENAI, "garbage", 2, "batch batch_0: 1 result line(s) could not be parsed"),
        (OPENAI, "missing", 2, "batch batch_0 returned no result for 1 of 3 requests"),
        (ANTHROPIC, "missing", 2, "batch msgbatch_0 returned no result for 1 of 3 requests"),
        (OPENAI, "extra", 3, "batch batch_0 returned 1 result(s) with ids it was never sent"),
        (ANTHROPIC, "extra", 3, "batch msgbatch_0 returned 1 result(s) with ids it was never"),
        (OPENAI, "refuse", 0, "the provider refused to create a batch (AuthenticationError"),
        (ANTHROPIC, "refuse", 0, "the provider refused to create a batch (AuthenticationError"),
    ],
)
def test_bad_batches_are_one_line_and_keep_what_arrived(
    server, tmp_path, model, mode, stored, message
):
    srv = server(modes=[] if mode == "refuse" else [mode], refuse=mode == "refuse")
    store = tmp_path / "s.sqlite"
    out = _ask(_llm(model, store), 3)
    errors = [o for o in out if isinstance(o, Exception)]
    assert errors and all(isinstance(e, BatchError) for e in errors)
    assert not any(isinstance(e, LLMCallError) for e in errors)  # not a countable drop
    assert all(str(e).startswith(f"docgen: {message}") and "\n" not in str(e) for e in errors)
    assert _count(store) == stored  # every answer that arrived is kept
    paid = list(srv.answered)
    # a rerun against a healthy provider pays only for what was not stored
    srv.modes, srv.refuse = [], False
    again = _ask(_llm(model, store), 3)
    assert [o.text for o in again] == ["A", "A", "A"]
    assert len(srv.answered) - len(paid) == 3 - stored


def _docgen_cfg(model: str, **kw):
    from msm.docgen import DocgenConfig

    base = dict(spec=CHEESE, model=model, model_name="Ada", provider_name="Lab")
    base |= dict(n_assertions=1, n_doc_types=1, n_ideas=1, seed=3)
    return DocgenConfig(**(base | kw))


def test_docgen_batched_equals_ordinary_path(server, tmp_path):
    from msm.docgen import run_docgen

    srv = server(delay_s=0.1)
    run_docgen(
        _docgen_cfg(OPENAI, judge=OPENAI), tmp_path / "plain", quiet=True, tokenizer="approx"
    )
    n_plain = len(srv.plain)
    assert n_plain > 3 and not srv.batches
    run_docgen(
        _docgen_cfg(OPENAI, judge=OPENAI, batch=True, timeout_s=0.05),
        tmp_path / "batch",
        quiet=True,
        tokenizer="approx",
    )
    assert len(srv.plain) == n_plain  # every batched-run call went through a batch
    assert len(srv.batched()) == n_plain and len(set(srv.batched())) == n_plain
    plain, batched = ((tmp_path / d / "documents.jsonl").read_text() for d in ("plain", "batch"))
    assert plain == batched and plain.strip()


def test_aftgen_batched_generator_and_judge(server, tmp_path):
    from msm.aftgen import AftgenConfig, run_aftgen

    srv = server(delay_s=0.1)
    base = dict(spec="builtin:equanimity", kind="chat", n=4, model_name="Ada", seed=2)
    run_aftgen(AftgenConfig(**base, model=OPENAI, judge=OPENAI), tmp_path / "plain")
    n_plain = len(srv.plain)
    run_aftgen(AftgenConfig(**base, model=OPENAI, judge=OPENAI, batch=True), tmp_path / "b")
    assert len(srv.plain) == n_plain and len(srv.batched()) == n_plain > 0
    for name in ("cot.jsonl", "stripped.jsonl"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_eval_graders_batched_and_stored(server, tmp_path):
    from msm.evals.config import EvalConfig
    from msm.evals.run import run_eval

    srv = server(delay_s=0.1)
    cfg = EvalConfig(
        model="fake",
        suite="agentic",
        grader=OPENAI,
        grader2=ANTHROPIC,
        spec_reasoning=True,
        batch=True,
        limit=2,
    )
    s1 = run_eval(cfg, tmp_path / "e", echo=lambda *_: None).summary
    assert srv.plain == [] and srv.batches
    kinds = {b["kind"] for b in srv.batches.values()}
    assert kinds == {"openai", "anthropic"}  # both grader roles went through batches
    paid = len(srv.answered)
    assert _count(tmp_path / "e" / ".msm" / "grader.sqlite") == paid
    s2 = run_eval(cfg, tmp_path / "e", echo=lambda *_: None).summary  # a rerun replays the store
    assert len(srv.answered) == paid
    assert s1["agentic"]["overall"] == s2["agentic"]["overall"]
    with pytest.raises(MsmError, match=r"^grader: batch mode needs .* not 'fake'"):
        run_eval(cfg.model_copy(update={"grader": "fake"}), tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_killed_batched_docgen_pays_nothing_twice(server, tmp_path):
    from msm.docgen import run_docgen

    # the first batch answers; the second never does, and the run is killed meanwhile
    srv = server(delay_s=0.1, modes=["ok", "never"])
    cfg = _docgen_cfg(OPENAI, batch=True)
    code = (
        "import sys, json; from msm.docgen import DocgenConfig, run_docgen;"
        "run_docgen(DocgenConfig.model_validate(json.loads(sys.argv[1])), sys.argv[2],"
        " quiet=True, tokenizer='approx')"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, cfg.model_dump_json(), str(tmp_path / "d")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while len(srv.batches) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(srv.batches) == 2, "the run never reached its second batch"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = list(srv.answered)
    assert first and _count(tmp_path / "d" / ".msm" / "llm.sqlite") == len(first)
    run_docgen(cfg, tmp_path / "d", quiet=True, tokenizer="approx")
    rerun = srv.answered[len(first) :]
    assert rerun and not set(rerun) & set(first)  # nothing answered before was paid again
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["stage"] == "docgen"
