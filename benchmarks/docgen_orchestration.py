"""docgen orchestration efficiency: fake model with a fixed latency, fixed concurrency.

Every call to the fake model takes ``--latency`` seconds; with ``--concurrency`` C
the ideal rate is C / latency calls/s (320/s for 32 x 100 ms). Two efficiencies,
both = achieved fresh calls/s over the ideal:

* generation phase: calls / (first call to last answer), i.e. planning and
  documents, pipelined, including the tail where fewer than C calls are left and
  msm's per-call overhead;
* whole run: calls / wall time of ``run_docgen`` (start-up, generation,
  near-duplicate removal, token counting and writing every output file). The
  fixed costs do not grow with the number of calls, so this figure depends on
  the spec's size: a bigger spec gets closer to the generation-phase figure.

Default spec: ``benchmarks/specs/orchestration_spec.md`` (in this repository, 65
sections, so the planning stage alone offers more than C parallel calls).
``--spec PATH`` runs any other spec, e.g. the 270 KB real-world spec. The run is
repeated ``--repeats`` times; the JSON keeps every repeat and reports the median.

Run: ``python benchmarks/docgen_orchestration.py`` (writes JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT / "benchmarks" / "specs" / "orchestration_spec.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def spec_record(spec: str) -> dict:
    p = Path(spec).resolve()
    try:
        shown = str(p.relative_to(ROOT))
        inside = True
    except ValueError:
        shown, inside = p.name, False
    data = p.read_bytes()
    return {
        "path": shown,
        "inside_repo": inside,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def one_run(args: argparse.Namespace) -> dict:
    from msm.docgen import DocgenConfig, run_docgen
    from msm.llm.fake import builtin_script

    script = builtin_script("docgen")
    for rule in script.rules:
        rule.delay_s = args.latency
    cfg = DocgenConfig(
        spec=args.spec,
        model="fake",
        model_name="Ada",
        provider_name="Lab",
        n_ideas=args.n_ideas,
        concurrency=args.concurrency,
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = run_docgen(cfg, tmp, quiet=True, tokenizer="approx", model_args={"script": script})
        stats = res.stats
        wall = time.perf_counter() - t
    calls = sum(u["calls"] for u in stats["usage"].values())
    ideal = args.concurrency / args.latency
    gen_s = stats["timings"]["generation_s"]
    dedup_s = stats["timings"].get("dedup_s") or 0.0
    return {
        "units": stats["units"],
        "calls": calls,
        "documents_kept": stats["documents_kept"],
        "generation": {
            "seconds": gen_s,
            "calls_per_s": round(calls / gen_s, 1),
            "efficiency": round(calls / gen_s / ideal, 3),
        },
        "whole_run": {
            "seconds": round(wall, 2),
            "calls_per_s": round(calls / wall, 1),
            "efficiency": round(calls / wall / ideal, 3),
            "dedup_seconds": dedup_s,
            "other_seconds": round(wall - gen_s - dedup_s, 2),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(DEFAULT_SPEC), help="spec file (default: in the repo)")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--n-ideas", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/docgen_orchestration.json"))
    args = ap.parse_args()

    load_start = os.getloadavg()
    runs = [one_run(args) for _ in range(args.repeats)]
    gen = [r["generation"]["efficiency"] for r in runs]
    whole = [r["whole_run"]["efficiency"] for r in runs]
    median = sorted(runs, key=lambda r: r["generation"]["efficiency"])[len(runs) // 2]
    report = {
        "benchmark": "docgen_orchestration",
        "spec": spec_record(args.spec),
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "n_ideas": args.n_ideas,
        "ideal_calls_per_s": args.concurrency / args.latency,
        "target_generation_efficiency": 0.9,
        "repeats": args.repeats,
        "generation_phase_efficiency_median": statistics.median(gen),
        "generation_phase_efficiency_min_max": [min(gen), max(gen)],
        "whole_run_efficiency_median": statistics.median(whole),
        "whole_run_efficiency_min_max": [min(whole), max(whole)],
        "median_run": median,
        "runs": runs,
        "note": (
            "generation phase = first call to last answer (planning and documents, pipelined); "
            "whole run = run_docgen's wall time: adds start-up, near-duplicate removal, token "
            "counting (approx tokenizer) and writing outputs. median_run is the repeat with the "
            "median generation-phase efficiency."
        ),
        "machine": {
            "cpu": cpu_model(),
            "cpu_count": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
