"""What an eval really called, by role: read from its Inspect logs and msm's own passes.

``summary.json`` and ``manifest.json`` get a ``usage`` block by role: ``model under test``,
``grader`` and, with ``--grader2``, ``grader2`` (the dry run projects its calls as grader
calls under its own model: ``msm.experiment.projection.evals``). Each role: the calls
that reached the model (``calls``), those Inspect answered from its cache
(``cached_calls``), input and output tokens (input counts every token sent;
``input_tokens_cache_read`` and ``_write`` are the parts the provider's prompt cache served
or stored, None where no call reported them), and the dollar cost: ``cost_usd`` what was
paid (cache prices, and the batch price for graders sent through a batch API:
``batch_calls``), ``list_cost_usd`` the same tokens at list price (``price``: ``local``
for a model run on your own hardware, ``api`` with a known price, ``unknown`` without
one: cost None, never a guess).

Tokens come from each model call's reported usage. Where a call reported none (or msm
scored the model itself: log-likelihood passes), the tokens are not recorded: they are
None, or ``tokens_partial`` says which calls they leave out, never a silent 0.
"""

from __future__ import annotations

from typing import Any

from msm.errors import MsmError
from msm.llm.answers import usage_tokens
from msm.llm.names import resolve_model
from msm.llm.prices import cost_usd

MUT = "model under test"
GRADER = "grader"


def _blank(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "calls": 0,
        "cached_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "input_tokens_cache_read": None,
        "input_tokens_cache_write": None,
        "_with_usage": 0,
    }


def log_usage(logs: list[Any], model: str, roles: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Calls and tokens per (role, model) over every model event of ``logs``' samples.

    ``model``: the model under test (events without a role); ``roles``: Inspect role ->
    its model name (``grader``, ``grader2``).
    """
    out: dict[str, dict[str, Any]] = {}
    for log in logs:
        for smp in log.samples or []:
            for ev in smp.events or []:
                if getattr(ev, "event", None) != "model":
                    continue
                role = getattr(ev, "role", None)
                name = model if role is None else roles.get(role, str(ev.model))
                key = MUT if role is None else (GRADER if role == "grader" else str(role))
                row = out.setdefault(key, _blank(name))
                if getattr(ev, "cache", None) == "read":
                    row["cached_calls"] += 1
                    continue
                row["calls"] += 1
                usage = getattr(getattr(ev, "output", None), "usage", None)
                if usage is not None:
                    n_in, n_out, read, write = usage_tokens(usage)
                    row["_with_usage"] += 1
                    row["input_tokens"] += n_in
                    row["output_tokens"] += n_out
                    for k, v in (("read", read), ("write", write)):
                        if v is not None:
                            key = f"input_tokens_cache_{k}"
                            row[key] = (row[key] or 0) + v
    return out


def add_passes(
    usage: dict[str, dict[str, Any]], model: str, passes: int, tokens: int | None, what: str
) -> None:
    """Count ``passes`` of msm's own scoring (log-likelihood, perplexity) as calls to the
    model under test; ``tokens`` their input tokens where known."""
    if passes <= 0:
        return
    row = usage.setdefault(MUT, _blank(model))
    row["calls"] += passes
    if tokens is None:
        row.setdefault("_unrecorded", []).append(what)
    else:
        row["input_tokens"] += tokens
        row["_with_usage"] += passes


def finish(
    usage: dict[str, dict[str, Any]], batched: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """Tokens None where no call reported them, a note where only some did; cost by price
    (``batched``: the roles sent through a batch API, at the batch price)."""
    done: dict[str, dict[str, Any]] = {}
    for role in sorted(usage, key=lambda r: (r != MUT, r)):
        row = dict(usage[role])
        with_usage = row.pop("_with_usage")
        unrecorded = row.pop("_unrecorded", [])
        if row["calls"] and not with_usage:
            row["input_tokens"] = row["output_tokens"] = None
        elif with_usage < row["calls"]:
            row["tokens_partial"] = (
                f"tokens of {row['calls'] - with_usage} of {row['calls']} calls not recorded"
                + (f" ({', '.join(unrecorded)})" if unrecorded else "")
            )
        row["batch_calls"] = row["calls"] if role in batched else 0
        if _own_hardware(row["model"]):
            # your hardware: its cost is time
            row["price"], row["cost_usd"], row["list_cost_usd"] = "local", 0.0, 0.0
        elif row["input_tokens"] is None:
            row["price"], row["cost_usd"], row["list_cost_usd"] = "api", None, None
        else:
            tin, tout = row["input_tokens"], row["output_tokens"]
            c = cost_usd(row["model"], tin, tout, row["input_tokens_cache_read"],
                         row["input_tokens_cache_write"], role in batched)  # fmt: skip
            row["price"], row["cost_usd"] = ("unknown" if c is None else "api"), c
            row["list_cost_usd"] = cost_usd(row["model"], tin, tout)
        done[role] = row
    return done


def _own_hardware(model: str) -> bool:
    """msm runs it, or a vLLM server of yours does: no per-token price."""
    try:
        resolved = resolve_model(model, check=False)
    except MsmError:
        return False
    return resolved.local or resolved.provider == "vllm"


def eval_usage(cfg: Any, logs: list[Any], summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``summary.json``'s ``usage``: the Inspect tasks' calls by role, plus msm's own
    log-likelihood passes (two an item: one per option; again on the baseline) and
    perplexity windows, counted as calls to the model under test."""
    import math

    roles = {r: m for r, m in (("grader", cfg.grader), ("grader2", cfg.grader2)) if m}
    usage = log_usage(logs, cfg.model, roles)
    if summary.get("values_scoring") == "loglik":
        items = sum(
            int((res.get("acc") or {}).get("items") or 0)
            for res in (summary.get("values") or {}).values()
        )
        add_passes(usage, cfg.model, 2 * items * (2 if cfg.baseline else 1), None, "loglik")
    cap = summary.get("capability")
    if isinstance(cap, dict) and isinstance(cap.get("tokens"), int):
        add_passes(usage, cfg.model, max(1, math.ceil(cap["tokens"] / 1023)), cap["tokens"], "")
    batched = frozenset(r for r in usage if r != MUT) if getattr(cfg, "batch", False) else None
    return finish(usage, batched or frozenset())
