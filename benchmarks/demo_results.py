"""The demo's results as a file: what ``msm demo`` prints, with the machine and the times.

Reads a finished ``msm demo`` run folder (``--run DIR``; default ``runs/demo``, where
``msm demo`` writes) and writes ``benchmarks/results/demo.json``; with ``--run-demo`` it
runs ``msm demo --out DIR`` first, as a fresh process, and times it. Every figure the
README and docs quote from the demo cites a key of that file (docs/architecture.md,
"Published figures"), and ``tests/unit/test_published_figures.py`` compares them.

The keys are stable (the citations depend on them):

- ``results``: the paired contrasts the demo prints, each ``{estimate, ci95,
  excludes_zero, unit, label, covers}`` (``covers``: what the contrast compares),
  keyed by a name made of the report's own fields:
  ``reasons.<condition>`` (1: the corpus teaches the why), ``aft_own.<condition>``
  (2: AFT on its own phrasing), ``transfer.<condition>`` (2: cheese_fit),
  ``interaction.<condition>.<items_a>_vs_<items_b>`` (3: the paper's question);
- ``summary_lines``: the demo's closing lines, as printed;
- ``eval_split``: the split the evals recorded (None where they recorded none);
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


def _contrast(r: dict[str, Any], covers: str) -> dict[str, Any]:
    return {
        "estimate": r.get("estimate"),
        "ci95": r.get("ci95"),
        "excludes_zero": r.get("excludes_zero"),
        "unit": "nats/token",
        "label": r.get("label"),
        "covers": covers,
    }


def demo_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The contrasts ``msm.demo.summary_lines`` prints, keyed by stable names."""
    c = report.get("contrasts") or {}
    inter = c.get("interactions") or []
    changes = c.get("changes") or []
    out: dict[str, dict[str, Any]] = {"reasons": {}, "aft_own": {}, "transfer": {}}
    out["interaction"] = {}
    for r in inter:
        if r.get("kind") == "reasons" and r.get("condition") == "msm_only":
            out["reasons"][_slug(r["condition"])] = _contrast(
                r,
                f"cheese_reasons: MSM-only[{r.get('spec_a')}] - MSM-only[{r.get('spec_b')}], "
                "the America reason over the affordability reason (the corpus teaches the why)",
            )
        elif r.get("kind") == "interaction":
            cond = _slug(r["condition"])
            key = _slug(r.get("items_a"), "vs", r.get("items_b"))
            out["interaction"].setdefault(cond, {})[key] = _contrast(
                r,
                f"{r['condition']}: [spec A - spec B] on {r.get('items_a')} minus the same "
                f"on {r.get('items_b')} (does the spec's reason decide how the preference "
                "generalizes?)",
            )
    for x in changes:
        if x.get("item_set") == "cheese_aft" and x.get("condition") == "aft_only":
            out["aft_own"][_slug(x["condition"])] = _contrast(
                x, "cheese_aft: aft_only minus the base model, on the AFT data's own phrasing"
            )
        elif x.get("item_set") == "cheese_fit":
            out["transfer"][_slug(x["condition"])] = _contrast(
                x, f"cheese_fit: {x['condition']} minus the base model, phrasings AFT never used"
            )
    return out


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
        for key in ("split", "eval_split"):
            if summ.get(key) is not None:
                found.append(summ[key])
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
