"""Wall time of ``msm demo`` from scratch, with per-stage times from the run's files.

Converts the bundled model first (untimed, as after a first use), then runs
``msm demo --out DIR`` into an empty folder as a fresh process and times it.
Per node (corpus, AFT data, midtraining, AFT, eval) it reads the seconds the
runner recorded in ``DIR/state/*.json``, and from each node's files: documents
kept and tokens (corpus ``stats.json``), tokens seen, epochs and final loss
(training ``manifest.json``), askings and the value preferences with their 95%
intervals (eval ``summary.json``); the report's headline lines close it.

Run: ``python benchmarks/demo_time.py`` (15-30 minutes on a 2-core CPU; writes
``benchmarks/results/demo_time.json``; ``--keep DIR`` keeps the run folder).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _bench import Report, msm_exe, offline_env, run_timed


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def node_facts(run: Path, node: dict[str, Any]) -> dict[str, Any]:
    path = run / node["path"]
    state = read_json(run / "state" / (node["id"].replace("/", "__") + ".json")) or {}
    facts: dict[str, Any] = {"kind": node["kind"], "seconds": state.get("seconds")}
    if node["kind"] == "corpus":
        st = read_json(path / "stats.json") or {}
        facts |= {
            "documents_generated": st.get("documents_generated"),
            "documents_kept": st.get("documents_kept"),
            "documents_trimmed": (st.get("counts") or {}).get("documents_trimmed"),
            "drops": st.get("drops"),
            "tokens": (st.get("tokens") or {}).get("total"),
            "generation_s": (st.get("timings") or {}).get("generation_s"),
        }
    elif node["kind"] in ("midtrain", "aft"):
        man = read_json(path / "manifest.json") or {}
        cfg = man.get("config") or {}
        facts |= {
            k: man.get(k)
            for k in ("tokens_seen", "label_tokens_seen", "final_loss", "tokens_per_s")
        }
        facts["epochs"] = cfg.get("epochs")
    elif node["kind"] == "eval":
        summ = read_json(path / "summary.json") or {}
        vals = summ.get("values") or {}
        facts["askings"] = sum(int(v.get("samples") or 0) for v in vals.values())
        facts["values"] = {
            k: {
                "mean": v["value_preference"]["mean"],
                "ci95": v["value_preference"]["ci95"],
                "samples": v.get("samples"),
            }
            for k, v in vals.items()
        }
    elif node["kind"] == "aftdata":
        st = read_json(path / "stats.json") or {}
        facts["examples"] = st.get("examples")
    return facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", default=None, help="keep the run folder here (must not exist)")
    ap.add_argument("--out", default="benchmarks/results/demo_time.json")
    args = ap.parse_args()

    from msm.llm.bundled import embedded_model_dir

    embedded_model_dir()  # the first-use conversion is benchmarks/model_conversion.py's
    rep = Report("demo_time")
    tmp = Path(tempfile.mkdtemp(prefix="msm-demo-time-"))
    run = tmp / "demo"
    try:
        res = run_timed([msm_exe(), "demo", "--out", str(run)], env=offline_env())
        meta = read_json(run / "run.json") or {}
        nodes = {n["id"]: node_facts(run, n) for n in meta.get("nodes", [])}
        by_kind: dict[str, float] = {}
        for f in nodes.values():
            by_kind[f["kind"]] = round(by_kind.get(f["kind"], 0.0) + (f["seconds"] or 0.0), 2)
        rep["command"] = "msm demo --out DIR (DIR empty; bundled model already converted)"
        rep["experiment"] = "examples/experiments/cheese-demo.yaml (packaged copy)"
        rep["wall_s"] = res["wall_s"]
        rep["wall_min_s"] = f"{int(res['wall_s'] // 60)} min {int(res['wall_s'] % 60):02d} s"
        rep["process_cpu_s"] = res["cpu_s"]
        rep["seconds_by_kind"] = by_kind
        rep["nodes"] = nodes
        rep["headline"] = [
            line.strip() for line in res["stdout"].splitlines() if line.startswith("  ")
        ][-12:]
        rep["stdout_tail"] = res["stdout"][-3000:]
        if args.keep:
            shutil.copytree(run, args.keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rep.write(args.out)


if __name__ == "__main__":
    main()
