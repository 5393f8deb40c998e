import asyncio
import json
import time

import pytest
from pydantic import BaseModel

from msm.errors import LLMCallError, MsmError
from msm.llm import (
    LLM,
    AccessConfig,
    GenConfig,
    JsonParser,
    LineListParser,
    ParseError,
    ResultStore,
    resolve_model,
)
from msm.llm.answers import completion_text
from msm.llm.fake import FakeRule, FakeScript
from tests.helpers.openai_server import OpenAIServer


def fake(tmp_path, rules=(), store=True, **kw):
    script = FakeScript(rules=[FakeRule(**r) for r in rules])
    return LLM(
        "fake",
        store=tmp_path / "store.sqlite" if store else None,
        model_args={"script": script},
        **kw,
    )


def api_calls(llm):
    return llm.inspect_model().api.calls


def run(coro):
    return asyncio.run(coro)


def test_fake_is_deterministic_and_sample_index_matters(tmp_path):
    a = fake(tmp_path / "a")
    b = fake(tmp_path / "b")
    x0, x1 = run(a.generate("hello", sample=0)), run(a.generate("hello", sample=1))
    assert x0.text != x1.text
    assert run(b.generate("hello", sample=0)).text == x0.text


def test_store_means_never_paying_twice(tmp_path):
    llm = fake(tmp_path)
    first = run(llm.generate("q", sample=3))
    assert not first.cached and api_calls(llm) == 1
    again = run(llm.generate("q", sample=3))
    assert again.cached and again.text == first.text and api_calls(llm) == 1
    # a new process-like instance on the same store pays nothing
    llm2 = fake(tmp_path)
    third = run(llm2.generate("q", sample=3))
    assert third.cached and third.text == first.text and api_calls(llm2) == 0
    # any change of model settings, messages or sample is a different item
    run(llm2.generate("q", sample=4))
    run(llm2.generate("q", sample=3, max_tokens=70))
    run(llm2.generate("q", sample=3, system="be brief"))
    assert api_calls(llm2) == 3
    u = llm2.usage.as_dict()["default"]
    assert u["cached_calls"] == 1 and u["calls"] == 3


def test_retry_with_backoff_against_flaky_fake(tmp_path):
    llm = fake(
        tmp_path,
        rules=[{"match": "flaky", "error": "rate_limit", "times": 2, "response": "ok now"}],
        access=AccessConfig(max_retries=3),
    )
    out = run(llm.generate("a flaky call"))
    assert out.text == "ok now"
    assert api_calls(llm) == 3  # two failures, then success


def test_retries_exhausted_fail_with_reason_and_are_not_stored(tmp_path):
    llm = fake(
        tmp_path,
        rules=[{"match": "down", "error": "server", "times": 5, "response": "late"}],
        access=AccessConfig(max_retries=2),
    )
    with pytest.raises(LLMCallError) as e:
        run(llm.generate("server down"))
    assert e.value.reason == "server_error"
    assert api_calls(llm) == 3
    u = llm.usage.as_dict()["default"]
    assert (u["failed_calls"], u["retries"], u["errors"]) == (1, 2, {"server_error": 3})
    assert len(ResultStore(tmp_path / "store.sqlite")) == 0


def test_fatal_errors_are_not_retried(tmp_path):
    llm = fake(tmp_path, rules=[{"match": ".", "error": "fatal"}])
    with pytest.raises(LLMCallError):
        run(llm.generate("x"))
    assert api_calls(llm) == 1


def test_truncation_is_reported_never_silently_accepted(tmp_path):
    llm = fake(tmp_path, rules=[{"response": "one two three four five six seven"}])
    with pytest.raises(LLMCallError) as e:
        run(llm.generate("x", max_tokens=3))
    assert e.value.reason == "truncated"
    out = run(llm.generate("x", max_tokens=3, allow_truncated=True))
    assert out.truncated and out.stop_reason == "max_tokens" and out.text == "one two three"
    # the stored truncated answer stays truncated on a rerun
    with pytest.raises(LLMCallError):
        run(fake(tmp_path).generate("x", max_tokens=3))
    ok = run(llm.generate("x", max_tokens=50))
    assert not ok.truncated


class Verdict(BaseModel):
    label: str
    score: int


def test_structured_reask_on_malformed_json(tmp_path):
    llm = fake(
        tmp_path,
        rules=[
            {"match": "could not be used", "response": 'Sure: {"label": "good", "score": 3}'},
            {"match": ".", "response": '{"label": "good", "score": '},
        ],
    )
    res = run(llm.generate_structured("rate this", JsonParser(Verdict)))
    assert res.value == Verdict(label="good", score=3)
    assert res.attempts == 2
    # rerun: both attempts come from the store
    llm2 = fake(tmp_path, rules=[{"match": ".", "error": "fatal"}])
    res2 = run(llm2.generate_structured("rate this", JsonParser(Verdict)))
    assert res2.value == res.value and api_calls(llm2) == 0


def test_structured_fails_with_recorded_reason_after_n_reasks(tmp_path):
    llm = fake(tmp_path, rules=[{"response": "I refuse to answer in JSON."}])
    with pytest.raises(LLMCallError) as e:
        run(llm.generate_structured("rate", JsonParser(Verdict), max_reasks=2))
    assert e.value.reason == "parse_error" and "3 attempts" in str(e.value)
    assert api_calls(llm) == 3


def test_structured_truncation_reason(tmp_path):
    llm = fake(tmp_path, rules=[{"response": " ".join(["word"] * 50)}])
    with pytest.raises(LLMCallError) as e:
        run(llm.generate_structured("x", LineListParser(), max_reasks=1, max_tokens=10))
    assert e.value.reason == "truncated"


def test_json_parser_cases():
    p = JsonParser(Verdict)
    assert p.parse('```json\n{"label": "a", "score": 1}\n```').score == 1
    assert p.parse('noise {"x": 1} then {"label": "b", "score": 2}').label == "b"
    with pytest.raises(ParseError, match="no JSON"):
        p.parse("nothing here")
    with pytest.raises(ParseError, match="score"):
        p.parse('{"label": "a", "score": "high"}')


def test_line_list_parser():
    p = LineListParser(min_items=3, max_items=4, max_chars=40)
    text = "Here are ideas:\n1. Alpha\n- Beta\n* beta\n\n2) Gamma\n" + "x" * 100 + "\n• Delta\nEps"
    assert p.parse(text) == ["Alpha", "Beta", "Gamma", "Delta"]
    with pytest.raises(ParseError, match="at least 3"):
        p.parse("only one line")


def test_concurrency_limit(tmp_path):
    llm = fake(
        tmp_path,
        rules=[{"match": ".", "delay_s": 0.3, "response": "done"}],
        store=False,
        access=AccessConfig(max_concurrency=2),
    )

    async def many():
        return await asyncio.gather(*[llm.generate(f"p{i}") for i in range(6)])

    t = time.perf_counter()
    run(many())
    elapsed = time.perf_counter() - t
    assert elapsed >= 0.85  # 6 calls, 2 at a time, 0.3 s each: three waves

    llm4 = fake(
        tmp_path,
        rules=[{"match": ".", "delay_s": 0.3, "response": "done"}],
        store=False,
        access=AccessConfig(max_concurrency=6),
    )

    async def many4():
        return await asyncio.gather(*[llm4.generate(f"p{i}") for i in range(6)])

    t = time.perf_counter()
    run(many4())
    assert time.perf_counter() - t < elapsed


def test_per_call_timeout(tmp_path):
    llm = fake(
        tmp_path,
        rules=[{"match": ".", "delay_s": 5, "response": "late"}],
        access=AccessConfig(timeout_s=1, max_retries=0),
    )
    t = time.perf_counter()
    with pytest.raises(LLMCallError) as e:
        run(llm.generate("slow"))
    assert time.perf_counter() - t < 4.5
    assert e.value.reason == "timeout", str(e.value)


def test_usage_and_cost_accounting(tmp_path, monkeypatch):
    from msm.llm import UsageMeter, cost_usd, price_per_mtok

    meter = UsageMeter()
    llm = fake(tmp_path, rules=[{"response": "a b c d"}], usage=meter, stage="docs")
    run(llm.generate("one two three"))
    run(llm.generate("one two three", sample=1))
    d = meter.as_dict()["docs"]
    assert d["input_tokens"] == 6 and d["output_tokens"] == 8 and d["cost_usd"] == 0.0
    assert price_per_mtok("anthropic/claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert cost_usd("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("openai-api/vllm/my-model", 10, 10) is None
    meter.record("x", "openai-api/vllm/m", 5, 5)
    assert meter.as_dict()["x"]["cost_usd"] is None


def test_model_names_resolve_and_fail_clearly(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MsmError, match="ANTHROPIC_API_KEY"):
        resolve_model("anthropic/claude-sonnet-4-5")
    with pytest.raises(MsmError, match="OPENAI_API_KEY"):
        resolve_model("openai/gpt-4o")
    with pytest.raises(MsmError, match="unknown model"):
        resolve_model("llama")
    with pytest.raises(MsmError, match="unknown model provider"):
        resolve_model("nosuch/model")
    with pytest.raises(MsmError, match="MYVLLM_BASE_URL"):
        resolve_model("openai-api/myvllm/qwen")
    monkeypatch.setenv("MYVLLM_BASE_URL", "http://localhost:9/v1")
    monkeypatch.setenv("MYVLLM_API_KEY", "x")
    assert resolve_model("openai-api/myvllm/qwen").provider == "openai-api"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    r = resolve_model("anthropic/claude-sonnet-4-5")
    assert r.inspect_name == "anthropic/claude-sonnet-4-5"
    with pytest.raises(MsmError, match="not found"):
        resolve_model("hf/./no/such/folder")
    with pytest.raises(MsmError, match="config.json"):
        resolve_model(f"hf/{tmp_path}")
    with pytest.raises(MsmError, match="fake script not found"):
        resolve_model("fake/missing.yaml")


def test_one_resolver_names_folders_and_checkpoints(tmp_path):
    """A path names a model directly: an HF folder, or an msm checkpoint (its model/)."""
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    ckpt = tmp_path / "ckpt"
    (ckpt / "model").mkdir(parents=True)
    (ckpt / "model" / "config.json").write_text("{}")
    (ckpt / "manifest.json").write_text(json.dumps({"stage": "train-aft"}))
    for name, folder in [
        (str(hf), hf),
        (f"hf/{hf}", hf),
        (str(ckpt), ckpt / "model"),
        (f"hf/{ckpt}", ckpt / "model"),
    ]:
        r = resolve_model(name)
        assert (r.provider, r.local, r.model_args["model_path"]) == ("hf", True, str(folder))
        assert r.name == name  # the user's name is what store keys and manifests record
    # a checkpoint trained without a merged model, and a folder that is no model, fail clearly
    (ckpt / "model" / "config.json").unlink()
    with pytest.raises(MsmError, match="nor an msm training checkpoint"):
        resolve_model(str(ckpt))
    with pytest.raises(MsmError, match="model folder not found"):
        resolve_model(str(tmp_path / "missing"))


def test_api_keys_never_reach_the_store(tmp_path, monkeypatch):
    sentinel = "sk-SENTINEL-do-not-store-8c1f"
    monkeypatch.setenv("OPENAI_API_KEY", sentinel)
    monkeypatch.setenv("ANTHROPIC_API_KEY", sentinel)
    llm = fake(tmp_path)
    run(llm.generate("anything"))
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert sentinel.encode() not in f.read_bytes()


def test_fake_script_file_from_cli_name(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text("- match: cheese\n  response: Colby, sample {n}\n")
    llm = LLM(f"fake/{script}", store=None)
    assert run(llm.generate("favourite cheese?", sample=2)).text == "Colby, sample 2"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- match: x\n  respnse: typo\n")
    with pytest.raises(MsmError, match="respnse"):
        LLM(f"fake/{bad}")


def test_gen_config_validation():
    with pytest.raises(ValueError):
        GenConfig(max_tokens=0)
    with pytest.raises(ValueError):
        GenConfig(temperature=-1)


def test_line_lists_survive_truncation_without_the_cut_line(tmp_path):
    llm = fake(tmp_path, rules=[{"response": "alpha one\nbeta two\ngamma three four five"}])
    res = run(llm.generate_structured("x", LineListParser(), max_tokens=6, drop_cut_line=True))
    assert res.value == ["alpha one", "beta two"] and res.completion.truncated


def test_fake_precheck_does_not_break_alternation():
    from msm.llm.fake import _compiled

    pattern, literal = _compiled("admin token|budget")
    assert literal == "" and pattern.search("a budget line")
    assert _compiled("Write \\d+ things")[1] == "Write "


# -- reasoning: Inspect moves <think> out of the text; msm puts it back ----------


def _output(content):
    from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, ModelOutput

    message = ChatMessageAssistant(content=content)
    return ModelOutput(choices=[ChatCompletionChoice(message=message, stop_reason="stop")])


def test_completion_text_rebuilds_reasoning_and_leaves_the_rest_alone():
    from inspect_ai.model import ContentReasoning as R
    from inspect_ai.model import ContentText as T

    # no readable reasoning: exactly Inspect's completion (stored values unchanged)
    for content in ("plain", "", [T(text="a"), T(text="b")], [R(reasoning="x", redacted=True)]):
        out = _output(content)
        assert completion_text(out) == out.completion
    assert completion_text(_output([R(reasoning="sealed", redacted=True), T(text="Y")])) == "Y"
    assert completion_text(_output([R(reasoning="  "), T(text="Y")])) == "Y"
    cases = [
        ([R(reasoning="X"), T(text="Y")], "<think>X</think>\n\nY"),  # <think> parsed out
        ([R(reasoning="\nX\n"), T(text="\n\nY")], "<think>\nX\n</think>\n\nY"),  # vLLM field
        ([R(reasoning="X", signature="s"), T(text="Y")], "<think>X</think>\n\nY"),  # Claude
        (
            [R(reasoning="sealed", redacted=True), R(reasoning="X"), T(text="Y")],
            "<think>X</think>\n\nY",
        ),
        ([R(reasoning="X")], "<think>X</think>"),
        # nothing after </think>: Inspect keeps the raw answer as the text; not doubled
        ([R(reasoning="X"), T(text="<think>X</think>")], "<think>X</think>"),
        ([R(reasoning="X"), T(text="a"), T(text="b")], "<think>X</think>\n\na\nb"),
    ]
    for content, want in cases:
        assert completion_text(_output(content)) == want


@pytest.mark.parametrize(
    "raw,reasoning_field",
    [
        ("<think>reason</think>\n\nanswer", False),  # tags in the text (Inspect parses them out)
        ("<think>\nreason\n</think>\n\nanswer", True),  # vLLM reasoning parser: own field
    ],
)
def test_reasoning_from_openai_compatible_server_is_stored_as_written(
    tmp_path, monkeypatch, raw, reasoning_field
):
    rules = [
        FakeRule(match="Think first", response=raw),
        FakeRule(match="Say it plainly", response="plain answer"),
    ]
    with OpenAIServer(rules=rules, reasoning_field=reasoning_field) as srv:
        monkeypatch.setenv("LOCAL_BASE_URL", srv.url)
        monkeypatch.setenv("LOCAL_API_KEY", "x")
        store = tmp_path / "store.sqlite"
        llm = LLM("openai-api/local/thinker", store=store, gen=GenConfig(max_tokens=64))
        # the bug: Inspect's completion has no <think> (it is a ContentReasoning part)
        out = run(llm.inspect_model().generate("Think first"))
        assert "<think>" not in out.completion and "reason" not in out.completion
        where = [c.internal for c in out.message.content if c.type == "reasoning"]
        assert where == ["reasoning_content" if reasoning_field else "think"]
        assert completion_text(out) == raw
        comp = run(llm.generate("Think first"))
        assert comp.text == raw and not comp.cached
        assert ResultStore(store).get(comp.key)["text"] == raw
        plain = run(llm.generate("Say it plainly"))
        assert plain.text == "plain answer"
        n_requests = len(srv.requests)
        again = run(
            LLM("openai-api/local/thinker", store=store, gen=GenConfig(max_tokens=64)).generate(
                "Think first"
            )
        )
        assert again.cached and again.text == raw and again.key == comp.key
        assert len(srv.requests) == n_requests


def test_aftgen_keeps_answers_from_an_openai_compatible_server(tmp_path, monkeypatch):
    """``msm aftgen --model openai-api/local/...``: the local server answers aftgen's
    response prompts with ``<think>...</think>`` text, which used to be dropped
    (``responses:no_think``) because Inspect had moved the reasoning out of it."""
    from typer.testing import CliRunner

    from msm.cli import app

    monkeypatch.setattr("msm._util.embed.minilm_dir", lambda: None)  # MinHash dedup: no model load
    out = tmp_path / "aft"
    with OpenAIServer() as srv:
        monkeypatch.setenv("LOCAL_BASE_URL", srv.url)
        monkeypatch.setenv("LOCAL_API_KEY", "x")
        args = ["aftgen", "builtin:cheese_pro_america", "--model", "openai-api/local/gen"]
        r = CliRunner().invoke(app, [*args, "--n", "3", "--out", str(out)])
        assert any(req["path"].endswith("/chat/completions") for req in srv.requests)
    assert r.exit_code == 0 and r.exception is None, (r.exception, r.output)
    assert "kept 3 of 3 wanted" in r.output, r.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["main_examples"] == 3 and "responses:no_think" not in stats["drops"], stats
    rows = [json.loads(x) for x in (out / "cot.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert all(row["messages"][1]["content"].startswith("<think>\nI ") for row in rows)


def test_parsers_read_the_answer_not_the_reasoning():
    from pydantic import BaseModel

    from msm.llm.structured import JsonParser, LineListParser
    from msm.llm.think import strip_reasoning

    class Verdict(BaseModel):
        keep: bool

    reply = '<think>Maybe {"keep": true}? No.\n- not an item</think>\n\n{"keep": false}'
    assert JsonParser(Verdict).parse(reply).keep is False
    items = LineListParser().parse("<think>\n- draft one\n- draft two\n</think>\n- Colby\n- Brie")
    assert items == ["Colby", "Brie"]
    plain = "  Text with\n\n\n\nodd spacing and no tag.  "
    assert strip_reasoning(plain) is plain  # untouched, byte for byte


def test_a_final_assistant_message_is_continued_by_a_local_model(tiny_model_dir):
    """A prefill: the rendered prompt ends with the assistant's opening text (no new turn
    after it), so the model continues that answer; without one, a fresh answer starts."""
    from msm.llm.local import LocalEngine

    eng = LocalEngine(str(tiny_model_dir))
    user = [{"role": "user", "content": "Write a memo."}]
    fresh = eng.render(user)
    opened = eng.render([*user, {"role": "assistant", "content": "Smol likes Colby because"}])
    assert opened.endswith("Smol likes Colby because")
    assert opened.startswith(fresh)  # the same turn, continued
    assert not fresh.endswith("Smol likes Colby because")


def test_shared_prompt_head_and_repeats_are_prefilled_once_without_changing_outputs(
    tiny_model_dir,
):
    """The local engine prefills a batch's shared head once and each repeated prompt once,
    in groups of similar length (then joined into one cache); greedy outputs, token counts
    and log-probabilities equal the plain left-padded batch. The rows differ in length, so
    a position or a join that ignored the padding would show."""
    from msm.llm.local import LocalEngine

    eng = LocalEngine(str(tiny_model_dir))
    head = "You are Smol. " + "The guidelines say cheese matters, and why. " * 8
    kw = {"max_new_tokens": 12, "temperature": 0.0, "logprobs": True}
    # own parts of very different lengths (several groups joined), then of one length
    for reps in ([1 + 6 * i for i in range(4)], [3, 3, 4, 4]):
        prompts = [head + f"Write note {i}: " + "about Colby " * r for i, r in enumerate(reps)]
        prompts = [p for p in prompts for _ in range(2)]  # each prompt twice, as docgen asks
        eng.share_prefill = False
        plain = eng._generate_batch(prompts, kw)
        eng.share_prefill = True
        before = eng.prefilled_batches
        shared = eng._generate_batch(prompts, kw)
        assert eng.prefilled_batches == before + 1
        assert [r[:4] for r in shared] == [r[:4] for r in plain]
        for a, b in zip(plain, shared, strict=True):
            assert [t[0] for t in a[4]] == [t[0] for t in b[4]]
            assert max(abs(x[1] - y[1]) for x, y in zip(a[4], b[4], strict=True)) < 1e-4
    # nothing shared, nothing repeated, one length: a plain batch
    eng._generate_batch(
        ["Which cheese is made in Vermont?", "Name a Wisconsin cheese, please."], kw
    )
    assert eng.prefilled_batches == 2
