"""``msm eval``: run suites as Inspect evals, then write ``summary.json``.

The suites themselves are a table (:data:`msm.evals.suites.SUITE_RUNNERS`); this module
owns the run around them: the output folder, the Inspect call with its graders, reading
the logs back, the summary and the manifest.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import inspect_ai  # inspect_ai.eval read at call time: tests swap it

from msm._util.fsutil import atomic_write_json
from msm._util.progress import progress_mode
from msm.artifacts.checkpoint import model_manifest
from msm.artifacts.manifest import retract_manifest, write_manifest
from msm.artifacts.outdir import claim_output, clear_output, eval_inputs
from msm.artifacts.package_data import data_hashes
from msm.errors import MsmError
from msm.evals.agentic.variants import eval_names
from msm.evals.answer_length import agentic_max_tokens
from msm.evals.config import SUITES, EvalConfig
from msm.evals.loglik_remote import runs_here
from msm.evals.run_lines import report_lines as _report
from msm.evals.run_lines import unscored as _unscored
from msm.evals.stored_grader import GRADER_STORE, grader_model, grader_store
from msm.evals.suites import SUITE_RUNNERS, Echo, EvalWork, SuiteRunner, prepare, task_versions
from msm.evals.usage_log import eval_usage
from msm.llm.batch import check_batch_provider
from msm.llm.fake import fake_args
from msm.llm.names import get_inspect_model, resolve_model, weights_folder
from msm.llm.refs import served_by_vllm

__all__ = ["SUITES", "EvalConfig", "run_eval"]


def _inspect_model(name: str, server_args: dict[str, Any] | None = None) -> Any:
    """``server_args``: the vLLM server settings of a vllm/ model (``EvalConfig.vllm_args``),
    passed to Inspect's vllm provider, which hands them to ``vllm serve``."""
    # the plain ``fake`` answers each suite in its format (data/fake/eval.yaml)
    args = {**fake_args(name, None, "eval"), **(server_args or {})}
    return get_inspect_model(name, model_args=args)


def _grader_roles(
    cfg: EvalConfig, graders: list[tuple[str, str]], out: Path
) -> tuple[dict[str, Any] | None, list[Any]]:
    """Inspect's ``model_roles`` for the graders, and the batched ones' ``LLM`` clients
    (``--batch``: through msm's client and the store ``OUT/.msm/grader.sqlite``)."""
    if not graders:
        return None, []
    if not cfg.batch:
        return {role: _inspect_model(name) for role, name in graders}, []
    store = grader_store(out)
    roles, llms = {}, []
    for role, name in graders:
        roles[role], llm = grader_model(name, role, store, cfg.batch_wait_s)
        llms.append(llm)
    return roles, llms


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


@dataclass(frozen=True, slots=True)
class EvalResult:
    """What :func:`run_eval` wrote: the suites it ran, and ``summary`` exactly as
    ``out/summary.json`` holds it."""

    out: Path
    suites: tuple[str, ...]
    summary: dict[str, Any]


def run_eval(
    cfg: EvalConfig, out: str | Path, echo: Echo = print, *, overwrite: bool = False
) -> EvalResult:
    """Run ``cfg``'s suites against ``cfg.model``: Inspect logs in ``out/logs``,
    ``summary.json``, and ``manifest.json`` written last (what was evaluated, with what).
    ``out`` belongs to these settings: a rerun evaluates again, other settings are
    refused unless ``overwrite`` (see :mod:`msm.artifacts.outdir`).

    Example::

        res = run_eval(EvalConfig(model="embedded", items=["america"]), "runs/eval")
        print(res.suites, res.summary["values"])
    """
    out = Path(out)
    run = cfg.check()
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    if served_by_vllm(cfg.model):  # the server's package (or a running server), up front
        resolve_model(cfg.model)
    # build everything that can fail on bad input before loading any model
    work = prepare(cfg, run, runs_here(cfg.model))
    summary = _summary_head(work)
    graders = [(r, n) for r, n in (("grader", cfg.grader), ("grader2", cfg.grader2)) if n]
    if cfg.batch and work.tasks:
        for role, name in graders:
            check_batch_provider(name, role)
    # output of other inputs (another model's summary) is refused, nothing written (outdir)
    claim = claim_output(
        out, "eval", eval_inputs(cfg, weights_folder(cfg.model)), overwrite=overwrite
    )
    try:
        claim.take()
        retract_manifest(out)  # a rerun's files are not vouched for until the new manifest
        logs = _inspect_suites(work, graders, summary, out, echo)
        for s in run:
            after = SUITE_RUNNERS[s].after
            if after is not None:
                after(work, summary, out, echo)
        summary["usage"] = eval_usage(cfg, logs, summary)  # calls and tokens by role
        written = _write_results(work, summary, out, echo, fresh=claim.fresh)
    except BaseException:
        if claim.fresh and out.is_dir():  # a failed first run leaves nothing half-written
            if (out / ".msm" / GRADER_STORE).is_file():  # but keeps the answers it paid for
                clear_output(out, keep_store=True)
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise
    return EvalResult(out=out, suites=tuple(run), summary=written)


def _summary_head(work: EvalWork) -> dict[str, Any]:
    """What summary.json says about the settings, before any result."""
    cfg, run = work.cfg, work.suites
    return {
        "model": cfg.model,
        "grader": cfg.grader,
        "grader2": cfg.grader2,
        "suite": cfg.suite,
        "epochs": cfg.epochs,
        "spec_qa_epochs": cfg.spec_qa_epochs if "spec_qa" in run else None,
        "seed": cfg.seed,
        "limit": cfg.limit,
        # the item split every value set was scored on (all | dev | confirm)
        "values_split": cfg.split if "values" in run else None,
        "task_versions": task_versions(work),
    }


def _inspect_suites(
    work: EvalWork, graders: list[tuple[str, str]], summary: dict[str, Any], out: Path, echo: Echo
) -> list[Any]:
    """Run every Inspect task at once and put each log's result into ``summary``."""
    if not work.tasks:
        return []
    cfg = work.cfg
    # agentic with grader2: every judged sample graded twice
    roles, batched = _grader_roles(cfg, graders, out)
    logs: list[Any] = inspect_ai.eval(
        [inspect_ai.task_with(t, epochs=getattr(cfg, _runner(n).epochs)) for n, t in work.tasks],
        model=_inspect_model(cfg.model, cfg.vllm_args()),
        model_roles=roles,
        log_dir=str(out / "logs"),
        # no Inspect limit: each task took --limit items itself (a values item is
        # two samples, one per option order)
        display="rich" if progress_mode() == "bar" else "none",  # Inspect's own bars
        fail_on_error=False,
    )
    for llm in batched:  # a failed batch: one line (its answers are stored)
        if llm.batch_failure is not None:
            raise llm.batch_failure
    for (name, t), log in zip(work.tasks, logs, strict=True):
        kind = name.split("/")[0]
        pairs, errored = _scored(log, name)
        runner = _runner(name)
        assert runner.summarise is not None  # every suite that gives Inspect tasks has one
        res = runner.summarise(work, pairs, t, log, errored, echo)
        res["log"] = f"logs/{Path(log.location).name}" if log.location else None
        runner.file(work, summary, name, res, echo)
        _report(name, kind, res, echo)
    return logs


def _runner(task_name: str) -> SuiteRunner:
    """The suite runner of a task (``values/america``: the values suite's)."""
    return SUITE_RUNNERS[task_name.split("/")[0]]


def _write_results(
    work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo, *, fresh: bool
) -> dict[str, Any]:
    """summary.json, then the manifest that vouches for it; a requested result that scored
    nothing is an error and gets no manifest. Returns what summary.json holds."""
    logs_line = (
        f"Inspect logs: {out / 'logs'} (open them with: inspect view --log-dir {out / 'logs'})"
    )
    unscored = _unscored(summary)
    if unscored:
        # a number over 0 items is no result: the summary says so and no manifest
        # vouches for it (a first run's folder goes entirely, in run_eval)
        summary["failed"] = unscored
        atomic_write_json(out / "summary.json", _clean(summary))
        if work.tasks and not fresh:
            echo(logs_line)
        raise MsmError(unscored)
    written: dict[str, Any] = _clean(summary)
    atomic_write_json(out / "summary.json", written)
    write_manifest(out, "eval", **_manifest_fields(work.cfg, summary))
    if work.tasks:
        echo(logs_line)
    return written


def _manifest_fields(cfg: EvalConfig, summary: dict[str, Any]) -> dict[str, Any]:
    """What was evaluated, with what: config, model lineage, package data, versions."""
    lineage = None
    resolved = resolve_model(cfg.model, check=False)
    folder = resolved.model_args.get("model_path") if resolved.model_args else None
    if isinstance(folder, str):
        lineage = model_manifest(folder)
    return {
        "config": cfg.model_dump(mode="json"),
        "model_lineage": lineage,
        "grader": cfg.grader,
        "package_data": data_hashes("eval", [cfg.model, cfg.grader, cfg.grader2], cfg.suites()),
        "task_versions": summary.get("task_versions", {}),
        "versions": {"inspect_ai": version("inspect_ai")},
        "names": eval_names(cfg, summary, lineage),
        # the answer limit the agentic suite ran with (answer_length.py)
        "agentic_max_tokens": agentic_max_tokens(cfg.model, cfg.max_tokens)
        if "agentic" in cfg.suites()
        else None,
        "usage": summary.get("usage"),
    }
