"""Projections for ``msm run --dry-run``: every call by role, tokens, cost, disk, time.

Estimates from the settings alone: no model is loaded and nothing is called. Roles:
``generator`` (corpus and AFT data), ``judge`` (their judges), ``model under test``
(every eval sample, log-likelihood pass and perplexity pass) and ``grader`` (agentic
and spec QA). Corpus sizes follow docgen's hierarchy (units x assertions x doc types x
ideas x documents per idea); list calls are one per list (re-asks not counted). Evals:
``msm.experiment.projection.evals``; disk and time: ``msm.experiment.projection.cost``.
Dollars only for API models with a known price (``msm/data/prices.yaml``): a model
without one is "unknown price", never a guess; the model under test runs on your own
hardware, so its cost is its time. Each call row has its cost at list price
(``list_cost_usd``: every token at the standard price) and what will be paid
(``cost_usd``): a shared system prefix long enough to be cached is a cache read after the
first call (``cache_read_tokens``, ``cache_write_tokens``), and a role sent through a
batch API (``batch``: the stage's ``batch`` setting; for evals the graders') is priced at
the batch price.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from msm.aftgen.config import AftgenConfig
from msm.aftgen.plan import spec_target_warning
from msm.aftgen.projection import project_aftgen
from msm.docgen.config import DocgenConfig
from msm.docgen.projection import project_docgen, reason_check_warning
from msm.docgen.subset import check_sizes
from msm.errors import MsmError
from msm.evalgen.run import preview_evalgen
from msm.evals.loglik_remote import runs_here
from msm.experiment.config import Experiment
from msm.experiment.plan import (
    GENERATION,
    TRAINING,
    Input,
    Node,
    NodeKind,
    base_ref,
    needs_weights_here,
)
from msm.experiment.projection.cost import (
    data_disk,
    done_seconds,
    eval_disk,
    guess_seconds,
    measured_rates,
    train_disk,
    work_units,
)
from msm.experiment.projection.evals import project_eval
from msm.llm.names import resolve_model
from msm.llm.prices import cost_usd, projected_cache
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import load_spec, placeholder_problems

TOKENS_PER_WORD = 1.35
PREFERENCE_TOKENS = 60  # one preference exchange, chat-templated
ROLES = ("generator", "judge", "model under test", "grader")


def _row(role: str, model: str, calls: int, tin: int, tout: int, **extra: Any) -> dict[str, Any]:
    return {"role": role, "model": model, "calls": calls, "input_tokens": tin,
            "output_tokens": tout, "note": "", **extra}  # fmt: skip


def price_rows(rows: list[dict[str, Any]]) -> None:
    """Add ``cost_usd`` (what will be paid), ``list_cost_usd``, the projected cache tokens
    and ``price`` (api, local or unknown) to each call row."""

    for r in rows:
        r.setdefault("batch", False)
        if r["role"] == "model under test" or resolve_model(r["model"], check=False).local:
            # your hardware: its cost is the time
            r |= {"cost_usd": 0.0, "list_cost_usd": 0.0, "price": "local"}
            r |= {"cache_read_tokens": 0, "cache_write_tokens": 0}
            continue
        read, write = projected_cache(r["model"], r.get("prefixes"))
        tin, tout = r["input_tokens"], r["output_tokens"]
        r["cache_read_tokens"], r["cache_write_tokens"] = read, write
        r["list_cost_usd"] = cost_usd(r["model"], tin, tout)
        r["cost_usd"] = cost_usd(r["model"], tin, tout, read, write, r["batch"])
        r["price"] = "unknown" if r["cost_usd"] is None else "api"


def _stage_spec(cfg: Any) -> Any:
    return load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        literal_name=cfg.literal_name,
    )


def _corpus(exp: Experiment, node: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """docgen's own projection (``msm docgen --preview`` prints the same numbers)."""

    cfg = node.config
    assert isinstance(cfg, DocgenConfig)
    spec = _stage_spec(cfg)
    p = project_docgen(cfg, spec)
    rows = _generation_rows(cfg, p)
    unchecked = reason_check_warning(cfg, spec)
    warnings = [f"{node.id}: {w}" for w in [*placeholder_problems(spec)[1], unchecked] if w]
    sizes = node.meta.get("dose_sizes")
    if sizes and p["exact"]["documents"]:  # a dose study's subsets must be smaller
        try:
            check_sizes(sizes, p["documents"])
        except MsmError as e:
            raise MsmError(f"{node.id}: {e}") from None
    elif sizes and sizes[-1] >= p["documents"]:
        warnings.append(
            f"{node.id}: corpus.sizes up to {sizes[-1]} documents, but the corpus is projected "
            f"at ~{p['documents']}: the run stops there if it keeps fewer"
        )
    proj = {
        **({"warnings": warnings} if warnings else {}),
        "calls": rows,
        "batch_rounds": p["batch_rounds"] if cfg.batch else 0,
        "documents": p["documents"],
        "corpus_tokens": p["corpus_tokens"],
        "summary": ("" if p["exact"]["documents"] else "~") + f"{p['documents']:,} documents",
    }
    proj["disk_bytes"], proj["disk_basis"] = data_disk(node.kind, proj, node)
    return proj


def _generation_rows(cfg: Any, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The generator's and judge's call rows of a generation stage's own projection ``p``."""
    roles = (("generator", cfg.model, p["generator"]), ("judge", cfg.judge, p["judge"]))
    return [
        _row(role, str(model), r["calls"], r["input_tokens"], r["output_tokens"],
             prefixes=r["prefixes"], batch=cfg.batch)
        for role, model, r in roles
        if r
    ]  # fmt: skip


def _aftdata(exp: Experiment, node: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """aftgen's own projection, with the disk its files take."""
    proj = _aftgen_projection(node)
    proj["disk_bytes"], proj["disk_basis"] = data_disk(node.kind, proj, node)
    return proj


def _aftgen_projection(node: Node) -> dict[str, Any]:
    cfg = node.config
    assert isinstance(cfg, AftgenConfig)
    if cfg.kind == "preference":
        return {
            "calls": [],
            "example_tokens": PREFERENCE_TOKENS,
            "summary": f"{cfg.n:,} preference examples (no LLM)",
        }
    p = project_aftgen(cfg, _stage_spec(cfg))
    rows = _generation_rows(cfg, p)
    warning = spec_target_warning(cfg)
    return {
        "calls": rows,
        "example_tokens": p["response_tokens"] + 60,
        "batch_rounds": p["batch_rounds"] if cfg.batch else 0,
        "summary": f"{cfg.n:,} chat examples (assumed keep rate {p['keep_rate']:.0%})",
        **({"warnings": [f"{node.id}: {warning}"]} if warning else {}),
    }


def _evalgen(exp: Experiment, node: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """evalgen's own projection (``msm evalgen --preview``: the most it calls)."""
    cfg = node.config
    p = preview_evalgen(cfg)  # type: ignore[arg-type]
    rows = [
        _row(role, r["model"], r["calls"], r["input_tokens"], r["output_tokens"],
             batch=cfg.batch)  # type: ignore[attr-defined]
        for role, r in p["calls"].items()
    ]  # fmt: skip
    n_q, n_c = cfg.n_questions, cfg.n_choices  # type: ignore[attr-defined]
    return {
        "calls": rows,
        "questions": n_q,
        "choices": n_c,
        "disk_bytes": int((n_q + n_c) * 400 * 4),
        "disk_basis": "guess: ~400 tokens an item",
        "summary": f"{n_q} spec QA questions, {n_c} choices ({p['sections']} sections)",
    }


def _train(exp: Experiment, n: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    epochs = float(getattr(n.config, "epochs", 1.0))
    if n.kind == "midtrain":
        corpus = nodes[n.deps[0]]
        tokens = corpus["corpus_tokens"]
        docs = n.extra.get("corpus_docs")
        if docs:  # a dose study's subset: its share of the corpus
            tokens = tokens * docs // max(1, corpus["documents"])
    else:
        data_input = n.inputs["data"]
        assert isinstance(data_input, Input)  # one AFT data node
        tokens = n.extra["size"] * nodes[data_input.dep]["example_tokens"]
    t = int(tokens * epochs)
    data = "corpus" if n.kind == "midtrain" else n.extra["data_file"]
    if n.extra.get("corpus_docs"):
        data = f"a {n.extra['corpus_docs']}-document subset of the corpus"
    return {
        "calls": [],
        "train_tokens": t,
        **train_disk(exp, n),
        "summary": f"{t:,} training tokens on {data}",
    }


def _eval(exp: Experiment, n: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if n.meta.get("same_as"):  # the base model's deterministic eval, copied: nothing runs
        return {
            "calls": [],
            "samples": {},
            "disk_bytes": 0,
            "disk_basis": "a copy of its source",
            "summary": f"same as {n.meta['same_as']} (deterministic: its result is copied)",
        }
    trained = "model" in n.inputs
    if trained:  # a trained model: msm's local engine runs it here, vLLM serves it
        model, local = f"trained ({n.deps[0]})", exp.eval.engine == "hf"
    else:
        model = base_ref(exp.base_model, exp.eval.engine)
        local = runs_here(model)
    generated: dict[str, Any] | None = None
    if "static_sets" in n.extra:  # the specs' own sets, not written yet: what evalgen keeps
        static = n.extra["static_sets"]
        generated = {
            kind: [nodes[d][kind] for d in n.deps if nodes[d].get(kind) is not None]
            for kind in ("questions", "choices")
        }
        generated["static"] = (static["questions"], static["items"])
    proj = project_eval(
        n.config, model, local, base=exp.base_model if trained else None, generated=generated
    )
    proj["disk_bytes"], proj["disk_basis"] = eval_disk(proj)
    return proj


# node kind -> its projection: (experiment, node, the projections of the nodes before it)
_Projection = Callable[[Experiment, Node, dict[str, dict[str, Any]]], dict[str, Any]]
_PROJECTIONS: dict[NodeKind, _Projection] = {
    "corpus": _corpus,
    "aftdata": _aftdata,
    "evalgen": _evalgen,
    "midtrain": _train,
    "aft": _train,
    "eval": _eval,
}


def project(
    exp: Experiment,
    plan: list[Node],
    run: Path | None = None,
    statuses: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per node and in total: calls by role with tokens and cost, training tokens, disk
    and wall time (measured from nodes done in ``run`` where there are any)."""
    statuses = statuses or {}
    nodes: dict[str, dict[str, Any]] = {}
    for n in plan:
        nodes[n.id] = _PROJECTIONS[n.kind](exp, n, nodes)
        price_rows(nodes[n.id]["calls"])
    _times(exp, plan, nodes, run, statuses)
    merges = needs_weights_here(exp)
    return {"nodes": nodes, "totals": totals(plan, nodes, statuses, merges)}


def _times(
    exp: Experiment,
    plan: list[Node],
    nodes: dict[str, dict[str, Any]],
    run: Path | None,
    statuses: dict[str, str],
) -> None:
    rates = measured_rates(run, plan, nodes, statuses) if run is not None else {}
    for n in plan:
        p = nodes[n.id]
        took = done_seconds(run, n) if run is not None and statuses.get(n.id) == "done" else None
        if took is not None:
            p["seconds"], p["time_basis"] = took, "done: its recorded time"
        elif n.kind in rates:
            rate, count = rates[n.kind]
            p["seconds"] = rate * work_units(n.kind, p)
            p["time_basis"] = f"measured: {count} {n.kind} node(s) done in this run"
        else:
            p["seconds"], p["time_basis"] = guess_seconds(exp, n, p)
            _batch_wait(n, p)


BATCH_TYPICAL_S = 3600.0  # a batch usually finishes within an hour
BATCH_LIMIT_S = 86400.0  # and within 24 hours at most


def _batch_wait(n: Node, p: dict[str, Any]) -> None:
    """A batched stage waits for its batches: a range, ``seconds`` (each round of batches
    within its usual hour) to ``seconds_max`` (each at the 24-hour limit)."""
    if p["seconds"] is None:
        return
    if n.kind in GENERATION and p.get("batch_rounds"):
        k = p["batch_rounds"]
        p["seconds_max"] = k * BATCH_LIMIT_S
        p["seconds"] = k * BATCH_TYPICAL_S
        p["time_basis"] = (
            f"guess: batched, {k} rounds of batches one after another, each usually "
            "within 1 h, at most 24 h"
        )
    elif n.kind == "eval" and any(r.get("batch") and r["calls"] for r in p["calls"]):
        # graders are batched while the samples run; the last batches are waited for
        p["seconds_max"] = p["seconds"] + BATCH_LIMIT_S
        p["seconds"] += BATCH_TYPICAL_S
        p["time_basis"] += "; graders batched: + the last batches (usually 1 h, at most 24 h)"


def totals(
    plan: list[Node],
    nodes: dict[str, dict[str, Any]],
    statuses: dict[str, str],
    merges: bool = True,
) -> dict[str, Any]:
    """Sums over the plan: by role, API dollars, disk, time (all and still to run).

    ``merged_peak_bytes``: the merged copy an eval makes of an adapter-only checkpoint
    (one at a time), when the evals read merged weights (``needs_weights_here``)."""
    by_role: dict[str, dict[str, Any]] = {}
    t: dict[str, Any] = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    t |= {"list_cost_usd": 0.0, "cache_read_tokens": 0, "seconds_max": 0.0}
    t |= {"unknown_price": [], "train_tokens": 0, "train_runs": 0, "eval_runs": 0}
    t |= {"disk_bytes": 0, "disk_unknown": 0, "seconds": 0.0, "seconds_left": 0.0}
    t |= {"time_unknown": 0, "merged_peak_bytes": 0}
    for n in plan:
        p = nodes[n.id]
        for r in p["calls"]:
            role = by_role.setdefault(
                r["role"],
                {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "models": []}
                | {"local": True, "list_cost_usd": 0.0, "cache_read_tokens": 0}
                | {"batch_calls": 0},
            )
            role["local"] = role["local"] and r["price"] == "local"
            role["batch_calls"] += r["calls"] if r.get("batch") else 0
            for k in ("calls", "input_tokens", "output_tokens", "cache_read_tokens"):
                role[k] += r.get(k, 0)
                t[k] += r.get(k, 0)
            listed = r.get("list_cost_usd", r["cost_usd"])
            if listed is None or role["list_cost_usd"] is None:
                role["list_cost_usd"] = None
            else:
                role["list_cost_usd"] += listed
            t["list_cost_usd"] += listed or 0.0
            if r["model"] not in role["models"] and not r["model"].startswith("trained ("):
                role["models"].append(r["model"])
            if r["cost_usd"] is None:
                role["cost_usd"] = None
                if r["model"] not in t["unknown_price"]:
                    t["unknown_price"].append(r["model"])
            elif role["cost_usd"] is not None:
                role["cost_usd"] += r["cost_usd"]
            if r["cost_usd"] is not None:
                t["cost_usd"] += r["cost_usd"]
        if n.kind in TRAINING:
            t["train_tokens"] += p["train_tokens"]
            t["train_runs"] += 1
            if p.get("save") == "adapter" and p.get("merged_bytes") and merges:
                t["merged_peak_bytes"] = max(t["merged_peak_bytes"], p["merged_bytes"])
        elif n.kind == "eval":
            t["eval_runs"] += 1
        if p.get("disk_bytes") is None:
            t["disk_unknown"] += 1
        else:
            t["disk_bytes"] += p["disk_bytes"]
        if p.get("seconds") is None:
            t["time_unknown"] += 1
        else:
            t["seconds"] += p["seconds"]
            t["seconds_max"] += p.get("seconds_max", p["seconds"])
            if statuses.get(n.id) != "done":
                t["seconds_left"] += p["seconds"]
    t["by_role"] = {r: by_role[r] for r in ROLES if r in by_role}
    return t
