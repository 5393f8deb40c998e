"""The "Cost and time" section's table by role: what each role (generator, judge, model
under test, grader) really called and cost, next to what the dry run projected for it.

Actuals come from each finished node's ``manifest.json`` ``usage``: docgen and aftgen per
stage (a stage ending in ``.judge`` is the judge, any other the generator), evals per
role (``grader2`` is counted as a grader, as the dry run counts it). Both columns are
priced by the same rules (:mod:`msm.llm.prices`): cache reads and writes at their prices
and calls sent through a batch API at the batch price, with today's price table; where a
usage row names no single model its recorded cost is used. List price is every token at
the standard price. What no node recorded is "not recorded", never 0.
"""

from __future__ import annotations

from typing import Any

from msm.llm.prices import cost_usd
from msm.report.sections.cost_cells import cell, count, usd

ROLES = ("generator", "judge", "model under test", "grader")


def _role(key: str, kind: str) -> str:
    if kind == "eval":
        return "grader" if key.startswith("grader") else key
    return "judge" if key.endswith(".judge") else "generator"


def _num(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def priced(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """(paid, list price) of one usage row, priced by today's table where it names one
    model (batch calls at the batch price), else its recorded costs."""
    models = row.get("models") if isinstance(row.get("models"), list) else None
    model = row.get("model") if isinstance(row.get("model"), str) else None
    if model is None and models is not None and len(models) == 1:
        model = str(models[0])
    tin, tout = _num(row.get("input_tokens")), _num(row.get("output_tokens"))
    recorded = row.get("cost_usd")
    recorded = float(recorded) if isinstance(recorded, int | float) else None
    if model is None or tin is None or tout is None or row.get("price") == "local":
        listed = row.get("list_cost_usd", recorded)
        return recorded, (float(listed) if isinstance(listed, int | float) else None)
    read = _num(row.get("input_tokens_cache_read"))
    write = _num(row.get("input_tokens_cache_write"))
    calls = _num(row.get("calls")) or 0
    share = (_num(row.get("batch_calls")) or 0) / calls if calls else 0.0
    whole = cost_usd(model, tin, tout, read, write)
    batch = cost_usd(model, tin, tout, read, write, batch=True) if share else 0.0
    paid = None if whole is None or batch is None else (1 - share) * whole + share * batch
    return paid, cost_usd(model, tin, tout)


def _blank() -> dict[str, Any]:
    return {"calls": 0, "tokens": 0, "cache_read": None, "list": 0.0, "paid": 0.0, "nodes": 0}


def _add(acc: dict[str, Any], key: str, v: float | None) -> None:
    acc[key] = None if v is None or acc[key] is None else acc[key] + v


def actual_by_role(usages: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per role, over (node kind, manifest usage) pairs: calls, tokens (in + out), cache
    reads (None where none was reported), list price and what was paid."""
    out: dict[str, dict[str, Any]] = {}
    for kind, usage in usages:
        if not isinstance(usage, dict):
            continue
        seen: set[str] = set()
        for key, row in usage.items():
            if not isinstance(row, dict):
                continue
            role = _role(str(key), kind)
            acc = out.setdefault(role, _blank())
            if role not in seen:
                acc["nodes"] += 1
                seen.add(role)
            acc["calls"] += _num(row.get("calls")) or 0
            toks = [_num(row.get(k)) for k in ("input_tokens", "output_tokens")]
            _add(acc, "tokens", None if None in toks else sum(t or 0 for t in toks))
            read = _num(row.get("input_tokens_cache_read"))
            if read is not None:
                acc["cache_read"] = (acc["cache_read"] or 0) + read
            paid, listed = priced(row)
            _add(acc, "paid", paid)
            _add(acc, "list", listed)
    return out


def projected_by_role(projs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same per role from the dry run's call rows of the finished nodes."""
    out: dict[str, dict[str, Any]] = {}
    for p in projs:
        for r in p.get("calls") or []:
            acc = out.setdefault(r["role"], _blank())
            acc["calls"] += r["calls"]
            acc["tokens"] += r["input_tokens"] + r["output_tokens"]
            acc["cache_read"] = (acc["cache_read"] or 0) + int(r.get("cache_read_tokens") or 0)
            _add(acc, "paid", r.get("cost_usd"))
            _add(acc, "list", r.get("list_cost_usd", r.get("cost_usd")))
    return out


def role_rows(
    actual: dict[str, dict[str, Any]], proj: dict[str, dict[str, Any]] | None
) -> list[list[str]]:
    """Table rows, each cell ``actual / projected`` (:func:`cost_cells.cell`)."""
    rows = []
    have = proj is not None
    for role in ROLES:
        a = actual.get(role)
        p = (proj or {}).get(role)
        if a is None and p is None:
            continue
        a = a or _blank() | {"tokens": None, "list": None, "paid": None}
        p = p or _blank()
        rows.append([
            role, str(a["nodes"]), cell(a["calls"], p["calls"], count, "", have),
            cell(a["tokens"], p["tokens"], count, "", have),
            cell(a["cache_read"], p["cache_read"], count, "", have),
            cell(a["list"], p["list"], usd, "", have),
            cell(a["paid"], p["paid"], usd, "", have),
        ])  # fmt: skip
    return rows
