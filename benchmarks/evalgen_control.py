"""Positive control for ``msm evalgen``: do choices written by the bundled model from the
pro-America cheese spec separate the demo's two midtrained models?

1. ``msm evalgen builtin:cheese_pro_america --model embedded`` writes behavioural choices
   (a situation, a reply that follows the spec, one that breaks it), no judge (a 135M judge
   would be noise); what the checks drop is recorded.
2. The demo's MSM-only models (midtrained on the pro-America and on the pro-affordability
   spec, ``RUN/nodes/midtrain/<spec>/s0/model``) and the base model score every kept choice
   by log-likelihood (``msm.evals.loglik``), each option as the answer to its situation.
3. Per item, ``gap_per_token`` (follows minus breaks, nats per token); the contrast is the
   paired difference pro-America model minus pro-affordability model over the items, with a
   t interval over items (one seed: item sampling only). Positive if its interval excludes 0
   upward: the model midtrained on this spec prefers the replies that follow it more than
   the model midtrained on the other spec does. Each model's change from the base is
   reported beside it.

The same for choices written from the pro-affordability spec (the mirror: the contrast
should fall below 0) and from the equanimity spec (a null control: neither cheese spec
speaks to it, so the contrast should cover 0). The bundled model writes each choice in
evalgen's fields form (``--form fields``: one short call per field, each reply's opening
given), the form a 135M model keeps.

Run (after ``msm demo``; about 10 minutes on 2 cores; ``--max-tokens-item 120`` and
``--max-reasks 0`` by default: a choice is short and a 135M model rarely mends its format):
``python benchmarks/evalgen_control.py --run runs/demo`` (writes
``benchmarks/results/evalgen_control.json``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import Report, offline_env

# spec the choices are written from -> what the contrast (pro-America model minus
# pro-affordability model) should do: the positive control, its mirror, a null control
SPECS = {
    "cheese_pro_america": "above 0",
    "cheese_pro_affordability": "below 0",
    "equanimity": "covers 0",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/demo", help="a finished msm demo run folder")
    ap.add_argument("--n-choices", type=int, default=48)
    ap.add_argument("--overgenerate", type=float, default=2.0)
    ap.add_argument("--max-tokens-item", type=int, default=120, help="a choice is short")
    ap.add_argument("--max-reasks", type=int, default=0, help="a 135M model rarely mends")
    ap.add_argument("--form", default="fields", choices=["tagged", "fields"])
    ap.add_argument("--out", default="benchmarks/results/evalgen_control.json")
    args = ap.parse_args()
    import os

    os.environ.update(offline_env())
    from msm.llm.bundled import embedded_model_dir

    rep = Report("evalgen_control")
    run = Path(args.run)
    models = {
        "pro_america": run / "nodes/midtrain/pro_america/s0/model",
        "pro_affordability": run / "nodes/midtrain/pro_affordability/s0/model",
        "base": embedded_model_dir(),
    }
    for name, path in models.items():
        if not (Path(path) / "config.json").is_file():
            raise SystemExit(f"no model for {name} at {path}: run `msm demo` first")
    out: dict[str, Any] = {}
    for spec, expect in SPECS.items():
        out[spec] = one_spec(args, spec, expect, models)
        print(spec, out[spec]["result"]["verdict"], flush=True)
    rep["models"] = {k: str(v) for k, v in models.items()}
    rep["specs"] = out
    rep.write(args.out)


def one_spec(args: Any, spec: str, expect: str, models: dict[str, Any]) -> dict[str, Any]:
    """Choices written by the bundled model from ``spec``, scored on the three models."""
    from msm.evalgen.config import EvalgenConfig
    from msm.evalgen.run import ShortOfItems, run_evalgen
    from msm.evals.loglik import load_model, load_tokenizer, option_logliks
    from msm.evals.stats import t_summary
    from msm.evals.values.items import parse_value_items

    rep: dict[str, Any] = {}
    cfg = EvalgenConfig(
        spec=f"builtin:{spec}", model="embedded", n_questions=0,
        n_choices=args.n_choices, overgenerate=args.overgenerate, model_name="Smol",
        provider_name="the msm project", max_tokens_item=args.max_tokens_item,
        max_reasks=args.max_reasks, form=args.form,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="msm-evalgen-control-") as tmp:
        t0 = time.monotonic()
        try:
            res = run_evalgen(cfg, Path(tmp) / "evals")
            stats, short = res.stats, None
        except ShortOfItems as e:  # what passed is written: score it, say it was short
            stats, short = e.stats, str(e)
        gen_s = time.monotonic() - t0
        text = (Path(tmp) / "evals" / "choices.jsonl").read_text(encoding="utf-8")
        items = parse_value_items(text, "choices.jsonl") if text.strip() else []
        rep["evalgen"] = {
            "command": f"msm evalgen builtin:{spec} --model embedded "
            f"--n-questions 0 --n-choices {args.n_choices} --overgenerate {args.overgenerate} "
            f"--max-tokens-item {args.max_tokens_item} --max-reasks {args.max_reasks} "
            f"--form {args.form} "
            "--model-name Smol",
            "seconds": round(gen_s, 1),
            "kept": len(items),
            "short": short,
            "counts": stats["counts"],
            "drops": stats["drops"],
            "examples": [
                {"question": it.question, "follows": it.aligned, "breaks": it.other}
                for it in items[:5]
            ],
        }
    if len(items) < 2:
        rep["result"] = {"verdict": "no contrast: fewer than 2 choices were kept"}
        return rep
    gaps: dict[str, list[float]] = {}
    t1 = time.monotonic()
    for name, path in models.items():
        tok, model = load_tokenizer(str(path)), load_model(str(path))
        gaps[name] = [r["gap_per_token"] for r in option_logliks(tok, model, items)]
        del model
    contrast = [a - b for a, b in zip(gaps["pro_america"], gaps["pro_affordability"], strict=True)]
    summary = t_summary(contrast, unit="nats/token")
    rep["scoring_seconds"] = round(time.monotonic() - t1, 1)
    rep["result"] = {
        "what": "per-item gap_per_token (follows - breaks), pro_america model minus "
        f"pro_affordability model, on choices written from the {spec} spec",
        "expected": expect,
        "contrast": summary,
        "change_from_base": {
            name: t_summary(
                [a - b for a, b in zip(gaps[name], gaps["base"], strict=True)], unit="nats/token"
            )
            for name in ("pro_america", "pro_affordability")
        },  # fmt: skip
        "basis": "paired t over items (one seed: covers item sampling only)",
        "verdict": _verdict(summary["ci95"]),
    }
    return rep


def _verdict(ci: list[float] | None) -> str:
    if not ci:
        return "no interval"
    if ci[0] > 0:
        return "above 0: the interval excludes 0 upward"
    if ci[1] < 0:
        return "below 0: the interval excludes 0 downward"
    return "covers 0"


if __name__ == "__main__":
    main()
