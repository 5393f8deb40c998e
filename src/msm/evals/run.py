"""``msm eval``: run suites as Inspect evals, then write ``summary.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.fsutil import atomic_write_json

SUITES = ("values", "spec_qa", "capability")
PLANNED = ("agentic",)
DEFAULT_VALUE_SETS = ("america", "affordability", "cheese_america", "cheese_affordability")


def _inspect_model(name: str) -> Any:
    from inspect_ai.model import get_model

    import msm.llm.fake  # noqa: F401  (registers msm-fake)
    import msm.llm.local  # noqa: F401  (registers msm-local)
    from msm.llm.names import resolve_model

    r = resolve_model(name)
    return get_model(r.inspect_name, memoize=False, **r.model_args)


def _clean(x: Any) -> Any:
    """JSON-safe: NaN -> None."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def _scored(log: Any, what: str) -> list[tuple[dict[str, Any], float]]:
    if log.status != "success" or log.samples is None:
        err = log.error.message if log.error else log.status
        raise MsmError(f"eval of {what} failed: {' '.join(str(err).split())[:200]}")
    pairs = []
    for smp in log.samples:
        sc = next(iter((smp.scores or {}).values()), None)
        if sc is None:
            continue
        meta = {**(smp.metadata or {}), **(sc.metadata or {})}
        value = float(sc.value) if isinstance(sc.value, int | float) else math.nan
        pairs.append((meta, value))
    return pairs


def run_eval(
    model: str,
    suite: str,
    out: Path,
    items: list[str] | None = None,
    questions: str = "equanimity",
    grader: str | None = None,
    limit: int | None = None,
    echo: Any = print,
) -> dict[str, Any]:
    """Run ``suite`` against ``model``; Inspect logs in ``out/logs``, summary in ``out``."""
    from inspect_ai import eval as inspect_eval

    from msm.evals.capability import heldout_text, local_model_path, perplexity
    from msm.evals.spec_qa import spec_qa, summarise_spec_qa
    from msm.evals.values import summarise_values, values

    if suite in PLANNED:
        raise MsmError(f"suite {suite!r} is not built yet; available: {', '.join(SUITES)}, all")
    if suite not in (*SUITES, "all"):
        raise MsmError(f"unknown suite {suite!r}: use one of {', '.join(SUITES)}, all")
    run = list(SUITES) if suite == "all" else [suite]
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    if "spec_qa" in run and not grader:
        raise MsmError(
            "the spec_qa suite needs --grader MODEL (no default grader is chosen for you)"
        )
    # build everything that can fail on bad input before loading any model
    sets = list(items or DEFAULT_VALUE_SETS)
    tasks: list[tuple[str, Any]] = []
    if "values" in run:
        # local models return logprobs, so the first token decides; others may need text
        from msm.llm.names import resolve_model

        n_tok = 1 if resolve_model(model, check=False).provider in ("embedded", "hf") else 8
        tasks += [(f"values/{s}", values(items=s, max_tokens=n_tok)) for s in sets]
    if "spec_qa" in run:
        tasks.append((f"spec_qa/{questions}", spec_qa(questions=questions)))
    ppl_path = local_model_path(model) if "capability" in run else None
    summary: dict[str, Any] = {
        "model": model,
        "grader": grader,
        "suite": suite,
        "task_versions": {name.split("/")[0]: t.version for name, t in tasks},
        "not_built": list(PLANNED) if suite == "all" else [],
    }
    if suite == "all":
        echo(f"note: suite 'all' runs {', '.join(SUITES)}; {', '.join(PLANNED)} is not built yet")
    if tasks:
        roles = {"grader": _inspect_model(grader)} if grader and "spec_qa" in run else None
        logs = inspect_eval(
            [t for _, t in tasks],
            model=_inspect_model(model),
            model_roles=roles,
            log_dir=str(out / "logs"),
            limit=limit,
            display="none",
            fail_on_error=False,
        )
        for (name, _), log in zip(tasks, logs, strict=True):
            kind, sub = name.split("/", 1)
            pairs = _scored(log, name)
            res = summarise_values(pairs) if kind == "values" else summarise_spec_qa(pairs)
            res["log"] = f"logs/{Path(log.location).name}" if log.location else None
            summary.setdefault(kind, {})[sub] = res
            _report(name, kind, res, echo)
    if ppl_path is not None:
        res = perplexity(ppl_path, heldout_text())
        summary["capability"] = res
        echo(f"capability: perplexity {res['perplexity']:.2f} over {res['tokens']} held-out tokens")
    atomic_write_json(out / "summary.json", _clean(summary))
    return summary


def _report(name: str, kind: str, res: dict[str, Any], echo: Any) -> None:
    if kind == "values":
        vp = res["value_preference"]
        echo(
            f"{name}: {vp['mean']:.3f} [{vp['ci95'][0]:.3f}, {vp['ci95'][1]:.3f}] "
            f"over {vp['items']} items (value-consistent choice; 0.5 = indifferent)"
        )
        methods = res["answers_by_method"]
        if methods.get("parsed"):
            echo(
                f"  note: no logprobs for {methods['parsed']} answers; their text was parsed (0/1)"
            )
        if methods.get("unparsed"):
            echo(f"  note: {methods['unparsed']} answers named neither option (not scored)")
    else:
        g = res["grade"]
        lo, hi = g["ci95"]
        echo(f"{name}: {g['mean']:.2f} [{lo:.2f}, {hi:.2f}] over {g['answers']} answers")
        if res["grader_errors"]:
            echo(
                f"  note: {res['grader_errors']} grader replies had no parseable score (not scored)"
            )
