"""``msm eval``: run suites as Inspect evals, then write ``summary.json``."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json
from msm.artifacts.checkpoint import model_manifest
from msm.artifacts.manifest import retract_manifest, write_manifest
from msm.artifacts.outdir import claim_output, clear_output, eval_inputs
from msm.errors import MsmError
from msm.evals.config import DEFAULT_VALUE_SETS, SUITES, EvalConfig
from msm.evals.run_lines import report_lines as _report
from msm.evals.run_lines import unscored as _unscored
from msm.evals.usage_log import eval_usage

__all__ = ["SUITES", "EvalConfig", "run_eval"]

GRADER_STORE = "grader.sqlite"  # msm.evals.stored_grader.GRADER_STORE (kept on failure)
MSM_TEXTS = {"source": "msm", "sha256": None}  # summary["agentic"]["templates"] without a folder


def _inspect_model(name: str, server_args: dict[str, Any] | None = None) -> Any:
    """``server_args``: the vLLM server settings of a vllm/ model (``EvalConfig.vllm_args``),
    passed to Inspect's vllm provider, which hands them to ``vllm serve``."""
    from msm.llm.fake import fake_args
    from msm.llm.names import get_inspect_model

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
    from msm.evals.stored_grader import grader_model, grader_store

    store = grader_store(out)
    roles, llms = {}, []
    for role, name in graders:
        roles[role], llm = grader_model(name, role, store, cfg.batch_wait_s)
        llms.append(llm)
    return roles, llms


def _is_fake(name: str) -> bool:
    from msm.llm.names import resolve_model

    return resolve_model(name, check=False).provider == "fake"


def _runs_here(name: str) -> bool:
    """Whether msm runs the model itself (embedded, hf/, a folder): log-likelihoods available."""
    from msm.llm.names import resolve_model

    return resolve_model(name, check=False).provider in ("embedded", "hf")


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
    cfg: EvalConfig, out: str | Path, echo: Any = print, *, overwrite: bool = False
) -> dict[str, Any]:
    """Run ``cfg``'s suites against ``cfg.model``: Inspect logs in ``out/logs``,
    ``summary.json``, and ``manifest.json`` written last (what was evaluated, with what).
    ``out`` belongs to these settings: a rerun evaluates again, other settings are
    refused unless ``overwrite`` (see :mod:`msm.artifacts.outdir`).

    Example::

        summary = run_eval(EvalConfig(model="embedded", items=["america"]), "runs/eval")
    """
    from inspect_ai import eval as inspect_eval

    from msm.evals.agentic.checks import summarise_log
    from msm.evals.agentic.task import agentic, summarise_agentic
    from msm.evals.agentic.variants import task_name, variant_record, variants
    from msm.evals.answer_length import agentic_max_tokens
    from msm.evals.capability import fake_perplexity, heldout_text, local_model_path, perplexity
    from msm.evals.spec_qa import spec_qa, summarise_spec_qa
    from msm.evals.values.task import summarise_values, values

    out = Path(out)
    run = cfg.check()
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    model, grader, epochs, limit = cfg.model, cfg.grader, cfg.epochs, cfg.limit
    max_tokens = cfg.max_tokens
    # build everything that can fail on bad input before loading any model
    local = _runs_here(model)
    sets = list(cfg.items or DEFAULT_VALUE_SETS)
    tasks: list[tuple[str, Any]] = []
    # one agentic task per (agent name, temperature): one without the axes (agentic_variants)
    axes = variants(cfg) if "agentic" in run else []
    by_task = {task_name(v, len(axes) > 1): v for v in axes}
    for tname, v in by_task.items():
        tasks.append(
            (
                tname,
                agentic(
                    scenarios=cfg.scenarios or None,  # None: every scenario (or the grid's)
                    goals=cfg.goals or None,
                    urgency=cfg.urgency,
                    scratchpad=cfg.scratchpad,
                    model_name=v.agent_name,
                    temperature=v.temperature,  # None: 0.7, or the grid's
                    # 4096 (the paper's) but for the bundled 135M model (answer_length.py)
                    max_tokens=agentic_max_tokens(model, max_tokens),
                    grid=cfg.grid,
                    second_grader=cfg.grader2 is not None,
                    action_only=cfg.regrade_action_only,
                    spec_reasoning=cfg.spec_reasoning,
                    spec=cfg.spec,
                    # read (and every file checked) now, before anything is written
                    templates=cfg.templates,
                    exfil_rule=cfg.exfil_rule,
                    seed=cfg.seed or 0,
                    limit=limit,  # conditions (Inspect's own limit would count samples)
                ),
            )
        )
    from msm.evals.loglik_remote import gives_logliks

    scoring = cfg.scoring
    if scoring == "auto":
        scoring = "loglik" if gives_logliks(model) else "letter"
    loglik_sets: dict[str, list[Any]] = {}
    if "values" in run and scoring == "loglik":
        from msm.evals.loglik import stratified_sample
        from msm.evals.values.items import load_value_items

        if not gives_logliks(model):
            raise MsmError(
                f"--scoring loglik needs a model that gives log-likelihoods (embedded, "
                f"hf/<folder>, a folder, or vllm/<model>), not {model!r}; use --scoring letter"
            )
        if cfg.baseline and not gives_logliks(cfg.baseline):
            raise MsmError(
                f"--baseline must give log-likelihoods too (local or vllm/), not {cfg.baseline!r}"
            )
        from msm.evals.values.items import select_split

        loglik_sets = {
            s: stratified_sample(
                select_split(load_value_items(s, cfg.model_name), cfg.split, s), limit
            )
            for s in sets
        }
    elif "values" in run:
        # local models return logprobs, so the first token decides; others may need text
        n_tok = 1 if local else 8
        tasks += [
            (
                f"values/{s}",
                values(
                    items=s,
                    max_tokens=n_tok,
                    model_name=cfg.model_name,
                    split=cfg.split,
                    limit=limit,
                ),
            )
            for s in sets
        ]
    if "spec_qa" in run:
        tasks.append((f"spec_qa/{cfg.questions}", spec_qa(questions=cfg.questions, limit=limit)))
    # epochs per suite: the paper's 300 agentic samples would otherwise grade every spec QA
    # answer 300 times too
    task_epochs = {"spec_qa": cfg.spec_qa_epochs}
    fake_ppl = "capability" in run and _is_fake(model)  # a pseudo-perplexity: a dry run
    ppl_path = local_model_path(model) if "capability" in run and not fake_ppl else None
    summary: dict[str, Any] = {
        "model": model,
        "grader": grader,
        "grader2": cfg.grader2,
        "suite": cfg.suite,
        "epochs": epochs,
        "spec_qa_epochs": cfg.spec_qa_epochs if "spec_qa" in run else None,
        "seed": cfg.seed,
        "limit": limit,
        # the item split every value set was scored on (all | dev | confirm)
        "values_split": cfg.split if "values" in run else None,
        "task_versions": {name.split("/")[0]: t.version for name, t in tasks},
    }
    if loglik_sets:
        from msm.evals.loglik import VERSION as LOGLIK_VERSION

        summary["task_versions"]["values"] = f"loglik-{LOGLIK_VERSION}"
    graders = [(r, n) for r, n in (("grader", grader), ("grader2", cfg.grader2)) if n]
    if cfg.batch and tasks:
        from msm.llm.batch import check_batch_provider

        for role, name in graders:
            check_batch_provider(name, role)
    # output of other inputs (another model's summary) is refused, nothing written (outdir)
    claim = claim_output(out, "eval", eval_inputs(cfg), overwrite=overwrite)
    fresh = claim.fresh
    try:
        claim.take()
        retract_manifest(out)  # a rerun's files are not vouched for until the new manifest
        logs: list[Any] = []
        if tasks:
            from inspect_ai import task_with

            # agentic with grader2: every judged sample graded twice
            roles, batched = _grader_roles(cfg, graders, out)
            logs = inspect_eval(
                [task_with(t, epochs=task_epochs.get(n.split("/")[0], epochs)) for n, t in tasks],
                model=_inspect_model(model, cfg.vllm_args()),
                model_roles=roles,
                log_dir=str(out / "logs"),
                # no Inspect limit: each task took --limit items itself (a values item is
                # two samples, one per option order)
                display="none",
                fail_on_error=False,
            )
            for llm in batched:  # a failed batch: one line (its answers are stored)
                if llm.batch_failure is not None:
                    raise llm.batch_failure
            for (name, t), log in zip(tasks, logs, strict=True):
                kind, sub = name.split("/", 1)
                pairs, errored = _scored(log, name)
                res: dict[str, Any]
                if kind == "agentic":
                    res = summarise_agentic(pairs)
                    res["sample_errors"] = errored
                    res["settings"] = {k: v for k, v in (t.metadata or {}).items()}
                    # which scenario texts: msm's own, or a templates folder's
                    tpl = res["settings"].pop("templates", None) or dict(MSM_TEXTS)
                    res["templates"] = tpl
                    if tpl["source"] != "msm":
                        echo(f"agentic: templates from {tpl['source']} (sha256 {tpl['sha256']})")
                    # grader checks and reasoning traces (agentic_checks.py)
                    res.update(summarise_log(log, grader, cfg.grader2, cfg.spec))
                elif kind == "values":
                    res = summarise_values(pairs)
                else:
                    res = summarise_spec_qa(pairs)
                res["log"] = f"logs/{Path(log.location).name}" if log.location else None
                if kind == "agentic":
                    summary.setdefault("agentic", res)  # the first variant is the headline
                    if len(by_task) > 1:
                        echo(f"agentic variant {by_task[name].label}:")
                        summary.setdefault("agentic_variants", []).append(
                            variant_record(by_task[name], res)
                        )
                else:
                    summary.setdefault(kind, {})[sub] = res
                _report(name, kind, res, echo)
        if loglik_sets:
            summary["values_scoring"] = "loglik"
            summary["values"] = _loglik_values(cfg, loglik_sets, out, echo)
        elif "values" in run:
            summary["values_scoring"] = "letter"
        if ppl_path is not None or fake_ppl:
            text = heldout_text()
            res = perplexity(ppl_path, text) if ppl_path is not None else fake_perplexity(text)
            summary["capability"] = res
            echo(
                f"capability: perplexity {res['perplexity']:.2f} "
                f"over {res['tokens']} held-out tokens"
                + (" (fake model: pseudo log-likelihoods from a hash)" if fake_ppl else "")
            )
        summary["usage"] = eval_usage(cfg, logs, summary)  # calls and tokens by role
        logs_line = (
            f"Inspect logs: {out / 'logs'} (open them with: inspect view --log-dir {out / 'logs'})"
        )
        unscored = _unscored(summary)
        if unscored:
            # a number over 0 items is no result: the summary says so and no manifest
            # vouches for it (a first run's folder goes entirely, below)
            summary["failed"] = unscored
            atomic_write_json(out / "summary.json", _clean(summary))
            if tasks and not fresh:
                echo(logs_line)
            raise MsmError(unscored)
        atomic_write_json(out / "summary.json", _clean(summary))
        write_manifest(out, "eval", **_manifest_fields(cfg, summary))
        if tasks:
            echo(logs_line)
    except BaseException:
        if fresh and out.is_dir():  # a failed first run leaves nothing half-written
            if (out / ".msm" / GRADER_STORE).is_file():  # but keeps the answers it paid for
                clear_output(out, keep_store=True)
            else:
                shutil.rmtree(out, ignore_errors=True)
        raise
    return summary


def _manifest_fields(cfg: EvalConfig, summary: dict[str, Any]) -> dict[str, Any]:
    """What was evaluated, with what: config, model lineage, package data, versions."""
    from importlib.metadata import version

    from msm.artifacts.package_data import data_hashes
    from msm.evals.agentic.variants import eval_names
    from msm.evals.answer_length import agentic_max_tokens
    from msm.llm.names import resolve_model

    lineage = None
    resolved = resolve_model(cfg.model, check=False)
    folder = resolved.model_args.get("model_path") if resolved.model_args else None
    if isinstance(folder, str):
        lineage = model_manifest(folder)
    return {
        "config": cfg.model_dump(mode="json"),
        "model_lineage": lineage,
        "grader": cfg.grader,
        "package_data": data_hashes("eval", [cfg.model, cfg.grader, cfg.grader2]),
        "task_versions": summary.get("task_versions", {}),
        "versions": {"inspect_ai": version("inspect_ai")},
        "names": eval_names(cfg, summary, lineage),
        # the answer limit the agentic suite ran with (answer_length.py)
        "agentic_max_tokens": agentic_max_tokens(cfg.model, cfg.max_tokens)
        if "agentic" in cfg.suites()
        else None,
        "usage": summary.get("usage"),
    }


def _loglik_values(
    cfg: EvalConfig, sets: dict[str, list[Any]], out: Path, echo: Any
) -> dict[str, Any]:
    """Score every set by option log-likelihood (and the baseline's, with ``--baseline``)."""

    from msm.evals.loglik import rows_name, summarise_loglik, tokenizer_fingerprint, write_rows
    from msm.evals.loglik_remote import loglik_scorer
    from msm.evals.stats import ci_text

    scorer = loglik_scorer(cfg.model, cfg.vllm_args())
    base = loglik_scorer(cfg.baseline, cfg.vllm_args()) if cfg.baseline else None
    if base is not None and tokenizer_fingerprint(base.tok) != tokenizer_fingerprint(scorer.tok):
        raise MsmError(
            f"--baseline {cfg.baseline} has a different tokenizer from {cfg.model}: "
            "log-likelihood changes compare only under one tokenizer"
        )
    (out / "values").mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name, items in sets.items():
        slug = rows_name(name)
        rows = scorer.score(items)
        write_rows(out / "values" / f"{slug}.jsonl", rows)
        base_rows = base.score(items) if base else None
        if base_rows is not None:
            write_rows(out / "values" / f"{slug}.baseline.jsonl", base_rows)
        res = summarise_loglik(rows, base_rows)
        res["log"] = f"values/{slug}.jsonl"
        if cfg.baseline:
            res["baseline"] = cfg.baseline
        results[name] = res
        acc, gpt, tot = res["acc"], res["gap_per_token"], res["gap"]
        # both units: answers of different sets differ in length, so a per-token gap alone
        # does not compare across sets
        line = (
            f"values/{name}: acc {acc['mean']:.3f} {ci_text(acc['ci95'])}, "
            f"gap {gpt['mean']:+.3f} {ci_text(gpt['ci95'], '+.3f')} nats/token, "
            f"{tot['mean']:+.2f} {ci_text(tot['ci95'], '+.2f')} nats/answer "
            f"over {acc['items']} items (loglik; acc 0.5 = indifferent)"
        )
        echo(line)
        if "change_from_baseline" in res:
            ch = res["change_from_baseline"]["gap_per_token"]
            ct = res["change_from_baseline"]["gap"]
            echo(
                f"  change from {cfg.baseline}: {ch['mean']:+.3f} "
                f"{ci_text(ch['ci95'], '+.3f')} nats/token, "
                f"{ct['mean']:+.2f} {ci_text(ct['ci95'], '+.2f')} nats/answer"
            )
    return results
