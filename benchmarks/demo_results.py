"""The demo's results as a file: what ``msm demo`` prints, with the machine and the times.

Reads a finished ``msm demo`` run folder (``--run DIR``; default ``runs/demo``, where
``msm demo`` writes) and writes ``benchmarks/results/demo.json``; with ``--run-demo`` it
runs ``msm demo --out DIR`` first, as a fresh process, and times it. Every figure the
README and docs quote from the demo cites a key of that file (docs/architecture.md,
"Published figures"), and ``tests/unit/test_published_figures.py`` compares them.

The keys are stable (the citations depend on them):

- ``primary``: the contrast declared before the run (``report.primary``): ``declared``,
  ``estimate``, ``ci95``, ``p``, ``covers`` (what its interval covers), ``split``, ``verdict``;
- ``results``: every paired contrast the demo prints, each ``{estimate, ci95, p, p_holm,
  excludes_zero, seeds, items, basis, unit, what}``, keyed by the report's own fields:
  ``<kind>.<condition>[_n<size>].<full|control>`` with kind ``direction_<spec>``,
  ``interaction``, ``aft_generalization`` or ``reasons``, and
  ``change.<item_set>.<label>`` (changes from the base model: cheese_aft, cheese_fit,
  cheese_why);
- ``summary_lines``: the demo's closing lines, as printed;
- ``eval_split``: the item split the evals recorded (``values_split``);
- ``corpora.<node>``: documents generated and kept, drops, and
  ``continuation_reasons`` (statement mode: continuations with a reason of their own);
- ``seconds_by_kind``, ``nodes.<node>.seconds`` (runner state) and
  ``nodes.<node>.timings`` (the stage's own timings from its stats or manifest);
- ``wall_s`` (None unless ``--run-demo`` timed it), ``machine`` (CPU model, flags:
  ``amx_bf16`` says whether bf16 is fast, core count), ``git_revision``, ``when``.

Run: ``python benchmarks/demo_results.py [--run runs/demo] [--run-demo]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from _bench import Report, msm_exe, offline_env, run_timed

SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _slug(*parts: Any) -> str:
    return "_".join(SLUG.sub("-", str(p)).strip("-") for p in parts if p not in (None, ""))


FIELDS = ("estimate", "ci95", "p", "p_holm", "excludes_zero", "seeds", "items", "basis")


def _contrast(r: dict[str, Any], what: str) -> dict[str, Any]:
    return {**{k: r.get(k) for k in FIELDS}, "unit": "nats/token", "what": what}


def demo_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every contrast ``msm.demo.summary_lines`` prints, keyed by stable names made of the
    report's own fields: ``<kind>.<condition>[_n<size>].<subset>`` for the spec contrasts
    (kind: direction_<spec_a>, interaction, aft_generalization, reasons) and
    ``change.<item_set>.<label>`` for the changes from the base model."""
    c = report.get("contrasts") or {}
    out: dict[str, dict[str, Any]] = {}
    for r in c.get("interactions") or []:
        kind = str(r.get("kind"))
        if kind == "direction":
            kind = _slug("direction", r.get("spec_a"))
        cond = _slug(r.get("condition"), f"n{r['aft_size']}" if r.get("aft_size") else None)
        subset = _slug(r.get("subset") or "full")
        what = f"{r.get('kind')}: [{r.get('spec_a')} - {r.get('spec_b')}] on {r.get('items_a')}"
        if r.get("items_b"):
            what += f" minus the same on {r.get('items_b')}"
        out.setdefault(kind, {}).setdefault(cond, {})[subset] = _contrast(r, what)
    for x in c.get("changes") or []:
        name = _slug(x.get("label") or x.get("condition"))
        out.setdefault("change", {}).setdefault(str(x.get("item_set")), {})[name] = _contrast(
            x, f"{x.get('item_set')}: {x.get('label')} minus the base model"
        )
    return out


def primary(report: dict[str, Any]) -> dict[str, Any] | None:
    """The declared primary contrast: what was declared, its result, what its interval
    covers, the split, the verdict."""
    info = report.get("primary")
    if not isinstance(info, dict):
        return None
    res = info.get("result") if isinstance(info.get("result"), dict) else {}
    return {
        "declared": info.get("declared"),
        **{k: res.get(k) for k in FIELDS},
        "covers": info.get("covers"),
        "split": info.get("split"),
        "verdict": info.get("verdict"),
    }


def node_facts(run: Path, node: dict[str, Any]) -> dict[str, Any]:
    """Runner seconds and the stage's own timings (stats.json, else manifest.json)."""
    path = run / node["path"]
    state = read_json(run / "state" / (node["id"].replace("/", "__") + ".json")) or {}
    stats = read_json(path / "stats.json") or {}
    man = read_json(path / "manifest.json") or {}
    timings = stats.get("timings") or man.get("timings") or {}
    return {
        "kind": node["kind"],
        "seconds": state.get("seconds"),
        "stage_seconds": man.get("seconds", stats.get("seconds")),
        "timings": timings,
    }


def eval_split(run: Path, nodes: list[dict[str, Any]]) -> Any:
    """The split the eval summaries recorded (None where none did)."""
    found = []
    for n in nodes:
        if n["kind"] != "eval":
            continue
        summ = read_json(run / n["path"] / "summary.json") or {}
        if summ.get("values_split") is not None:
            found.append(summ["values_split"])
    if not found:
        return None
    return found[0] if all(f == found[0] for f in found) else found


def corpus_facts(run: Path, node: dict[str, Any]) -> dict[str, Any]:
    st = read_json(run / node["path"] / "stats.json") or {}
    return {
        "documents_generated": st.get("documents_generated"),
        "documents_kept": st.get("documents_kept"),
        "drops": st.get("drops"),
        "continuation_reasons": st.get("continuation_reasons"),
    }


def collect(run: Path) -> dict[str, Any]:
    """Everything demo.json holds that comes from the run folder."""
    from msm.demo import summary_lines

    meta = read_json(run / "run.json")
    report = read_json(run / "report" / "report.json")
    if meta is None or report is None:
        raise SystemExit(f"{run}: no run.json or report/report.json; is it a finished demo run?")
    nodes = meta.get("nodes", [])
    facts = {n["id"]: node_facts(run, n) for n in nodes}
    by_kind: dict[str, float] = {}
    for f in facts.values():
        by_kind[f["kind"]] = round(by_kind.get(f["kind"], 0.0) + (f["seconds"] or 0.0), 2)
    return {
        "run": str(run),
        "experiment": (meta.get("experiment") or {}).get("name"),
        "primary": primary(report),
        "results": demo_results(report),
        "summary_lines": summary_lines(report),
        "eval_split": eval_split(run, nodes),
        "corpora": {n["id"]: corpus_facts(run, n) for n in nodes if n["kind"] == "corpus"},
        "seconds_by_kind": by_kind,
        "nodes": facts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/demo", help="a finished msm demo run folder")
    ap.add_argument("--run-demo", action="store_true", help="run msm demo --out RUN first")
    ap.add_argument("--out", default="benchmarks/results/demo.json")
    args = ap.parse_args()
    run = Path(args.run)
    rep = Report("demo_results")
    rep["wall_s"] = None
    if args.run_demo:
        res = run_timed([msm_exe(), "demo", "--out", str(run)], env=offline_env())
        rep["wall_s"] = res["wall_s"]
        rep["process_cpu_s"] = res["cpu_s"]
        rep["demo_command"] = f"msm demo --out {run}"
    elif not run.is_dir():
        sys.exit(f"{run} does not exist: run msm demo first, or pass --run-demo")
    for key, value in collect(run).items():
        rep[key] = value
    rep.write(args.out)


if __name__ == "__main__":
    main()
