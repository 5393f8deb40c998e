"""How long msm takes to start: ``msm --version`` and ``import msm.cli``, now and, with
``--before-src``, for another source tree (an older checkout's ``src``) in the same run,
alternating so that load on the machine hits both alike.

    python benchmarks/startup.py --before-src /tmp/old/src --before-rev bd5dfaf

Writes ``benchmarks/results/startup.json``: per tree, the median and spread of wall and CPU
seconds over ``--repeats`` runs, and the heavy packages ``import msm.cli`` loaded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import REPO, Report, offline_env, run_timed  # noqa: E402

HEAVY = ["torch", "transformers", "inspect_ai", "numpy", "peft", "trl"]
VERSION = "import sys; sys.argv = ['msm', '--version']; from msm.cli import main; main()"
LOADED = f"import json, sys, msm.cli; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"


def _stats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    return {
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_min": min(walls),
        "wall_s_max": max(walls),
        "cpu_s_median": round(statistics.median(cpus), 3),
        "runs": len(runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before-src", help="another tree's src/ to time beside this one")
    ap.add_argument("--before-rev", default=None, help="its git revision, for the record")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="benchmarks/results/startup.json")
    args = ap.parse_args()
    trees = {"after": str(REPO / "src")}
    if args.before_src:
        trees["before"] = args.before_src
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    rep = Report("startup")
    for _ in range(args.repeats):
        for name, src in trees.items():  # alternate: both trees see the same load
            env = offline_env(PYTHONPATH=src)
            runs[name].append(run_timed([sys.executable, "-c", VERSION], env=env))
    for name, src in trees.items():
        env = offline_env(PYTHONPATH=src)
        loaded = json.loads(run_timed([sys.executable, "-c", LOADED], env=env)["stdout"])
        rep[name] = {"src": src, "version_cmd": _stats(runs[name]), "cli_loads": loaded}
    if args.before_rev:
        rep["before"] = {**rep.data["before"], "git_revision": args.before_rev}
    if "before" in trees:
        a, b = rep.data["after"], rep.data["before"]
        rep["speedup_wall"] = round(
            b["version_cmd"]["wall_s_median"] / a["version_cmd"]["wall_s_median"], 1
        )
    rep.write(args.out)


if __name__ == "__main__":
    main()
