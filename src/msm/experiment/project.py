"""Projections for ``msm run --dry-run``: every call by role, tokens, cost, disk, time.

Estimates from the settings alone: no model is loaded and nothing is called. Roles:
``generator`` (corpus and AFT data), ``judge`` (their judges), ``model under test``
(every eval sample, log-likelihood pass and perplexity pass) and ``grader`` (agentic
and spec QA). Corpus sizes follow docgen's hierarchy (units x assertions x doc types x
ideas x documents per idea); list calls are one per list (re-asks not counted). Evals:
``msm.experiment.project_evals``; disk and time: ``msm.experiment.project_cost``.
Dollars only for API models with a known price (``msm/data/prices.yaml``): a model
without one is "unknown price", never a guess; the model under test runs on your own
hardware, so its cost is its time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msm.experiment.config import Experiment
from msm.experiment.plan import Node, needs_weights_here

TOKENS_PER_WORD = 1.35
PREFERENCE_TOKENS = 60  # one preference exchange, chat-templated
LIST_OUTPUT_TOKENS = 150
JUDGE_PROMPT_TOKENS = 400  # a judge's instructions and the spec excerpt
JUDGE_OUTPUT_TOKENS = 60  # a short JSON verdict
ROLES = ("generator", "judge", "model under test", "grader")


def _row(role: str, model: str, calls: int, tin: int, tout: int) -> dict[str, Any]:
    return {"role": role, "model": model, "calls": calls, "input_tokens": tin,
            "output_tokens": tout, "note": ""}  # fmt: skip


def price_rows(rows: list[dict[str, Any]]) -> None:
    """Add ``cost_usd`` and ``price`` (api, local or unknown) to each call row."""
    from msm.llm.names import resolve_model
    from msm.llm.usage import cost_usd

    for r in rows:
        if r["role"] == "model under test" or resolve_model(r["model"], check=False).local:
            r["cost_usd"], r["price"] = 0.0, "local"  # your hardware: its cost is the time
            continue
        c = cost_usd(r["model"], r["input_tokens"], r["output_tokens"])
        r["cost_usd"], r["price"] = c, ("unknown" if c is None else "api")


def _stage_spec(cfg: Any) -> Any:
    from msm.spec import load_spec
    from msm.specs_builtin import resolve_spec_path

    return load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        literal_name=cfg.literal_name,
    )


def _corpus(node: Node) -> dict[str, Any]:
    """docgen's own projection (``msm docgen --preview`` prints the same numbers)."""
    from msm.docgen import DocgenConfig
    from msm.docgen.projection import project_docgen

    cfg = node.config
    assert isinstance(cfg, DocgenConfig)
    p = project_docgen(cfg, _stage_spec(cfg))
    g = p["generator"]
    rows = [_row("generator", cfg.model, g["calls"], g["input_tokens"], g["output_tokens"])]
    if p["judge"]:
        j = p["judge"]
        rows.append(
            _row("judge", str(cfg.judge), j["calls"], j["input_tokens"], j["output_tokens"])
        )
    return {
        "calls": rows,
        "documents": p["documents"],
        "corpus_tokens": p["corpus_tokens"],
        "summary": ("" if p["exact"]["documents"] else "~") + f"{p['documents']:,} documents",
    }


def _aftdata(node: Node) -> dict[str, Any]:
    from msm.aftgen.config import AftgenConfig
    from msm.aftgen.plan import spec_target_warning

    cfg = node.config
    assert isinstance(cfg, AftgenConfig)
    if cfg.kind == "preference":
        return {
            "calls": [],
            "example_tokens": PREFERENCE_TOKENS,
            "summary": f"{cfg.n:,} preference examples (no LLM)",
        }
    resp = int(cfg.max_tokens_response * 0.6)
    n = cfg.n
    # aftgen answers what is missing over the measured keep rate (+5%): ~1.05 n responses
    # when all are kept, more when the judge and dedup drop; lists hold 30 situations
    keep = 0.7 if cfg.judge else 0.9
    answers = int(n * 1.05 / keep)
    lists = 2 * -(-answers // 30)  # situation lists, then query lists
    calls = answers + lists
    tin, tout = calls * 600, answers * resp + lists * LIST_OUTPUT_TOKENS
    rows = [_row("generator", cfg.model, calls, tin, tout)]
    if cfg.judge:  # one verdict per response
        jin = answers * (resp + JUDGE_PROMPT_TOKENS)
        rows.append(_row("judge", cfg.judge, answers, jin, answers * JUDGE_OUTPUT_TOKENS))
    warning = spec_target_warning(cfg)
    return {
        "calls": rows,
        "example_tokens": resp + 60,
        "summary": f"{n:,} chat examples (assumed keep rate {keep:.0%})",
        **({"warnings": [f"{node.id}: {warning}"]} if warning else {}),
    }


def _train(exp: Experiment, n: Node, nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from msm.experiment.project_cost import train_disk

    epochs = float(getattr(n.config, "epochs", 1.0))
    if n.kind == "midtrain":
        tokens = nodes[n.deps[0]]["corpus_tokens"]
    else:
        tokens = n.extra["size"] * nodes["aftdata"]["example_tokens"]
    t = int(tokens * epochs)
    data = "corpus" if n.kind == "midtrain" else n.extra["data_file"]
    return {
        "calls": [],
        "train_tokens": t,
        **train_disk(exp, n),
        "summary": f"{t:,} training tokens on {data}",
    }


def _eval(exp: Experiment, n: Node) -> dict[str, Any]:
    from msm.evals.run import _runs_here
    from msm.experiment.plan import base_ref
    from msm.experiment.project_cost import eval_disk
    from msm.experiment.project_evals import project_eval

    if n.meta.get("same_as"):  # the base model's deterministic eval, copied: nothing runs
        return {
            "calls": [],
            "samples": {},
            "disk_bytes": 0,
            "disk_basis": "a copy of its source",
            "summary": f"same as {n.meta['same_as']} (deterministic: its result is copied)",
        }
    if n.deps:  # a trained model: msm's local engine runs it here, vLLM serves it
        model, local = f"trained ({n.deps[0]})", exp.eval.engine == "hf"
    else:
        model = base_ref(exp.base_model, exp.eval.engine)
        local = _runs_here(model)
    proj = project_eval(n.config, model, local, base=exp.base_model if n.deps else None)
    proj["disk_bytes"], proj["disk_basis"] = eval_disk(proj)
    return proj


def project(
    exp: Experiment,
    plan: list[Node],
    run: Path | None = None,
    statuses: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per node and in total: calls by role with tokens and cost, training tokens, disk
    and wall time (measured from nodes done in ``run`` where there are any)."""
    from msm.experiment.project_cost import data_disk

    statuses = statuses or {}
    nodes: dict[str, dict[str, Any]] = {}
    for n in plan:
        if n.kind == "corpus":
            nodes[n.id] = _corpus(n)
        elif n.kind == "aftdata":
            nodes[n.id] = _aftdata(n)
        elif n.kind in ("midtrain", "aft"):
            nodes[n.id] = _train(exp, n, nodes)
        else:
            nodes[n.id] = _eval(exp, n)
        if n.kind in ("corpus", "aftdata"):
            nodes[n.id]["disk_bytes"], nodes[n.id]["disk_basis"] = data_disk(n.kind, nodes[n.id], n)
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
    from msm.experiment.project_cost import (
        done_seconds,
        guess_seconds,
        measured_rates,
        work_units,
    )

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
    t |= {"unknown_price": [], "train_tokens": 0, "train_runs": 0, "eval_runs": 0}
    t |= {"disk_bytes": 0, "disk_unknown": 0, "seconds": 0.0, "seconds_left": 0.0}
    t |= {"time_unknown": 0, "merged_peak_bytes": 0}
    for n in plan:
        p = nodes[n.id]
        for r in p["calls"]:
            role = by_role.setdefault(
                r["role"],
                {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "models": []}
                | {"local": True},
            )
            role["local"] = role["local"] and r["price"] == "local"
            for k in ("calls", "input_tokens", "output_tokens"):
                role[k] += r[k]
                t[k] += r[k]
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
        if n.kind in ("midtrain", "aft"):
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
            if statuses.get(n.id) != "done":
                t["seconds_left"] += p["seconds"]
    t["by_role"] = {r: by_role[r] for r in ROLES if r in by_role}
    return t
