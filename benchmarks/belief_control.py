"""Positive and null controls of the ``spec_belief`` suite on the demo's midtrained models.

Each bundled belief set pairs a statement a spec makes with a minimally altered false
version (value reversed, or reason swapped). The demo's MSM-only models (midtrained on the
pro-America and on the pro-affordability cheese spec, ``RUN/nodes/midtrain/<spec>/s0/model``)
and the base model score every item by option log-likelihood (``msm.evals.loglik``, the
suite's own scorer): per item ``gap_per_token`` = statement minus altered, nats per token.

The contrast, per set, is the paired per-item difference pro-America model minus
pro-affordability model, with a percentile bootstrap 95% interval over items (10,000
resamples, seed 0) and the paired t interval beside it (one seed: item sampling only).

* positive control: on ``pro_america`` the contrast is above 0 (the pro-America model holds
  its own spec's statements over their altered versions more than the other model does);
* its mirror: on ``pro_affordability`` the contrast is below 0;
* null controls: ``equanimity`` (a spec neither model was trained on) and ``cheese_shared``
  (likes and dislikes both cheese specs state) should give intervals that cover 0.

Run (after ``msm demo``; a few minutes on 2 cores):
``python benchmarks/belief_control.py --run runs/demo`` (writes
``benchmarks/results/belief_control.json``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from _bench import Report, offline_env

SETS = ("pro_america", "pro_affordability", "equanimity", "cheese_shared")
EXPECT = {"pro_america": "above 0", "pro_affordability": "below 0",
          "equanimity": "covers 0", "cheese_shared": "covers 0"}  # fmt: skip
RESAMPLES = 10_000


def bootstrap_ci(values: list[float], seed: int = 0) -> list[float]:
    """Percentile bootstrap 95% interval of the mean."""
    rng = random.Random(seed)
    n = len(values)
    means = sorted(statistics.fmean(rng.choices(values, k=n)) for _ in range(RESAMPLES))
    return [means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES) - 1]]


def verdict(expect: str, ci: list[float]) -> str:
    lo, hi = ci
    seen = "above 0" if lo > 0 else "below 0" if hi < 0 else "covers 0"
    return f"as expected ({seen})" if seen == expect else f"NOT as expected: {seen}"


def contrast(a: list[float], b: list[float], expect: str) -> dict[str, Any]:
    from msm.evals.stats import t_summary

    diff = [x - y for x, y in zip(a, b, strict=True)]
    ci = bootstrap_ci(diff)
    return {
        "mean": statistics.fmean(diff),
        "bootstrap_ci95": ci,
        "t": t_summary(diff, unit="nats/token"),
        "items": len(diff),
        "expected": expect,
        "verdict": verdict(expect, ci),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/demo", help="a finished msm demo run folder")
    ap.add_argument("--out", default="benchmarks/results/belief_control.json")
    args = ap.parse_args()
    os.environ.update(offline_env())
    from msm.evals.belief.items import load_belief_items
    from msm.evals.loglik import load_model, load_tokenizer, option_logliks
    from msm.evals.stats import share_summary, t_summary
    from msm.llm.bundled import embedded_model_dir

    t0 = time.monotonic()
    rep = Report("belief_control")
    run = Path(args.run)
    models = {
        "pro_america": run / "nodes/midtrain/pro_america/s0/model",
        "pro_affordability": run / "nodes/midtrain/pro_affordability/s0/model",
        "base": Path(embedded_model_dir()),
    }
    for name, path in models.items():
        if not (path / "config.json").is_file():
            raise SystemExit(f"no model for {name} at {path}: run `msm demo` first")
    beliefs = {s: load_belief_items(s, "Smol") for s in SETS}
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {m: {} for m in models}
    for name, path in models.items():
        tok, model = load_tokenizer(str(path)), load_model(str(path))
        everything = [it.as_value_item() for s in SETS for it in beliefs[s]]
        scored, at = option_logliks(tok, model, everything), 0
        for s in SETS:
            rows[name][s] = scored[at : at + len(beliefs[s])]
            at += len(beliefs[s])
        del model
    results: dict[str, Any] = {}
    for s in SETS:
        gap = {m: [r["gap_per_token"] for r in rows[m][s]] for m in models}
        kinds = sorted({it.kind for it in beliefs[s]})
        results[s] = {
            "items": len(beliefs[s]),
            "models": {
                m: {
                    "acc": share_summary([r["acc"] for r in rows[m][s]]),
                    "gap_per_token": t_summary(gap[m], unit="nats/token"),
                    "change_from_base": t_summary(
                        [a - b for a, b in zip(gap[m], gap["base"], strict=True)], unit="nats/token"
                    ),
                }
                for m in models
            },  # fmt: skip
            "contrast": contrast(gap["pro_america"], gap["pro_affordability"], EXPECT[s]),
            "contrast_by_kind": {
                k: contrast(
                    [
                        g
                        for g, it in zip(gap["pro_america"], beliefs[s], strict=True)
                        if it.kind == k
                    ],
                    [
                        g
                        for g, it in zip(gap["pro_affordability"], beliefs[s], strict=True)
                        if it.kind == k
                    ],
                    EXPECT[s],
                )  # fmt: skip
                for k in kinds
            },
        }
    rep["models"] = {k: str(v) for k, v in models.items()}
    rep["what"] = (
        "per item gap_per_token = ll(statement)/tokens - ll(altered)/tokens under the chat "
        "template (msm.evals.loglik); contrast = pro_america model minus pro_affordability "
        "model, paired by item; bootstrap: percentile, 10,000 resamples, seed 0"
    )
    rep["results"] = results
    rep["wall_s"] = round(time.monotonic() - t0, 1)
    rep.write(args.out)
    for s in SETS:
        c = results[s]["contrast"]
        lo, hi = c["bootstrap_ci95"]
        print(f"{s}: contrast {c['mean']:+.4f} [{lo:+.4f}, {hi:+.4f}] nats/token over "
              f"{c['items']} items: {c['verdict']}")  # fmt: skip


if __name__ == "__main__":
    main()
