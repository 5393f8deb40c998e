"""docgen overhead: a zero-latency fake model, about 10,000 documents, end to end.

Everything msm does around the model is timed: spec loading and planning,
pipelined generation with storage of every call, filters, near-duplicate
removal, token counting with the target tokenizer (the bundled model's, as a
real run would), the histogram and all output files. Target: under 60 s here.
Default spec: ``benchmarks/specs/orchestration_spec.md`` (in this repository);
``--spec PATH`` runs another one (the figures in docs/LOG.md of 2026-11-27 used
the 270 KB real-world spec from ``../shared/specs``, 87 sections).
Run: ``python benchmarks/docgen_overhead.py`` (writes JSON).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = ROOT / "benchmarks" / "specs" / "orchestration_spec.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(DEFAULT_SPEC), help="spec file (default: in the repo)")
    ap.add_argument("--n-ideas", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--tokenizer", default="embedded")
    ap.add_argument("--out", default="benchmarks/results/docgen_overhead.json")
    args = ap.parse_args()

    from msm.docgen import DocgenConfig, run_docgen
    from msm.spec.core import load_spec

    if args.tokenizer == "embedded":
        from msm.llm.bundled import embedded_model_dir

        embedded_model_dir()  # convert outside the timed region if this is the first use
    cfg = DocgenConfig(
        spec=args.spec,
        model="fake",
        model_name="Ada",
        provider_name="Lab",
        n_ideas=args.n_ideas,
        concurrency=args.concurrency,
    )
    load_spec(args.spec)  # warm the file cache
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        stats = run_docgen(cfg, tmp, quiet=True, tokenizer=args.tokenizer).stats
        wall = time.perf_counter() - t
        rerun_t = time.perf_counter()
        rerun = run_docgen(cfg, tmp, quiet=True, tokenizer=args.tokenizer).stats
        rerun_wall = time.perf_counter() - rerun_t
    calls = sum(u["calls"] for u in stats["usage"].values())
    report = {
        "benchmark": "docgen_overhead",
        "spec": Path(args.spec).name,
        "documents_generated": stats["documents_generated"],
        "documents_kept": stats["documents_kept"],
        "llm_calls": calls,
        "seconds_end_to_end": round(wall, 2),
        "target_seconds": 60,
        "timings": stats["timings"],
        "calls_per_s": round(calls / wall, 1),
        "rerun_seconds_all_cached": round(rerun_wall, 2),
        "rerun_fresh_calls": sum(u["calls"] for u in rerun["usage"].values()),
        "tokenizer": args.tokenizer,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
