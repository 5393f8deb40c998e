"""The "Cost and time" section: what each node really took, next to what the dry run
projected for it, so the next projection can be trusted or corrected.

Actual numbers come from the run folder: LLM calls, tokens and dollars from each node's
``manifest.json`` (``usage``: docgen and aftgen per stage, evals per role), trained tokens
from a training node's ``manifest.json`` (``label_tokens_seen``), wall time from the
runner's ``state/<node>.json`` (``seconds``). The projection is ``msm run --dry-run``'s own,
written by ``msm run`` beside run.json (``projection.json``) before anything was measured:
the two columns are computed the way the dry run computes them. What a node did not record
is "not recorded", never 0. A table by role
(:mod:`msm.report.sections.cost_roles`) compares list price and what was paid (cache
reads, batch prices) with the projection's.
"""

from __future__ import annotations

from typing import Any

from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError
from msm.report.fmt import DASH
from msm.report.load import Node, read_json, rel
from msm.report.render import Section, Table
from msm.report.sections.cost_cells import cell, count, ratio, secs, usd
from msm.report.sections.cost_roles import actual_by_role, projected_by_role, role_rows
from msm.report.state import ReportState

KINDS = ("corpus", "aftdata", "evalgen", "midtrain", "aft", "eval")


def projection(st: ReportState) -> tuple[dict[str, dict[str, Any]] | None, str]:
    """Per node id, the dry run's projection that ``msm run`` wrote before the run
    (``projection.json`` beside run.json); None and why when there is none."""
    path = RunFolder(st.run.run_dir).projection
    if not path.is_file():
        return None, "the run folder holds no projection.json (a run from before msm wrote one)"
    try:
        data = read_json(path, "projection.json")
    except MsmError as e:
        return None, str(e)
    if not isinstance(data, dict):
        return None, "projection.json holds no mapping"
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        why = data.get("why") or "it holds no nodes"
        return None, f"msm run could not project this experiment ({why})"
    return nodes, "msm run --dry-run's projection, written by msm run before the run"


def _state(st: ReportState, node: Node) -> tuple[float | None, str]:
    path = RunFolder(st.run.run_dir).node_state(node.id)
    src = f"{rel(path, st.run.run_dir)}: seconds"
    if not path.is_file():
        return None, src
    data = read_json(path, rel(path, st.run.run_dir))
    s = data.get("seconds") if isinstance(data, dict) else None
    return (float(s) if isinstance(s, int | float) and not isinstance(s, bool) else None), src


def _usage_rows(usage: Any) -> list[dict[str, Any]]:
    """docgen/aftgen ``usage`` is keyed by stage, an eval's by role: both are rows."""
    if not isinstance(usage, dict):
        return []
    return [r for r in usage.values() if isinstance(r, dict)]


def actual(st: ReportState, node: Node) -> dict[str, Any]:
    """What ``node`` recorded: calls, tokens (LLM in + out, or trained tokens), cost, time."""
    seconds, time_src = _state(st, node)
    out: dict[str, Any] = {"calls": None, "tokens": None, "cost_usd": None, "seconds": seconds}
    out |= {"tokens_note": "", "cost_recorded": False, "sources": [time_src]}
    path = node.folder(st.run.run_dir) / "manifest.json"
    man = read_json(path, rel(path, st.run.run_dir)) if path.is_file() else None
    if not isinstance(man, dict):
        return out
    src = rel(path, st.run.run_dir)
    if node.kind in ("midtrain", "aft"):
        t = man.get("label_tokens_seen")
        out["tokens"] = t if isinstance(t, int) else None
        out["calls"], out["cost_usd"], out["cost_recorded"] = 0, 0.0, True  # no model calls
        out["sources"].append(f"{src}: label_tokens_seen")
        return out
    if "usage" not in man or man["usage"] is None:
        return out  # written before msm recorded this stage's usage
    rows = _usage_rows(man["usage"])
    out["sources"].append(f"{src}: usage")
    out["calls"] = sum(int(r.get("calls") or 0) for r in rows)
    toks = [r.get(k) for r in rows for k in ("input_tokens", "output_tokens")]
    known = [int(t) for t in toks if isinstance(t, int)]
    if known or not rows:
        out["tokens"] = sum(known)
    if len(known) < len(toks) and known:
        out["tokens_note"] = "partial"
    if any(r.get("tokens_partial") for r in rows):
        out["tokens_note"] = "partial"
    costs = [r.get("cost_usd") for r in rows]
    known_costs = [float(c) for c in costs if isinstance(c, int | float)]
    out["cost_usd"] = sum(known_costs) if len(known_costs) == len(costs) else None
    out["cost_recorded"] = True  # None from here on: a model without a known price
    return out


def projected(p: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if p is None:
        return {"calls": None, "tokens": None, "cost_usd": None, "seconds": None, "basis": ""}
    rows = p.get("calls") or []
    costs = [r.get("cost_usd") for r in rows]
    tokens = (
        p.get("train_tokens")
        if kind in ("midtrain", "aft")
        else sum(r["input_tokens"] + r["output_tokens"] for r in rows)
    )
    return {
        "calls": sum(r["calls"] for r in rows),
        "tokens": tokens,
        "cost_usd": None if any(c is None for c in costs) else float(sum(costs)),
        "seconds": p.get("seconds"),
        "basis": str(p.get("time_basis") or ""),
    }


def add_cost(st: ReportState) -> None:
    done = [n for n in st.run.nodes if n.done]
    if not done:
        return
    proj, proj_src = projection(st)
    recs: list[dict[str, Any]] = []
    for n in done:
        a = actual(st, n)
        p = projected((proj or {}).get(n.id), n.kind)
        recs.append({"node": n.id, "kind": n.kind, "actual": a, "projected": p})
    have = proj is not None
    sec = st.section(
        "Cost and time",
        "Each finished node's actual calls, tokens (LLM input + output; training nodes: "
        "trained tokens), API cost (what was paid: cache reads and batch prices as "
        "recorded) and wall time, next to the projection "
        f"(actual / projected, ×ratio). Projection: {proj_src}; its time basis says what "
        "it was estimated from. Evals count each model call Inspect made by role "
        "(model under test, grader) plus msm's own log-likelihood and perplexity passes; "
        "calls answered from a cache (a resumed stage) are not counted: they were paid for "
        "before.",
    )
    kinds = _by_kind(recs)
    krows = [
        [k, str(v["nodes"]),
         cell(v["actual"]["calls"], v["projected"]["calls"], count, v["note_calls"], have),
         cell(v["actual"]["tokens"], v["projected"]["tokens"], count, v["note_tokens"], have),
         cell(v["actual"]["cost_usd"], v["projected"]["cost_usd"], usd, v["note_cost"], have,
               v["cost_recorded"]),
         cell(v["actual"]["seconds"], v["projected"]["seconds"], secs, v["note_secs"], have)]
        for k, v in kinds.items()
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            ["stage", "nodes", "calls", "tokens", "API cost", "wall time"],
            krows,
            numeric=frozenset({1, 2, 3, 4, 5}),
            caption="Per stage kind, summed over its finished nodes (a sum leaves out nodes "
            "that did not record the quantity, and says how many it covers).",
        )  # fmt: skip
    )
    _add_roles(st, sec, done, proj)
    nrows = []
    for rec in recs:
        a, p = rec["actual"], rec["projected"]
        nrows.append([
            rec["node"], rec["kind"], cell(a["calls"], p["calls"], count, "", have),
            cell(a["tokens"], p["tokens"], count, a["tokens_note"], have),
            cell(a["cost_usd"], p["cost_usd"], usd, "", have, a["cost_recorded"]),
            cell(a["seconds"], p["seconds"], secs, "", have), p["basis"].split(":", 1)[0] or DASH,
            "\n".join(a["sources"]),
        ])  # fmt: skip
    sec.blocks.append(
        Table(
            ["node", "kind", "calls", "tokens", "API cost", "wall time", "time basis", "source"],
            nrows,
            numeric=frozenset({2, 3, 4, 5}),
            source_col=7,
        )  # fmt: skip
    )
    st.data["cost"] = {"projection": proj_src, "kinds": kinds, "nodes": recs}
    timed = [r for r in recs if r["actual"]["seconds"] is not None]
    if not timed:
        return  # no node recorded its time: nothing to sum
    total_a = sum(r["actual"]["seconds"] for r in timed)
    projs = [r["projected"]["seconds"] for r in timed]
    whole = ratio(total_a, sum(projs)) if have and None not in projs else None
    st.headline.append(
        f"wall time {secs(total_a)} over {len(timed)} finished nodes"
        + (f" (×{whole:.2f} the projection)" if whole is not None else "")
    )


def _add_roles(
    st: ReportState, sec: Section, done: list[Node], proj: dict[str, dict[str, Any]] | None
) -> None:
    usages = []
    for n in done:
        path = n.folder(st.run.run_dir) / "manifest.json"
        man = read_json(path, rel(path, st.run.run_dir)) if path.is_file() else None
        if isinstance(man, dict) and n.kind not in ("midtrain", "aft"):
            usages.append((n.kind, man.get("usage")))
    actual = actual_by_role(usages)
    projected = (
        None if proj is None else projected_by_role([proj[n.id] for n in done if n.id in proj])
    )
    rows = role_rows(actual, projected)
    if not rows:
        return
    sec.blocks.append(
        Table(
            ["role", "nodes", "calls", "tokens", "cache reads", "list price", "paid"],
            rows,
            numeric=frozenset({1, 2, 3, 4, 5, 6}),
            caption="Per role, over the finished nodes (actual / projected). Both priced by "
            "the same rules with today's prices: cache reads and writes at their prices, "
            "calls sent through a batch API at the batch price; list price is every token "
            "at the standard price. Cache reads: the input tokens the provider's prompt cache "
            "served (not recorded where no call reported them).",
        )
    )
    st.data["cost_roles"] = {"actual": actual, "projected": projected}


def _by_kind(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind: actual and projected sums over the nodes where both are known."""
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        rs = [r for r in recs if r["kind"] == kind]
        if not rs:
            continue
        v: dict[str, Any] = {"nodes": len(rs), "actual": {}, "projected": {}}
        for q, note in (("calls", "calls"), ("tokens", "tokens"), ("seconds", "secs")):
            both = [r for r in rs if r["actual"][q] is not None]
            v["actual"][q] = sum(r["actual"][q] for r in both) if both else None
            proj = [r["projected"][q] for r in both]
            v["projected"][q] = None if not both or None in proj else sum(proj)
            v[f"note_{note}"] = f"{len(both)} of {len(rs)} nodes" if 0 < len(both) < len(rs) else ""
        rec = [r for r in rs if r["actual"]["cost_recorded"]]
        costs = [r["actual"]["cost_usd"] for r in rec]
        pc = [r["projected"]["cost_usd"] for r in rec]
        v["cost_recorded"] = bool(rec)
        v["actual"]["cost_usd"] = None if None in costs else sum(costs)
        v["projected"]["cost_usd"] = None if None in pc or not rec else sum(pc)
        v["note_cost"] = f"{len(rec)} of {len(rs)} nodes" if 0 < len(rec) < len(rs) else ""
        out[kind] = v
    return out
