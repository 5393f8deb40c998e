"""What a docgen run will cost, projected from its settings alone: no call, no file.

``msm docgen --preview`` prints it, and a dry run of an experiment can use the same
numbers (:func:`project_docgen` gives totals, ``llm_calls``, ``input_tokens``,
``output_tokens``, ``cost_usd``, and per model, ``generator`` and ``judge``, with
``documents``, ``corpus_tokens`` and a ``summary``).

Counts follow docgen's hierarchy: units x assertions x document types x ideas x
documents per idea. A count is *exact* when the settings and the spec decide it
(the structure planner's units, assertions taken from the spec's sentences, the
catalogue's document types, template ideas) and an *estimate* (an upper bound: a
list may come back shorter) when a model writes the list. Tokens are always
estimates: words x ``TOKENS_PER_WORD`` of each prompt as rendered (template, spec
context, section, and typical assertion and idea lengths), and the target length of
each answer. Documents kept are never projected: the filters decide them.
Dollars are what will be paid: a template's system part (the spec context and the fixed
instructions, the same on every call) is read from the provider's prompt cache after the
first call where it is long enough to be cached (:func:`msm.llm.prices.projected_cache`),
and ``batch`` calls are priced at the batch price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msm.docgen.config import DocgenConfig
from msm.gen.listgen import ROUND
from msm.gen.prompts import split_prompt
from msm.llm.prices import cost_usd, projected_cache
from msm.spec.context import spec_context, spec_statements, value_terms
from msm.spec.core import Spec
from msm.spec.units import Unit, structure_units

TOKENS_PER_WORD = 1.35
LIST_OUTPUT_TOKENS = 150  # one list answer (ROUND short lines)
PLAN_TOKENS = 120  # the plan a plan-first document starts with
SUBDOMAIN_TOKENS = 60  # one subdomain in the LLM planner's JSON answer
JUDGE_OUTPUT_TOKENS = 40
ITEM_WORDS = 25  # a typical assertion or idea line


def merge_sections(excerpts: list[str], max_section_tokens: int) -> list[str]:
    """The LLM planner's chunks: consecutive sections joined while the chunk stays under
    ``3 x max_section_tokens`` words, so each planning prompt fits the context."""
    merged: list[str] = []
    for c in excerpts:
        if merged and len((merged[-1] + c).split()) < max_section_tokens * 3:
            merged[-1] = merged[-1] + "\n\n" + c
        else:
            merged.append(c)
    return merged


def _lists(count: int, n: int) -> int:
    """Calls for ``count`` lists of ``n`` items (ROUND items per call; re-asks not counted)."""
    return count * -(-n // ROUND)


def batch_rounds(cfg: DocgenConfig) -> int:
    """Rounds of calls that wait on each other (each list round, the documents, the
    verdicts): with ``batch`` on, each is at least one batch to wait for."""
    rounds = 1 + bool(cfg.judge)  # documents, verdicts
    if cfg.planner == "llm":
        rounds += -(-cfg.n_domains // ROUND) + 1  # domain list rounds, then subdomains
    for source, n in (
        (cfg.assertions_from, cfg.n_assertions),
        (cfg.doc_types_from, cfg.n_doc_types),
        (cfg.ideas_from, cfg.n_ideas),
    ):
        rounds += -(-n // ROUND) if source == "llm" else 0
    return rounds


@dataclass
class _Tally:
    """Calls and tokens counted stage by stage, from the words of each prompt as rendered
    (a template's ``$context`` stands for the spec context's words)."""

    context_words: int
    calls: dict[str, int] = field(default_factory=dict)
    # [calls, tokens] per template with a shared system part (the cacheable prefix)
    prefixes: list[list[int]] = field(default_factory=list)
    tin: float = 0.0
    tout: float = 0.0

    def text_words(self, text: str | None) -> int:
        if text is None:
            return 0
        return len(text.split()) + (self.context_words if "$context" in text else 0)

    def prompt_words(self, template: str, *extra: float) -> float:
        system, user = split_prompt("docgen", template)
        return self.text_words(system) + self.text_words(user) + sum(extra)

    def prefix_tokens(self, template: str) -> int:
        """The system message every call of the template shares (the cacheable prefix)."""
        return int(self.text_words(split_prompt("docgen", template)[0]) * TOKENS_PER_WORD)

    def add(
        self, stage: str, n: int, words_in: float, tokens_out: float, template: str = ""
    ) -> None:
        self.calls[stage] = self.calls.get(stage, 0) + n
        self.tin += n * words_in * TOKENS_PER_WORD
        self.tout += n * tokens_out
        if template and n and self.prefix_tokens(template):
            self.prefixes.append([n, self.prefix_tokens(template)])


def _units(cfg: DocgenConfig, sections: list[Unit], t: _Tally) -> int:
    """Units to write about: the spec's sections, or the LLM planner's subdomains."""
    if cfg.planner == "structure":
        return len(sections)
    chunks = len(merge_sections([u.excerpt for u in sections], cfg.max_section_tokens))
    chunk_words = len(" ".join(u.excerpt for u in sections).split()) / max(1, chunks)
    words = t.prompt_words("domains", chunk_words)
    t.add("domains", _lists(chunks, cfg.n_domains), words, LIST_OUTPUT_TOKENS)
    t.add(
        "subdomains",
        chunks * cfg.n_domains,
        t.prompt_words("subdomains", chunk_words, 5),
        cfg.n_subdomains * SUBDOMAIN_TOKENS,
    )
    return chunks * cfg.n_domains * cfg.n_subdomains


def _assertions(
    cfg: DocgenConfig,
    spec: Spec,
    sections: list[Unit],
    units: int,
    excerpt_words: float,
    t: _Tally,
) -> tuple[int, bool]:
    """(assertions, whether that count is exact): the spec's own sentences, or lists."""
    if cfg.assertions_from == "spec" and cfg.planner == "structure":
        terms = value_terms(spec)
        fallback = cfg.mode != "values"
        assertions = sum(
            len(spec_statements(u.excerpt, spec.model_name, terms, cfg.n_assertions, fallback))
            for u in sections
        )
        return assertions, True
    if cfg.assertions_from == "llm":
        template = "assertions_values" if cfg.mode == "values" else "assertions_rules"
        words = t.prompt_words(template, excerpt_words, 5)
        n_lists = _lists(units, cfg.n_assertions)
        t.add("assertions", n_lists, words, LIST_OUTPUT_TOKENS, template)
    return units * cfg.n_assertions, False


def _ideas(cfg: DocgenConfig, assertions: int, t: _Tally) -> tuple[int, bool]:
    """(ideas, whether that count is exact given the assertions): one list of ideas per
    (assertion, document type)."""
    pairs = assertions * cfg.n_doc_types
    if cfg.doc_types_from == "llm":
        words = t.prompt_words("doctypes", ITEM_WORDS)
        t.add("doc_types", _lists(assertions, cfg.n_doc_types), words, LIST_OUTPUT_TOKENS)
    exact = cfg.doc_types_from == "catalogue"
    if cfg.ideas_from == "llm":
        words = t.prompt_words("ideas", ITEM_WORDS, 5)
        t.add("ideas", _lists(pairs, cfg.n_ideas), words, LIST_OUTPUT_TOKENS)
        exact = False
    return pairs * cfg.n_ideas, exact


def _document_template(cfg: DocgenConfig) -> str:
    if cfg.mode == "rules":
        return "document_rules"
    return "document_values" if cfg.plan_first else "document_short"


def _judge(
    cfg: DocgenConfig, documents: int, excerpt_words: float, t: _Tally
) -> tuple[dict[str, Any] | None, float | None]:
    """The judge's calls and tokens (None without a judge) and what they cost."""
    judge_prefixes = [[documents, t.prefix_tokens("judge")]]
    if not cfg.judge:
        return None, None
    judge_words = t.prompt_words("judge", excerpt_words, cfg.doc_words)
    t.calls["judge"] = documents
    usage = {
        "calls": documents,
        "input_tokens": int(documents * judge_words * TOKENS_PER_WORD),
        "output_tokens": documents * JUDGE_OUTPUT_TOKENS,
        "prefixes": judge_prefixes,
    }
    j_read, j_write = projected_cache(cfg.judge, judge_prefixes)
    cost = cost_usd(
        cfg.judge, usage["input_tokens"], usage["output_tokens"], j_read, j_write, cfg.batch
    )
    return usage, cost


def _basis(cfg: DocgenConfig, doc_in: float, doc_out: float) -> str:
    return (
        f"input ~{int(doc_in * TOKENS_PER_WORD)} tokens/document (instructions, spec "
        f"context, section, assertion, idea), output ~{int(doc_out)} tokens/document "
        f"({cfg.doc_words} words x {TOKENS_PER_WORD}"
        + (f" + a {PLAN_TOKENS}-token plan)" if cfg.plan_first else ")")
    )


def project_docgen(cfg: DocgenConfig, spec: Spec) -> dict[str, Any]:
    """The projected plan, calls, tokens and cost of ``cfg`` on ``spec`` (see the module
    docstring for what is exact). Pure: nothing is called or written."""
    sections, _ = structure_units(spec, cfg.max_section_tokens)
    t = _Tally(len(spec_context(spec, cfg.context_tokens).text.split()))
    excerpt_words = sum(len(u.excerpt.split()) for u in sections) / max(1, len(sections))
    units = _units(cfg, sections, t)
    assertions, exact_assertions = _assertions(cfg, spec, sections, units, excerpt_words, t)
    ideas, exact_ideas = _ideas(cfg, assertions, t)
    documents = ideas * cfg.docs_per_idea
    exact = {
        "units": cfg.planner == "structure",
        "assertions": exact_assertions,
        "ideas": exact_assertions and exact_ideas,
        "documents": exact_assertions and exact_ideas,
    }
    planning_calls = sum(t.calls.values())
    planning_in, planning_out = t.tin, t.tout
    template = _document_template(cfg)
    doc_in = t.prompt_words(template, excerpt_words, 2 * ITEM_WORDS, 10)
    doc_out = cfg.doc_words * TOKENS_PER_WORD
    plan_out = PLAN_TOKENS if cfg.plan_first else 0
    t.add("documents", documents, doc_in, doc_out + plan_out, template)
    gen_in, gen_out = int(t.tin), int(t.tout)
    gen_read, gen_write = projected_cache(cfg.model, t.prefixes)
    cost = cost_usd(cfg.model, gen_in, gen_out, gen_read, gen_write, cfg.batch)
    judge, judge_cost = _judge(cfg, documents, excerpt_words, t)
    judge_in, judge_out = (judge["input_tokens"], judge["output_tokens"]) if judge else (0, 0)
    total = None if cost is None or (cfg.judge and judge_cost is None) else cost + (judge_cost or 0)
    n_calls = sum(t.calls.values())
    approx = "" if exact["documents"] else "~"
    return {
        "estimate": True,
        "units": units,
        "assertions": assertions,
        "ideas": ideas,
        "documents": documents,
        "exact": exact,
        "llm_calls": n_calls,
        "calls_by_stage": t.calls,
        # per model, for cost tables that price the generator and the judge apart
        "generator": {
            "calls": n_calls - t.calls.get("judge", 0),
            "input_tokens": gen_in,
            "output_tokens": gen_out,
            "prefixes": t.prefixes,
        },
        "judge": judge,
        "planning_calls": planning_calls,
        "planning_input_tokens": int(planning_in),
        "planning_output_tokens": int(planning_out),
        "document_input_tokens": int(documents * doc_in * TOKENS_PER_WORD),
        "document_output_tokens": int(documents * (doc_out + plan_out)),
        "input_tokens": gen_in + judge_in,
        "output_tokens": gen_out + judge_out,
        "generator_cost_usd": cost,
        "judge_cost_usd": judge_cost,
        "cost_usd": total,
        "corpus_tokens": int(documents * doc_out),
        "batch_rounds": batch_rounds(cfg),
        "estimate_basis": _basis(cfg, doc_in, doc_out),
        "summary": f"{approx}{documents:,} documents, ~{n_calls:,} LLM calls",
    }


def reason_check_warning(cfg: DocgenConfig, spec: Spec) -> str | None:
    """Why documents of ``cfg`` would not be checked for the spec's reasons, as a warning
    line (None when they are): a values-mode corpus, no judge and no ``value_terms``."""
    if cfg.mode != "values" or cfg.judge or value_terms(spec):
        return None
    return (
        f"spec {cfg.spec} declares no value_terms and no judge is set: documents are not "
        "checked for stating the spec's reasons (add value_terms: [words that state its "
        "value] to the spec's front matter, or set a judge; README: 'Your own spec')"
    )
