"""Prompts providers can cache, cache tokens in the usage records, and what will be paid.

The spec context every call of a generation stage shares comes first, as a system message
the same byte for byte on every call of the stage; usage records the cache reads and
writes a provider reports (unknown stays None); prices apply cache reads, cache writes
and batch discounts, and the dry run shows list price against what will be paid.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from msm.aftgen import AftgenConfig, run_aftgen
from msm.docgen import DocgenConfig, run_docgen
from msm.llm import LLM, Message
from msm.llm.prices import cost_usd, model_price, projected_cache


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[Message]]]:
    """Every message list msm sends, by stage (``docgen.documents``, ``aftgen.judge``...)."""
    seen: dict[str, list[list[Message]]] = defaultdict(list)
    real = LLM.generate

    async def spy(self: LLM, prompt: Any, **kw: Any) -> Any:
        from msm.llm import as_messages

        seen[kw.get("stage") or self.stage].append(as_messages(prompt, kw.get("system")))
        return await real(self, prompt, **kw)

    monkeypatch.setattr(LLM, "generate", spy)
    return seen


def _check_shared_prefix(calls: dict[str, list[list[Message]]], context: str, stages: set[str]):
    with_context = set()
    for stage, lists in calls.items():
        systems = set()
        for msgs in lists:
            texts = [m.content for m in msgs]
            if not any(context in t for t in texts):
                continue
            # the spec context is in the first message, a system message, and nowhere else
            assert msgs[0].role == "system", stage
            assert context in msgs[0].content
            assert all(context not in m.content for m in msgs[1:]), stage
            assert msgs[1].role == "user"
            systems.add(msgs[0].content)
        if systems:
            with_context.add(stage)
            assert len(systems) == 1, f"{stage}: {len(systems)} different system messages"
    assert stages <= with_context, stages - with_context


def test_docgen_shares_the_spec_context_as_one_system_message_per_stage(tmp_path, calls):
    from msm.gen.stagellm import load_stage_spec
    from msm.spec.context import spec_context

    cfg = DocgenConfig(
        spec="builtin:cheese_pro_america", model="fake", model_name="Ada", provider_name="Lab",
        judge="fake", assertions_from="llm", n_assertions=2, n_doc_types=2,
        doc_types_from="catalogue", ideas_from="template", n_ideas=1, docs_per_idea=2,
    )  # fmt: skip
    run_docgen(cfg, tmp_path / "out", quiet=True, tokenizer="approx")
    context = spec_context(load_stage_spec(cfg), cfg.context_tokens).text
    assert len(calls["docgen.documents"]) > 4
    _check_shared_prefix(calls, context, {"docgen.assertions", "docgen.documents", "docgen.judge"})


def test_aftgen_shares_the_spec_context_as_one_system_message_per_stage(tmp_path, calls):
    from msm.gen.stagellm import load_stage_spec
    from msm.spec.context import spec_context

    cfg = AftgenConfig(
        spec="builtin:equanimity", kind="chat", model="fake", judge="fake", n=8,
        model_name="Ada", provider_name="Lab",
    )  # fmt: skip
    run_aftgen(cfg, tmp_path / "out")
    context = spec_context(load_stage_spec(cfg), cfg.context_tokens).text
    _check_shared_prefix(calls, context, {"aftgen.situations", "aftgen.responses", "aftgen.judge"})
    # the user message is the varying part: it ends with the user's own message
    assert all(m[-1].content.rstrip().split("\n")[-1].startswith("User: ")
               for m in calls["aftgen.responses"])  # fmt: skip


def test_a_system_part_may_not_use_a_per_call_value(monkeypatch):
    from msm.gen import prompts

    monkeypatch.setattr(prompts, "load_prompt", lambda s, n: "Spec $context $idea\n"
                        f"{prompts.USER_MARK}\nIdea: $idea")  # fmt: skip
    with pytest.raises(KeyError, match="idea"):
        prompts.render_parts("docgen", "x", {"context": "C"}, {"idea": "I"})
    monkeypatch.setattr(prompts, "load_prompt", lambda s, n: "Spec $context\n"
                        f"{prompts.USER_MARK}\nIdea: $idea")  # fmt: skip
    assert prompts.render_parts("docgen", "x", {"context": "C"}, {"idea": "I"}) == (
        "Spec C",
        "Idea: I",
    )


def test_the_leading_system_message_is_marked_as_the_cache_boundary():
    from msm.llm.client import _to_inspect

    msgs = [Message(role="system", content="spec"), Message(role="user", content="idea")]
    marked = _to_inspect(msgs, cache_prefix=True)
    assert marked[0].content[0].cache_breakpoint is True and marked[0].text == "spec"
    assert marked[1].content == "idea"  # the varying part is not cached
    assert _to_inspect(msgs)[0].content == "spec"  # other providers: plain text


# -- usage -------------------------------------------------------------------------


def test_usage_counts_cache_tokens_as_reported_and_unknown_as_none():
    from inspect_ai.model import ModelUsage

    from msm.llm.answers import usage_tokens
    from msm.llm.usage import UsageMeter

    # Inspect's input_tokens leaves the cached tokens out; msm counts every input token
    reported = ModelUsage(input_tokens=100, output_tokens=50, input_tokens_cache_read=900,
                          input_tokens_cache_write=0)  # fmt: skip
    assert usage_tokens(reported) == (1000, 50, 900, 0)
    assert usage_tokens(ModelUsage(input_tokens=10, output_tokens=5)) == (10, 5, None, None)

    meter = UsageMeter()
    meter.record("g", "anthropic/claude-sonnet-4-6", 1000, 50, cache_read=900, cache_write=0)
    meter.record("g", "anthropic/claude-sonnet-4-6", 1000, 50, cache_read=900, cache_write=0,
                 batch=True)  # fmt: skip
    meter.record("f", "fake", 10, 5)
    d = meter.as_dict()
    assert d["g"]["input_tokens_cache_read"] == 1800 and d["g"]["batch_calls"] == 1
    assert d["f"]["input_tokens_cache_read"] is None  # not reported: unknown, not 0
    assert d["f"]["input_tokens_cache_write"] is None
    # list: 2 x (1000 x 3 + 50 x 15) / 1e6; paid: 100 at 3, 900 at 0.30, 50 at 15, once
    # at list and once at half price
    assert d["g"]["list_cost_usd"] == pytest.approx(2 * 0.00375)
    one = (100 * 3 + 900 * 0.3 + 50 * 15) / 1e6
    assert d["g"]["cost_usd"] == pytest.approx(one * 1.5)


def test_fake_calls_record_no_cache_tokens(tmp_path):
    import asyncio

    from msm.llm import UsageMeter

    meter = UsageMeter()
    llm = LLM("fake", store=tmp_path / "s.sqlite", usage=meter, stage="x")
    comp = asyncio.run(llm.generate([Message(role="system", content="shared spec"),
                                     Message(role="user", content="one")]))  # fmt: skip
    assert comp.input_tokens_cache_read is None and comp.input_tokens_cache_write is None
    assert meter.as_dict()["x"]["input_tokens_cache_read"] is None


# -- prices --------------------------------------------------------------------------


def test_prices_of_current_models_with_cache_and_batch():
    sonnet = model_price("anthropic/claude-sonnet-4-6")  # inspect_evals' agentic grader
    assert sonnet is not None
    assert (sonnet.input, sonnet.output) == (3.0, 15.0)
    assert sonnet.cache_read == pytest.approx(0.3) and sonnet.cache_write == pytest.approx(3.75)
    assert (sonnet.batch_input, sonnet.batch_output) == (1.5, 7.5)
    gpt = model_price("openai/gpt-4.1")
    assert gpt is not None and gpt.cache_read == 0.5 and gpt.batch_output == 4.0
    # batch and cache stack: a million cached input tokens, batched
    assert cost_usd("anthropic/claude-sonnet-4-6", 10**6, 0, cache_read=10**6, batch=True) == (
        pytest.approx(0.15)
    )
    assert cost_usd("openai/gpt-4.1", 10**6, 10**6, batch=True) == pytest.approx(5.0)
    assert cost_usd("nosuch/model", 1, 1) is None
    assert cost_usd("fake", 10**6, 10**6, cache_read=10, batch=True) == 0.0


def test_an_unknown_cache_or_batch_price_stays_unknown(tmp_path, monkeypatch):
    from msm.llm import prices

    table = tmp_path / "prices.yaml"
    table.write_text("models:\n  x/old: [1.0, 2.0]\n")  # the list form still reads
    monkeypatch.setenv("MSM_PRICES", str(table))
    prices._price_table.cache_clear()
    try:
        assert cost_usd("x/old", 10**6, 10**6) == pytest.approx(3.0)
        assert cost_usd("x/old", 10**6, 0, cache_read=10) is None
        assert cost_usd("x/old", 10**6, 0, batch=True) is None
        assert projected_cache("x/old", [[100, 5000]]) == (0, 0)  # no cache price: none
    finally:
        prices._price_table.cache_clear()


def test_projected_cache_reads_after_the_first_call_above_the_minimum():
    # sonnet 4.6 caches prefixes from 2,048 tokens (the conservative figure)
    assert projected_cache("anthropic/claude-sonnet-4-6", [[10, 3000]]) == (27000, 3000)
    assert projected_cache("anthropic/claude-sonnet-4-6", [[10, 1500]]) == (0, 0)
    assert projected_cache("anthropic/claude-sonnet-4-5", [[10, 1500], [1, 1200]]) == (
        13500,
        2700,
    )


# -- the dry run -------------------------------------------------------------------


def _experiment(tmp_path: Path, **extra: Any) -> Any:
    from msm.experiment.config import Experiment

    return Experiment.model_validate(
        {
            "name": "t",
            "base_model": "embedded",
            "generator": "anthropic/claude-sonnet-4-5",
            "grader": "anthropic/claude-sonnet-4-6",
            "model_name": "Ada",
            "specs": {"s": "builtin:equanimity"},
            "corpus": {"n_assertions": 1, "n_doc_types": 1, "n_ideas": 1},
            "aft": {"kind": "chat", "spec": "s", "n": 100,
                    "config": {"judge": "anthropic/claude-sonnet-4-5"}},
            "conditions": ["base", "msm_aft"],
            "eval": {"suites": ["agentic"], "limit": 2},
            **extra,
        }
    )  # fmt: skip


def test_dry_run_prices_batched_roles_at_half_and_states_a_time_range(tmp_path):
    from msm.experiment.plan import build_plan
    from msm.experiment.projection.project import project

    plain = _experiment(tmp_path)
    batched = _experiment(tmp_path, batch=True)
    a = project(plain, build_plan(plain))
    b = project(batched, build_plan(batched))
    for role in ("generator", "judge", "grader"):
        ra, rb = a["totals"]["by_role"][role], b["totals"]["by_role"][role]
        assert ra["list_cost_usd"] == pytest.approx(rb["list_cost_usd"])
        assert rb["cost_usd"] == pytest.approx(ra["cost_usd"] / 2), role
        assert rb["batch_calls"] == rb["calls"] and ra["batch_calls"] == 0
    corpus = next(v for k, v in b["nodes"].items() if k.startswith("corpus"))
    assert corpus["seconds_max"] == pytest.approx(24 * corpus["seconds"])
    assert "batched" in corpus["time_basis"]
    assert b["totals"]["seconds_max"] > b["totals"]["seconds"]


def test_dry_run_reads_a_long_shared_prefix_from_the_cache(tmp_path, monkeypatch):
    """A generator whose shared prefix passes the model's minimum pays cache reads."""
    from msm.experiment.plan import build_plan
    from msm.experiment.projection.project import project
    from msm.llm import prices

    table = tmp_path / "prices.yaml"
    table.write_text(
        "providers:\n  anthropic: {cache_read_ratio: 0.1, cache_write_ratio: 1.25,"
        " batch_discount: 0.5, cache_min_tokens: 256}\n"
        "models:\n  anthropic/claude-sonnet-4-5: [3.0, 15.0]\n"
        "  anthropic/claude-sonnet-4-6: [3.0, 15.0]\n"
    )
    monkeypatch.setenv("MSM_PRICES", str(table))
    prices._price_table.cache_clear()
    try:
        exp = _experiment(tmp_path)
        t = project(exp, build_plan(exp))["totals"]["by_role"]
    finally:
        prices._price_table.cache_clear()
    gen = t["generator"]
    assert gen["cache_read_tokens"] > 0 and gen["cost_usd"] < gen["list_cost_usd"]
    # reads never exceed the input they are part of
    assert gen["cache_read_tokens"] < gen["input_tokens"]
