"""``msm run --dry-run``: the plan as tables of calls by role, tokens, cost, disk and time.

Reads the run folder (statuses, recorded times) and writes nothing. The checks the real
run makes have already passed when this prints (``msm.experiment.preflight``); what this
machine lacks for the run is listed, not fatal: a dry run is often made elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msm._util.fmt import fmt_bytes, fmt_seconds
from msm.evals.config import DEFAULT_VALUE_SETS
from msm.evals.values.items import value_set_names
from msm.experiment.config import Experiment
from msm.experiment.plan import Node
from msm.experiment.preflight import environment_problems
from msm.experiment.projection.project import project
from msm.experiment.stages import evalgen_off_warning, static_sets
from msm.study.primary import describe

SHORT = {"generator": "gen", "judge": "judge", "model under test": "mut", "grader": "grader"}
KINDS = ("corpus", "aftdata", "evalgen", "midtrain", "aft", "eval")


def _n(x: float) -> str:
    """1,234 -> 1.2k; 3,400,000 -> 3.4M."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.1f}{unit}"
    return f"{int(x)}"


def _usd(c: float | None) -> str:
    return "unknown price" if c is None else f"${c:,.2f}"


def _calls(rows: list[dict[str, Any]]) -> str:
    return " ".join(f"{SHORT[r['role']]} {_n(r['calls'])}" for r in rows if r["calls"]) or "-"


def _api_cost(rows: list[dict[str, Any]]) -> str:
    api = [r for r in rows if r["price"] != "local"]
    if not api:
        return "-"
    if any(r["cost_usd"] is None for r in api):
        return "unknown"
    return f"${sum(r['cost_usd'] for r in api):,.2f}"


def _time(p: dict[str, Any]) -> str:
    """The node's time, or its range when it waits for batches."""
    s = fmt_seconds(p.get("seconds"))
    return f"{s}-{fmt_seconds(p['seconds_max'])}" if p.get("seconds_max") else s


def _basis(text: str) -> str:
    return text.split(":", 1)[0]  # guess | measured | benchmark | done | unknown


def report(
    exp: Experiment, plan: list[Node], run: Path, statuses: dict[str, str], echo: Any
) -> dict[str, Any]:
    proj = project(exp, plan, run, statuses)
    nodes = proj["nodes"]
    problems = environment_problems(exp, plan)
    echo(f"msm run {exp.name} --dry-run: {len(plan)} nodes (nothing is run, nothing written)")
    echo("checks: the experiment and --out pass the real run's checks")
    if exp.report.primary is not None:
        echo(f"primary contrast (declared before the run): {describe(exp.report.primary)}")
    if problems:
        echo(f"this machine lacks {len(problems)} thing(s) the real run needs first:")
        for line in problems:
            echo(f"  - {line}")
    warnings = [
        *unmeasured_warnings(exp, plan),
        *(w for n in plan for w in nodes[n.id].get("warnings", [])),
    ]
    for w in warnings:
        echo(f"warning: {w}")
    draws = per_seed_lines(exp, plan)
    for line in draws:
        echo(line)
    width = max(len(n.id) for n in plan)
    echo("")
    echo(
        "calls by role: gen = generator, judge, mut = model under test, grader; "
        "API cost: what will be paid (cache reads, batch prices); time basis: guess, "
        "benchmark, measured, done"
    )
    head = f"  {'status':<6} {'kind':<8} {'node':<{width}}  {'calls':<24} {'API cost':>11}"
    echo(head + f" {'disk':>9} {'time':>8} {'basis':<9} detail")
    for n in plan:
        p = nodes[n.id]
        disk = fmt_bytes(p.get("disk_bytes"))
        detail = p.get("summary", "")
        if p.get("save"):
            detail += f"; saves {p['save']}"
        echo(
            f"  {statuses[n.id]:<6} {n.kind:<8} {n.id:<{width}}  {_calls(p['calls']):<24} "
            f"{_api_cost(p['calls']):>11} {disk:>9} {_time(p):>8} "
            f"{_basis(p.get('time_basis', '')):<9} {detail}"
        )
    _by_kind(plan, nodes, echo)
    _by_role(proj["totals"], echo)
    _bases(plan, nodes, echo)
    t = proj["totals"]
    cost = _usd(t["cost_usd"]) + f" to pay ({_usd(t['list_cost_usd'])} at list prices)"
    if t["unknown_price"]:
        cost += f" + unknown price for {', '.join(t['unknown_price'])}"
    roles = ", ".join(f"{_n(v['calls'])} {k}" for k, v in t["by_role"].items())
    disk = fmt_bytes(t["disk_bytes"]) + (
        f" (+ {t['disk_unknown']} node(s) of unknown size)" if t["disk_unknown"] else ""
    )
    peak = (
        f"; evals merge adapters on demand: + {fmt_bytes(t['merged_peak_bytes'])} at a time"
        if t["merged_peak_bytes"]
        else ""
    )
    unknown = f" (+ {t['time_unknown']} node(s) unknown)" if t["time_unknown"] else ""
    if t["seconds_max"] > t["seconds"] + 1:
        unknown += f", up to {fmt_seconds(t['seconds_max'])} if every batch takes 24 h"
    echo(
        f"projected: {t['calls']:,} calls ({roles}), {t['input_tokens']:,} input + "
        f"{t['output_tokens']:,} output tokens, API cost {cost}; training "
        f"{t['train_tokens']:,} tokens over {t['train_runs']} runs; {t['eval_runs']} "
        f"evaluations; disk {disk}{peak}; time {fmt_seconds(t['seconds'])}{unknown}, "
        f"{fmt_seconds(t['seconds_left'])} of it still to run"
    )
    echo(
        "(estimates from the settings; each line's basis says what is measured and what is "
        "a guess; real counts land in each manifest)"
    )
    return {
        "plan": [n.id for n in plan],
        "statuses": statuses,
        "projection": proj,
        "problems": problems,
        "per_seed": draws,
    }


# what msm's bundled eval sets measure: the bundled specs they were written for
CHEESE_SPECS = ("builtin:cheese_pro_america", "builtin:cheese_pro_affordability")
BUNDLED_QUESTIONS = {"equanimity": ("builtin:equanimity",)}


def unmeasured_warnings(exp: Experiment, plan: list[Node] | None = None) -> list[str]:
    """A bundled eval set written for none of the study's specs measures nothing it
    trained: one warning per such set, naming it and what to write instead. With evalgen
    nodes in the plan, the sets their evals score; and why evalgen writes nothing for the
    study's own specs, when it does not."""
    specs = set(exp.specs.values())
    keys = ", ".join(exp.specs) or "none"
    midtrained = [k for k in exp.specs if any(c.startswith("msm") for c in exp.conditions)]
    off = evalgen_off_warning(exp, midtrained)
    out = [off] if off else []
    ev = exp.eval
    questions, items = ev.questions, list(ev.items or DEFAULT_VALUE_SETS)
    if any(n.kind == "evalgen" for n in plan or []):  # scored beside the specs' own sets
        questions, items = static_sets(exp)
    written_for = BUNDLED_QUESTIONS.get(questions, ())
    if "spec_qa" in ev.suites and written_for and not specs & set(written_for):
        out.append(
            f"eval: spec_qa asks the bundled '{questions}' questions, written for "
            f"{', '.join(written_for)}, which measure none of this study's specs ({keys}): "
            "write your spec's own with `msm evalgen SPEC --out DIR` and set "
            "eval.questions: DIR/questions.jsonl"
        )
    bundled = [s for s in items if s in value_set_names()]
    if "values" in ev.suites and bundled and not specs & set(CHEESE_SPECS):
        out.append(
            f"eval: the value item set(s) {', '.join(bundled)} are written for the bundled "
            f"cheese specs and measure none of this study's specs ({keys}): write your "
            "spec's own with `msm evalgen SPEC --out DIR` and add DIR/choices.jsonl to "
            "eval.items"
        )
    return out


def per_seed_lines(exp: Experiment, plan: list[Node]) -> list[str]:
    """What drawing the corpora and AFT data per seed multiplies (``corpus.per_seed``,
    ``aft.per_seed``): a line each, none when every seed shares them."""
    k = len(exp.seeds)
    lines = []
    corpora = sum(n.kind == "corpus" for n in plan)
    if exp.corpus_per_seed and corpora:
        lines.append(
            f"corpus per seed: {k} corpora per spec ({corpora} in all), each drawn with its "
            f"own seed: {k}x the corpus cost of a shared corpus"
        )
    dose = [n for n in plan if n.meta.get("corpus_docs")]
    if dose:
        kinds = {k: sum(n.kind == k for n in dose) for k in ("midtrain", "aft", "eval")}
        lines.append(
            f"corpus dose: nested subsets of {exp.corpus_sizes} documents of each corpus besides "
            f"the full one: {kinds['midtrain']} more midtrainings, {kinds['aft']} more AFT runs "
            f"(at the largest AFT size), {kinds['eval']} more evals"
        )
    if exp.aft_per_seed and any(n.kind == "aftdata" for n in plan):
        lines.append(
            f"AFT data per seed: {k} AFT data sets, each drawn with its own seed: {k}x the "
            "AFT data cost of a shared set"
        )
    return lines


def _by_kind(plan: list[Node], nodes: dict[str, dict[str, Any]], echo: Any) -> None:
    echo("")
    echo(
        f"  {'kind':<8} {'nodes':>5} {'gen':>8} {'judge':>8} {'mut':>8} {'grader':>8} "
        f"{'in tok':>8} {'out tok':>8} {'API cost':>14} {'disk':>9} {'time':>8}"
    )
    for kind in KINDS:
        ids = [n.id for n in plan if n.kind == kind]
        if not ids:
            continue
        rows = [r for i in ids for r in nodes[i]["calls"]]
        by = {role: sum(r["calls"] for r in rows if r["role"] == role) for role in SHORT}
        tin = sum(r["input_tokens"] for r in rows)
        tout = sum(r["output_tokens"] for r in rows)
        disk = _sum([nodes[i].get("disk_bytes") for i in ids])
        secs = _sum([nodes[i].get("seconds") for i in ids])
        echo(
            f"  {kind:<8} {len(ids):>5} "
            + " ".join(f"{_n(by[r]):>8}" for r in SHORT)
            + f" {_n(tin):>8} {_n(tout):>8} {_api_cost(rows):>14}"
            f" {fmt_bytes(disk):>9} {fmt_seconds(secs):>8}"
        )


def _sum(values: list[float | None]) -> float | None:
    """The sum, or None when any part is unknown."""
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def _by_role(t: dict[str, Any], echo: Any) -> None:
    echo("")
    head = f"  {'role':<17} {'calls':>14} {'input tokens':>16} {'cache reads':>14}"
    echo(head + f" {'output tokens':>16} {'list price':>14} {'to pay':>20}  models")
    for role, v in t["by_role"].items():
        listed = "local (time)" if v["local"] else _usd(v["list_cost_usd"])
        paid = "local (time)" if v["local"] else _usd(v["cost_usd"])
        if v["batch_calls"] and not v["local"]:
            paid = ("batch " if v["batch_calls"] == v["calls"] else "part batch ") + paid
        models = ", ".join(v["models"]) + (
            (", " if v["models"] else "") + "the trained models"
            if role == "model under test"
            else ""
        )
        echo(
            f"  {role:<17} {v['calls']:>14,} {v['input_tokens']:>16,} "
            f"{v['cache_read_tokens']:>14,} {v['output_tokens']:>16,} {listed:>14} "
            f"{paid:>20}  {models}"
        )
    echo(
        "  (to pay: a shared system prefix the model caches is read from the cache after a "
        "stage's first call, assuming the cache stays warm while its calls run (Anthropic "
        "keeps a prefix ~5 min from its last use); batched roles at the batch price, cache "
        "discounts included)"
    )


def _bases(plan: list[Node], nodes: dict[str, dict[str, Any]], echo: Any) -> None:
    """Each kind's time and disk basis, said once."""
    echo("")
    seen: dict[str, list[str]] = {}
    for n in plan:
        p = nodes[n.id]
        for what, key in (("time", "time_basis"), ("disk", "disk_basis")):
            line = f"{what}: {p.get(key) or 'none'}"
            if line not in seen.setdefault(n.kind, []):
                seen[n.kind].append(line)
    for kind in KINDS:
        if kind in seen:
            echo(f"  {kind:<8} " + "; ".join(seen[kind]))
