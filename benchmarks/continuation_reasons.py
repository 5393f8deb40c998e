"""How many of the bundled model's statement-mode continuations state the reason themselves.

Runs docgen with the corpus settings of an experiment file (default: the quick demo's) on
one cheese spec with the bundled model, and records ``continuation_reasons`` (checked,
with a reason of their own), the drops and a few continuations. With ``own_reason:
require`` a continuation without a reason is dropped; the demo configs set ``count``.

Run: ``python benchmarks/continuation_reasons.py [--experiment FILE] [--spec SPEC]``
(about 2 minutes alone on 2 cores at the quick size; writes
``benchmarks/results/continuation_reasons.json``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _bench import Report


def main() -> None:
    import yaml

    from msm.docgen import DocgenConfig, run_docgen
    from msm.docgen.run import NothingKept

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="src/msm/data/experiments/cheese-demo-quick.yaml")
    ap.add_argument("--spec", default="builtin:cheese_pro_america")
    ap.add_argument("--out", default="benchmarks/results/continuation_reasons.json")
    args = ap.parse_args()
    corpus = yaml.safe_load(Path(args.experiment).read_text())["corpus"]
    corpus["own_reason"] = "require"  # the check as it drops, to see what it would keep
    rep = Report("continuation_reasons")
    cfg = DocgenConfig(
        spec=args.spec, model="embedded", model_name="Smol",
        provider_name="the msm project", **corpus,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="msm-reasons-") as tmp:
        out = Path(tmp) / "c"
        t = time.perf_counter()
        try:
            stats = run_docgen(cfg, out, quiet=True).stats
        except NothingKept as e:
            stats = e.stats
        rep["wall_s"] = round(time.perf_counter() - t, 1)
        gens = [json.loads(x) for x in (out / "stages/generations.jsonl").read_text().splitlines()]
    rep["experiment"], rep["spec"] = args.experiment, args.spec
    for key in ("documents_generated", "documents_kept", "drops", "continuation_reasons"):
        rep[key] = stats.get(key)
    rep["examples"] = [{"drop": g["drop"], "text": g["text"][:300]} for g in gens[:6]]
    rep.write(args.out)


if __name__ == "__main__":
    main()
