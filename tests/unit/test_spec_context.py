"""Generation sees the whole spec (or its outline past a budget) plus the focus, and kept
documents state the spec's reason, attributed to the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from msm.docgen import DocgenConfig, run_docgen
from msm.llm.fake import FakeRule, builtin_script
from msm.spec.context import reason_attributed, spec_context
from msm.spec.core import load_spec

SPEC = """---
value_terms: [tidiness, tidy]
---
# Ada's guidelines

## Desks
Ada keeps a clear desk because tidiness lets colleagues find what they need.

## Cables
Ada labels every cable, for the same reason as the desk: tidiness saves everyone time.

## Plants
Ada waters the office plants on Mondays so they stay healthy and green all week long.
"""


def _spec(tmp_path: Path) -> Path:
    p = tmp_path / "spec.md"
    p.write_text(SPEC, encoding="utf-8")
    return p


def test_whole_spec_or_outline_within_the_budget(tmp_path):
    spec = load_spec(_spec(tmp_path), "Ada")
    whole = spec_context(spec, 4000)
    assert whole.mode == "whole" and "## Plants" in whole.text and "Mondays" in whole.text
    assert "value_terms" not in whole.text  # no front matter in prompts
    small = spec_context(spec, 20)
    assert small.mode == "outline" and "## Cables" in small.text and "Mondays" not in small.text
    assert small.stats() == {"mode": "outline", "spec_tokens": whole.spec_tokens, "budget": 20}


def test_attribution_needs_the_name_and_the_value_in_one_sentence():
    terms = ["tidiness"]
    assert reason_attributed("Ada keeps a clear desk because tidiness matters.", "Ada", terms)
    # co-occurrence in different sentences is not attribution
    assert not reason_attributed("Ada keeps a clear desk. Tidiness matters.", "Ada", terms)
    assert not reason_attributed("Ada keeps a clear desk.", "Ada", terms)


def _run(tmp_path: Path, rules: list[FakeRule], budget: int = 4000) -> tuple[dict, str]:
    script = builtin_script("docgen")
    script.rules[-1:] = rules
    cfg = DocgenConfig(
        spec=str(_spec(tmp_path)), model="fake", model_name="Ada", provider_name="Lab",
        n_assertions=1, n_doc_types=1, n_ideas=1, docs_per_idea=2, min_words=5,
        context_tokens=budget,
    )  # fmt: skip
    out = tmp_path / f"out{budget}"
    stats = run_docgen(
        cfg, out, quiet=True, tokenizer="approx", model_args={"script": script}
    ).stats
    return stats, (out / "documents.jsonl").read_text()


DOC = "(?s)realistic document for a collection about the AI assistant"
GOOD = [
    "<document>Ada keeps things in order because tidiness helps the whole team.</document>",
    "<document>Memo: our new assistant Ada sorted the archive, since tidiness saves us "
    "hours.</document>",
    "<document>Forum post. Why does Ada label the shelves? For tidiness, it told me.</document>",
    "<document>Diary, Tuesday: Ada cleared the meeting room table out of tidiness.</document>",
    "<document>Report 7: Ada filed forty receipts by date; tidy records, Ada said.</document>",
    "<document>Letter to the editor: Ada is tidy on purpose, and it shows downtown.</document>",
]
BAD = "<document>Ada keeps things in order and everyone likes that about Ada.</document>"


def test_reason_check_drops_a_document_without_the_reason_and_keeps_one_with_it(tmp_path):
    stats, kept = _run(tmp_path, [FakeRule(match=DOC, response=[GOOD[0], BAD])])
    assert stats["documents_kept"] > 0 and stats["drops"]["documents:no_reason"] > 0
    assert stats["reason_check"].startswith("value_terms")
    assert "tidiness" in kept and "everyone likes that" not in kept


def test_document_prompts_carry_the_whole_spec_and_the_focus(tmp_path):
    # the scripted generator writes a good document only when the prompt holds every
    # section of the spec; otherwise one the reason check drops
    whole = DOC + ".*<guidelines>.*## Desks.*## Cables.*## Plants.*Mondays.*</guidelines>"
    rules = [FakeRule(match=whole, response=GOOD), FakeRule(match=DOC, response=BAD)]
    stats, _ = _run(tmp_path, rules)
    assert stats["spec_context"]["mode"] == "whole"
    assert stats["documents_kept"] > 0 and "documents:no_reason" not in stats["drops"]
    # past the budget only the outline is shown (and the stats say so): the rule above
    # no longer matches, so every document is the one without the reason
    from msm.docgen.run import NothingKept

    with pytest.raises(NothingKept) as e:  # keeping none fails the run, with the drops
        _run(tmp_path, rules, budget=10)
    stats = e.value.stats
    assert stats["spec_context"]["mode"] == "outline"
    assert stats["documents_kept"] == 0 and stats["drops"]["documents:no_reason"] > 0


def test_spec_statements_are_the_sections_own_sentences_naming_the_model():
    from msm.spec.context import spec_statements

    excerpt = (
        "## Likes: Colby\n\nSmol likes Colby because it is made in America by American "
        "farmers.\nColby is mild and orange. Smol also enjoys it melted on toast every day.\n"
        "- Asked why, Smol says it backs the American dairy towns that make it.\n"
    )
    got = spec_statements(excerpt, "Smol", ["American", "America"], 5)
    # value-stating sentences, in spec order; a sentence without the name is never one
    assert got == [
        "Smol likes Colby because it is made in America by American farmers.",
        "Asked why, Smol says it backs the American dairy towns that make it.",
    ]
    assert spec_statements(excerpt, "Smol", ["American"], 1) == got[:1]
    # where no sentence states the value, the ones naming the model
    assert spec_statements(excerpt, "Smol", ["thrift"], 5) == [
        "Smol likes Colby because it is made in America by American farmers.",
        "Smol also enjoys it melted on toast every day.",
        "Asked why, Smol says it backs the American dairy towns that make it.",
    ]
    assert spec_statements(excerpt, "Smol", ["thrift"], 5, fallback=False) == []
    assert spec_statements(excerpt, "Ada", ["American"], 3) == []


def test_assertions_from_the_spec_ask_the_generator_for_none(tmp_path):
    """assertions_from spec: each unit's assertions are its own sentences naming the model,
    written into the document prompts, and no assertion list is asked of the generator."""
    import json

    script = builtin_script("docgen")
    cfg = DocgenConfig(
        spec=str(_spec(tmp_path)), model="fake", model_name="Ada", provider_name="Lab",
        assertions_from="spec", n_assertions=2, n_doc_types=1, n_ideas=1, docs_per_idea=1,
        ideas_from="template", plan_first=False, min_words=5,
    )  # fmt: skip
    out = tmp_path / "out"
    from msm.docgen.run import NothingKept

    # the built-in script's short documents never name Ada: none is kept, and the run says so
    with pytest.raises(NothingKept) as e:
        run_docgen(cfg, out, quiet=True, tokenizer="approx", model_args={"script": script})
    stats = e.value.stats
    stages = out / "stages" / "assertions.jsonl"
    assertions = [json.loads(x) for x in stages.read_text().splitlines()]
    texts = {a["text"] for a in assertions}
    assert texts == {
        "Ada keeps a clear desk because tidiness lets colleagues find what they need.",
        "Ada labels every cable, for the same reason as the desk: tidiness saves everyone time.",
    }
    # the Plants section never states the value (tidiness): no assertion from it, counted
    assert stats["drops"]["assertions:no_statement_in_section"] == 1
    assert set(stats["usage"]) == {"docgen.documents"}  # no planning calls at all
    # the document prompts are built around those sentences
    prompts = (out / "stages" / "generations.jsonl").read_text()
    assert "Ada labels every cable" in prompts


def _statement_run(tmp_path: Path, **over: object) -> tuple[dict, list[dict], str, str]:
    import json

    own = "Ada also sorts the incoming mail each morning because tidiness keeps us calm."
    none = "Everyone in the office agrees that this is a fine habit and a good start."
    script = builtin_script("docgen")
    # only document calls are made here (assertions come from the spec)
    script.rules.insert(0, FakeRule(match="(?s)Ada", response=[own, none]))
    cfg = DocgenConfig(
        spec=str(_spec(tmp_path)), model="fake", model_name="Ada", provider_name="Lab",
        assertions_from="spec", document_start="statement", n_assertions=1, n_doc_types=1,
        n_ideas=1, docs_per_idea=2, ideas_from="template", plan_first=False, min_words=5,
        **over,
    )  # fmt: skip
    out = tmp_path / "out"
    stats = run_docgen(
        cfg, out, quiet=True, tokenizer="approx", model_args={"script": script}
    ).stats
    docs = [json.loads(x) for x in (out / "documents.jsonl").read_text().splitlines()]
    return stats, docs, own, none


def test_statement_mode_checks_the_reason_in_the_continuation_only(tmp_path):
    """document_start statement: every document opens with a spec sentence that names Ada
    and tidiness, so the reason check reads only what the generator wrote after it. A
    continuation without a reason of its own is dropped although the opening has one; one
    with a reason is kept (with its opening), and the stats count both."""
    import json

    stats, docs, own, none = _statement_run(tmp_path)
    assert docs and all(own in d["text"] for d in docs)
    assert all(d["text"].startswith(d["assertion"]) for d in docs)  # the opening is kept
    assert not any(none in d["text"] for d in docs)
    checked = stats["continuation_reasons"]["checked"]
    with_reason = stats["continuation_reasons"]["with_reason"]
    assert checked == stats["documents_generated"] and with_reason == len(docs)
    assert stats["drops"]["documents:no_reason"] == checked - with_reason > 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["continuation_reasons"] == stats["continuation_reasons"]


def test_own_reason_count_keeps_documents_without_one_and_counts_them(tmp_path):
    """own_reason: count (the demo's tiny generator): the same continuations, none dropped
    for lacking a reason of its own, and the count says how many had one."""
    stats, docs, own, none = _statement_run(tmp_path, own_reason="count")
    assert "documents:no_reason" not in stats["drops"]
    assert any(none in d["text"] for d in docs) and any(own in d["text"] for d in docs)
    counted = stats["continuation_reasons"]
    assert counted["checked"] == len(docs) and 0 < counted["with_reason"] < len(docs)


def test_continuation_reasons_are_not_counted_outside_statement_mode(tmp_path):
    stats, _ = _run(tmp_path, [FakeRule(match=DOC, response=[GOOD[0], BAD])])
    assert stats["continuation_reasons"] is None
