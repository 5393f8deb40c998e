"""Projections for ``msm run --dry-run``: LLM calls, tokens, cost, training tokens.

Estimates from the settings alone: no model is loaded and nothing is called.
Corpus sizes follow docgen's hierarchy (units x assertions x doc types x ideas x
documents per idea); list calls are one per list (re-asks not counted).
"""

from __future__ import annotations

from typing import Any

from msm.experiment.config import Experiment
from msm.experiment.plan import Node

TOKENS_PER_WORD = 1.35
PREFERENCE_TOKENS = 60  # one preference exchange, chat-templated
LIST_OUTPUT_TOKENS = 150


def _corpus(node: Node) -> dict[str, Any]:
    from msm.docgen import DocgenConfig
    from msm.llm.usage import cost_usd
    from msm.spec import load_spec
    from msm.spec_units import structure_units
    from msm.specs_builtin import resolve_spec_path

    cfg = node.config
    assert isinstance(cfg, DocgenConfig)
    spec = load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        literal_name=cfg.literal_name,
    )
    units, _ = structure_units(spec, cfg.max_section_tokens)
    n_units = len(units)
    list_calls = 0
    if cfg.planner == "llm":
        chunks = max(1, n_units)
        list_calls += chunks + chunks * cfg.n_domains
        n_units = chunks * cfg.n_domains * cfg.n_subdomains
    assertions = n_units * cfg.n_assertions
    list_calls += n_units  # assertion lists
    if cfg.doc_types_from == "llm":
        list_calls += assertions
    pairs = assertions * cfg.n_doc_types
    if cfg.ideas_from == "llm":
        list_calls += pairs  # idea lists
    docs = pairs * cfg.n_ideas * cfg.docs_per_idea
    excerpt = sum(len(u.excerpt.split()) for u in units) / max(1, len(units))
    doc_out = int(cfg.doc_words * TOKENS_PER_WORD)
    doc_in = int((excerpt + 220) * TOKENS_PER_WORD)
    calls = list_calls + docs * (2 if cfg.plan_first else 1)
    tin = list_calls * doc_in + docs * doc_in * (2 if cfg.plan_first else 1)
    tout = list_calls * LIST_OUTPUT_TOKENS + docs * (doc_out + (120 if cfg.plan_first else 0))
    if cfg.judge:
        calls += docs
    return {
        "llm_calls": calls,
        "input_tokens": tin,
        "output_tokens": tout,
        "cost_usd": cost_usd(cfg.model, tin, tout),
        "documents": docs,
        "corpus_tokens": docs * doc_out,
        "summary": f"{docs:,} documents, {calls:,} LLM calls",
    }


def _aftdata(node: Node) -> dict[str, Any]:
    from msm.aftgen.config import AftgenConfig
    from msm.llm.usage import cost_usd

    cfg = node.config
    assert isinstance(cfg, AftgenConfig)
    if cfg.kind == "preference":
        return {
            "llm_calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "example_tokens": PREFERENCE_TOKENS,
            "summary": f"{cfg.n:,} preference examples (no LLM)",
        }
    resp = int(cfg.max_tokens_response * 0.6)
    n = cfg.n
    calls = int(n * 1.5) + int(n * 0.3)  # responses (+ re-asks/dedup losses) and query lists
    tin, tout = calls * 600, n * resp + int(n * 0.3) * LIST_OUTPUT_TOKENS
    return {
        "llm_calls": calls,
        "input_tokens": tin,
        "output_tokens": tout,
        "cost_usd": cost_usd(cfg.model, tin, tout),
        "example_tokens": resp + 60,
        "summary": f"{n:,} chat examples, ~{calls:,} LLM calls",
    }


def project(exp: Experiment, plan: list[Node]) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    totals: dict[str, Any] = {
        "llm_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "train_tokens": 0,
        "train_runs": 0,
        "eval_runs": 0,
    }
    for n in plan:
        if n.kind == "corpus":
            nodes[n.id] = _corpus(n)
        elif n.kind == "aftdata":
            nodes[n.id] = _aftdata(n)
        elif n.kind in ("midtrain", "aft"):
            epochs = float(getattr(n.config, "epochs", 1.0))
            if n.kind == "midtrain":
                tokens = nodes[n.deps[0]]["corpus_tokens"]
            else:
                tokens = n.extra["size"] * nodes["aftdata"]["example_tokens"]
            t = int(tokens * epochs)
            data = "corpus" if n.kind == "midtrain" else n.extra["data_file"]
            nodes[n.id] = {"train_tokens": t, "summary": f"{t:,} training tokens on {data}"}
            totals["train_tokens"] += t
            totals["train_runs"] += 1
        elif n.kind == "eval":
            totals["eval_runs"] += 1
        for k in ("llm_calls", "input_tokens", "output_tokens"):
            totals[k] += nodes.get(n.id, {}).get(k, 0)
        c = nodes.get(n.id, {}).get("cost_usd", 0.0)
        totals["cost_usd"] = (
            None if c is None or totals["cost_usd"] is None else totals["cost_usd"] + c
        )
    return {"nodes": nodes, "totals": totals}
