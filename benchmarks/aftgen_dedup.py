"""Embedding dedup of 10,000 queries on this CPU (bundled all-MiniLM-L6-v2).

Queries are synthetic but realistic in length (8-20 words), with a known share
of paraphrase-like near-copies (a word swapped or dropped), so the run also
reports how many it merged. Times embedding and clustering separately.
Run: ``python benchmarks/aftgen_dedup.py`` (writes JSON). Target: under 60 s.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

WORDS = (
    "cheese price shop family budget local farm import quality taste market store choose "
    "prefer honest advice compare weekly dinner party sandwich pizza pasta salad melt slice "
    "cheap expensive brand fresh aged mild sharp creamy soft hard travel town city country "
    "should would could what which why how when where recommend think opinion best favourite"
).split()


def make_queries(n: int, dup_share: float, seed: int) -> tuple[list[str], int]:
    rng = random.Random(seed)
    out: list[str] = []
    dups = 0
    while len(out) < n:
        if out and rng.random() < dup_share:
            words = rng.choice(out).rstrip("?").split()
            i = rng.randrange(len(words))
            words[i] = rng.choice(WORDS) if rng.random() < 0.5 else words[i]
            out.append(" ".join(words) + "?")
            dups += 1
        else:
            out.append(" ".join(rng.choices(WORDS, k=rng.randint(8, 20))).capitalize() + "?")
    return out, dups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--out", default="benchmarks/results/aftgen_dedup.json")
    args = ap.parse_args()

    from msm._util.embed import cluster_representatives, embed

    queries, planted = make_queries(args.n, 0.1, seed=0)
    embed(queries[:8])  # load the model outside the timed region
    t = time.perf_counter()
    vecs = embed(queries)
    t_embed = time.perf_counter() - t
    t = time.perf_counter()
    reps = cluster_representatives(vecs, args.threshold)
    t_cluster = time.perf_counter() - t
    kept = sum(1 for i, r in enumerate(reps) if r == i)
    report = {
        "benchmark": "aftgen_dedup",
        "queries": args.n,
        "planted_near_copies": planted,
        "kept": kept,
        "merged": args.n - kept,
        "threshold": args.threshold,
        "embed_seconds": round(t_embed, 2),
        "cluster_seconds": round(t_cluster, 2),
        "total_seconds": round(t_embed + t_cluster, 2),
        "target_seconds": 60,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
