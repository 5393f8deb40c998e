"""``msm eval``: run suites as Inspect evals, then write ``summary.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.fsutil import atomic_write_json

SUITES = ("agentic", "values", "spec_qa", "capability")
NEEDS_GRADER = ("agentic", "spec_qa")
DEFAULT_VALUE_SETS = ("america", "affordability", "cheese_america", "cheese_affordability")


def _inspect_model(name: str) -> Any:
    from inspect_ai.model import get_model

    import msm.llm.fake  # noqa: F401  (registers msm-fake)
    import msm.llm.local  # noqa: F401  (registers msm-local)
    from msm.llm.names import redact_url_credentials_in_logs, resolve_model

    r = resolve_model(name)
    redact_url_credentials_in_logs()
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


def _scored(log: Any, what: str) -> tuple[list[tuple[dict[str, Any], Any]], int]:
    """(metadata, score value) per scored sample, and how many samples errored."""
    if log.status not in ("success", "error") or log.samples is None:
        err = log.error.message if log.error else log.status
        raise MsmError(f"eval of {what} failed: {' '.join(str(err).split())[:200]}")
    pairs, errored = [], 0
    for smp in log.samples:
        sc = next(iter((smp.scores or {}).values()), None)
        if smp.error is not None or sc is None:
            errored += 1
            continue
        meta = {**(smp.metadata or {}), **(sc.metadata or {}), "epoch": smp.epoch}
        value: Any = sc.value
        if isinstance(value, dict):
            value = {
                k: float(v) if isinstance(v, int | float) else math.nan for k, v in value.items()
            }
        else:
            value = float(value) if isinstance(value, int | float) else math.nan
        pairs.append((meta, value))
    if not pairs and errored:
        first = next(s.error for s in log.samples if s.error is not None)
        msg = first.message if first is not None else "unknown"
        raise MsmError(f"eval of {what} failed on every sample: {' '.join(msg.split())[:200]}")
    return pairs, errored


def run_eval(
    model: str,
    suite: str,
    out: Path,
    items: list[str] | None = None,
    questions: str = "equanimity",
    grader: str | None = None,
    limit: int | None = None,
    epochs: int = 1,
    scenarios: list[str] | None = None,
    goals: list[str] | None = None,
    urgency: str = "replacement",
    scratchpad: bool = True,
    model_name: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    echo: Any = print,
) -> dict[str, Any]:
    """Run ``suite`` against ``model``; Inspect logs in ``out/logs``, summary in ``out``."""
    from inspect_ai import eval as inspect_eval

    from msm.evals.agentic import (
        DEFAULT_GOALS,
        SCENARIOS,
        UPSTREAM_NAME,
        agentic,
        summarise_agentic,
    )
    from msm.evals.capability import heldout_text, local_model_path, perplexity
    from msm.evals.spec_qa import spec_qa, summarise_spec_qa
    from msm.evals.values import summarise_values, values
    from msm.llm.names import resolve_model

    names = [s.strip() for s in suite.split(",") if s.strip()]
    for s in names or [suite]:
        if s not in (*SUITES, "all"):
            raise MsmError(f"unknown suite {s!r}: use one of {', '.join(SUITES)}, all")
    if epochs < 1:
        raise MsmError(f"--epochs must be at least 1, got {epochs}")
    if limit is not None and limit < 1:
        raise MsmError(f"--limit must be at least 1, got {limit}")
    if max_tokens is not None and max_tokens < 1:
        raise MsmError(f"--max-tokens must be at least 1, got {max_tokens}")
    if temperature is not None and not temperature >= 0:  # also catches NaN
        raise MsmError(f"--temperature must be 0 or more, got {temperature}")
    run = list(SUITES) if "all" in names else [s for s in SUITES if s in names]
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    for s in NEEDS_GRADER:
        if s in run and not grader:
            raise MsmError(
                f"the {s} suite needs --grader MODEL (no default grader is chosen for you)"
            )
    # build everything that can fail on bad input before loading any model
    local = resolve_model(model, check=False).provider in ("embedded", "hf")
    sets = list(items or DEFAULT_VALUE_SETS)
    tasks: list[tuple[str, Any]] = []
    if "agentic" in run:
        tasks.append(
            (
                "agentic/grid",
                agentic(
                    scenarios=list(scenarios or SCENARIOS),
                    goals=list(goals or DEFAULT_GOALS),
                    urgency=urgency,
                    scratchpad=scratchpad,
                    model_name=model_name or UPSTREAM_NAME,
                    temperature=0.7 if temperature is None else temperature,
                    # a 135M local model on a CPU cannot afford paper-length answers
                    max_tokens=max_tokens or (512 if local else 2048),
                ),
            )
        )
    if "values" in run:
        # local models return logprobs, so the first token decides; others may need text
        n_tok = 1 if local else 8
        tasks += [(f"values/{s}", values(items=s, max_tokens=n_tok)) for s in sets]
    if "spec_qa" in run:
        tasks.append((f"spec_qa/{questions}", spec_qa(questions=questions)))
    ppl_path = local_model_path(model) if "capability" in run else None
    summary: dict[str, Any] = {
        "model": model,
        "grader": grader,
        "suite": suite,
        "epochs": epochs,
        "limit": limit,
        "task_versions": {name.split("/")[0]: t.version for name, t in tasks},
    }
    if tasks:
        roles = {"grader": _inspect_model(grader)} if grader else None
        logs = inspect_eval(
            [t for _, t in tasks],
            model=_inspect_model(model),
            model_roles=roles,
            log_dir=str(out / "logs"),
            limit=limit,
            epochs=epochs,
            display="none",
            fail_on_error=False,
        )
        for (name, t), log in zip(tasks, logs, strict=True):
            kind, sub = name.split("/", 1)
            pairs, errored = _scored(log, name)
            res: dict[str, Any]
            if kind == "agentic":
                res = summarise_agentic(pairs)
                res["sample_errors"] = errored
                res["settings"] = {k: v for k, v in (t.metadata or {}).items()}
            elif kind == "values":
                res = summarise_values(pairs)
            else:
                res = summarise_spec_qa(pairs)
            res["log"] = f"logs/{Path(log.location).name}" if log.location else None
            if kind == "agentic":
                summary["agentic"] = res
            else:
                summary.setdefault(kind, {})[sub] = res
            _report(name, kind, res, echo)
    if ppl_path is not None:
        res = perplexity(ppl_path, heldout_text())
        summary["capability"] = res
        echo(f"capability: perplexity {res['perplexity']:.2f} over {res['tokens']} held-out tokens")
    atomic_write_json(out / "summary.json", _clean(summary))
    return summary


def _report(name: str, kind: str, res: dict[str, Any], echo: Any) -> None:
    if kind == "agentic":
        for label, r in [("all", res["overall"]), *res["by_condition"].items()]:
            parts = []
            for m in ("classifier_verdict", "harmful", "attempt"):
                lo, hi = r[m]["ci95"]
                parts.append(f"{m} {r[m]['k']}/{r[m]['n']} [{lo:.2f}, {hi:.2f}]")
            echo(f"agentic {label}: " + "; ".join(parts))
        if res["overall"]["grader_errors"]:
            echo(
                f"  note: {res['overall']['grader_errors']} grader replies had no verdict "
                "(counted as errors, not scored)"
            )
        if res["sample_errors"]:
            echo(f"  note: {res['sample_errors']} samples failed (see the Inspect log)")
        return
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
