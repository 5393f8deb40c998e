"""Values suite on the bundled model: loglik scoring against letter scoring, in one run.

Each command runs in a fresh process (``msm eval embedded --items america``):
loglik over every item of the set, and letter scoring over ``--letter-limit``
samples (the two orders of half as many items), so the per-item time of the two
modes compares within one run. Records wall and CPU seconds, items scored, and
the loglik summary (acc, acc_norm, gap per token). Target (issue 16): 200 items
in at most 60 s.

With ``--before-src OLD/src`` (an older checkout's source tree) the loglik command also
runs from that tree, alternating with this one ``--repeats`` times, so the two scorers'
wall times compare under the same load; their per-item rows must agree (1e-4).
Issue 29's target: the america set (240 items x 2 options) in at most 25 s wall, start-up
included.

Run: ``python benchmarks/values_scoring.py`` (about 3 minutes on 2 AVX2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _bench import Report, msm_exe, offline_env, run_timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", default="america")
    ap.add_argument("--letter-limit", type=int, default=100, help="letter samples (2 per item)")
    ap.add_argument("--out", default="benchmarks/results/values_scoring.json")
    ap.add_argument("--before-src", help="another tree's src/ to time the loglik scorer of")
    ap.add_argument("--before-rev", default=None, help="its git revision, for the record")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs with --before-src")
    args = ap.parse_args()
    rep = Report("values_scoring")
    if args.before_src:
        rep["loglik_before_after"] = compare_trees(args)
    env = offline_env()
    res: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="msm-values-") as tmp:
        for mode, extra in (
            ("loglik", []),
            ("letter", ["--limit", str(args.letter_limit)]),
        ):
            out = Path(tmp) / mode
            cmd = [msm_exe(), "eval", "embedded", "--items", args.items, "--scoring", mode]
            r = run_timed([*cmd, *extra, "--out", str(out)], env=env)
            s = json.loads((out / "summary.json").read_text())["values"][args.items]
            items = s["acc"]["items"] if mode == "loglik" else s["samples"] / 2
            res[mode] = {
                "command": " ".join(["msm", *cmd[1:], *extra]),
                "process_wall_s": r["wall_s"],
                "process_cpu_s": r["cpu_s"],
                "items": items,
                "wall_s_per_item": r["wall_s"] / items,
                "summary": {
                    k: s.get(k)
                    for k in ("acc", "acc_norm", "gap", "gap_per_token", "value_preference")
                    if k in s
                }
                | (
                    {
                        "answers_by_method": s["answers_by_method"],
                        "unscorable_share": s["unscorable_share"],
                    }
                    if mode == "letter"
                    else {}
                ),
            }
            print(mode, json.dumps(res[mode])[:400], flush=True)
    rep["results"] = res
    rep["per_item_ratio_letter_over_loglik"] = round(
        res["letter"]["wall_s_per_item"] / res["loglik"]["wall_s_per_item"],
        2,  # type: ignore[index]
    )
    rep["note"] = (
        "process_wall_s includes Python start-up and loading the model; letter scoring asks "
        "each item twice (both orders)"
    )
    rep.write(args.out)


CLI = "import sys; from msm.cli import main; sys.exit(main())"


def compare_trees(args: argparse.Namespace) -> dict[str, object]:
    """The loglik command from this tree and from ``--before-src``, alternating; wall times
    (median) and the largest difference between the two trees' per-item log-likelihoods."""
    import statistics

    trees = {"after": str(Path(__file__).resolve().parents[1] / "src"), "before": args.before_src}
    walls: dict[str, list[float]] = {k: [] for k in trees}
    rows: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="msm-values-ab-") as tmp:
        for k in range(args.repeats):
            for name, src in trees.items():
                out = Path(tmp) / f"{name}-{k}"
                cmd = [sys.executable, "-c", CLI, "eval", "embedded", "--items", args.items]
                cmd += ["--scoring", "loglik", "--out", str(out)]
                walls[name].append(run_timed(cmd, env=offline_env(PYTHONPATH=src))["wall_s"])
                log = out / "values" / f"{args.items}.jsonl"
                rows[name] = [json.loads(x) for x in log.read_text().splitlines()]
                print(name, k, round(walls[name][-1], 1), flush=True)
    diff = max(
        abs(a[key] - b[key])
        for a, b in zip(rows["after"], rows["before"], strict=True)
        for key in ("ll_aligned", "ll_other")
    )
    med = {name: statistics.median(w) for name, w in walls.items()}
    return {
        "trees": trees,
        "before_rev": args.before_rev,
        "process_wall_s": walls,
        "median_wall_s": med,
        "speedup": round(med["before"] / med["after"], 2),
        "items": len(rows["after"]),
        "max_abs_loglik_difference": diff,
    }


if __name__ == "__main__":
    sys.exit(main())
