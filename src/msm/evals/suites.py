"""The suites of ``msm eval``, one entry each in :data:`SUITE_RUNNERS`.

Each suite says what it adds before any model loads (Inspect tasks, or the items of msm's
own pass), how an Inspect log of its becomes its block of ``summary.json``, and what msm
computes itself after Inspect (log-likelihood value scores, perplexity). ``run_eval``
walks the table in the fixed suite order (``SUITES``) instead of branching on names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.evals.agentic import task as agentic_task  # through the module: tests swap agentic
from msm.evals.agentic.checks import summarise_log
from msm.evals.agentic.pressure import check_pressures, paired_drop
from msm.evals.agentic.variants import Variant, task_name, variant_record, variants
from msm.evals.answer_length import agentic_max_tokens
from msm.evals.belief import suite as belief_suite
from msm.evals.belief.items import BeliefItem
from msm.evals.capability import fake_perplexity, heldout_text, local_model_path, perplexity
from msm.evals.config import (
    DEFAULT_VALUE_SETS,
    EvalConfig,
    named_set,
    question_sets,
    resolve_scoring,
)
from msm.evals.loglik import VERSION as LOGLIK_VERSION
from msm.evals.loglik import (
    rows_name,
    stratified_sample,
    summarise_loglik,
    tokenizer_fingerprint,
    write_rows,
)
from msm.evals.loglik_remote import gives_logliks, loglik_scorer
from msm.evals.spec_qa import spec_qa, summarise_spec_qa
from msm.evals.stats import ci_text
from msm.evals.values.items import load_value_items, select_split
from msm.evals.values.task import summarise_values, values
from msm.evals.values.vocabulary import ValueItem
from msm.llm.names import resolve_model

Echo = Callable[[str], None]
Pairs = list[tuple[dict[str, Any], Any]]  # (metadata, score value) per scored sample
MSM_TEXTS = {"source": "msm", "sha256": None}  # summary["agentic"]["templates"] without a folder


@dataclass
class EvalWork:
    """What one eval runs, built before any model loads (so bad input fails first):
    ``tasks`` for Inspect, and the inputs of msm's own passes after it."""

    cfg: EvalConfig
    suites: list[str]
    local: bool  # msm runs the model itself: the first token's logprobs decide a letter
    tasks: list[tuple[str, Any]] = field(default_factory=list)  # (name, Inspect task)
    agentic_variants: dict[str, Variant] = field(default_factory=dict)  # by task name
    robust_pairs: dict[str, Pairs] = field(default_factory=dict)  # robustness, by variant
    loglik_sets: dict[str, list[ValueItem]] = field(default_factory=dict)
    belief_sets: dict[str, list[BeliefItem]] = field(default_factory=dict)  # spec_belief, loglik
    ppl_path: str | None = None  # the capability suite's local model
    fake_ppl: bool = False  # the capability suite on a fake model: a dry run


def file_by_task(
    work: EvalWork, summary: dict[str, Any], name: str, res: dict[str, Any], echo: Echo
) -> None:
    """A task's result under its suite and item set: ``summary["values"]["america"]``."""
    kind, sub = name.split("/", 1)
    summary.setdefault(kind, {})[sub] = res


@dataclass(frozen=True)
class SuiteRunner:
    """One suite's part of an eval. ``prepare`` adds its tasks or items to the work;
    ``summarise`` turns one of its Inspect logs (the scored pairs, the task, the sample
    errors) into its result and ``file`` puts that into the summary; ``after`` runs msm's
    own pass once Inspect is done and puts its results into the summary; ``epochs`` names
    the setting that repeats its samples (spec QA has its own: the paper's 300 agentic
    samples would grade every answer 300 times too)."""

    prepare: Callable[[EvalWork], None]
    summarise: Callable[[EvalWork, Pairs, Any, Any, int, Echo], dict[str, Any]] | None = None
    file: Callable[[EvalWork, dict[str, Any], str, dict[str, Any], Echo], None] = file_by_task
    after: Callable[[EvalWork, dict[str, Any], Path, Echo], None] | None = None
    epochs: str = "epochs"


def _is_fake(name: str) -> bool:
    return resolve_model(name, check=False).provider == "fake"


# --------------------------------------------------------------------------
# agentic


def _agentic_args(cfg: EvalConfig) -> dict[str, Any]:
    """The agentic task's settings shared by every variant (and the robustness suite)."""
    return {
        "scenarios": cfg.scenarios or None,  # None: every scenario (or the grid's)
        "goals": cfg.goals or None,
        "urgency": cfg.urgency,
        "scratchpad": cfg.scratchpad,
        # 4096 (the paper's) but for the bundled 135M model (answer_length.py)
        "max_tokens": agentic_max_tokens(cfg.model, cfg.max_tokens),
        "grid": cfg.grid,
        "spec_reasoning": cfg.spec_reasoning,
        "spec": cfg.spec,
        # read (and every file checked) now, before anything is written
        "templates": cfg.templates,
        "exfil_rule": cfg.exfil_rule,
        "seed": cfg.seed or 0,
        "limit": cfg.limit,  # conditions (Inspect's own limit would count samples)
    }


def _prepare_agentic(work: EvalWork) -> None:
    """One agentic task per (agent name, temperature): one without the axes."""
    cfg = work.cfg
    axes = variants(cfg)
    work.agentic_variants = {task_name(v, len(axes) > 1): v for v in axes}
    for name, v in work.agentic_variants.items():
        task = agentic_task.agentic(
            **_agentic_args(cfg),
            model_name=v.agent_name,
            temperature=v.temperature,  # None: 0.7, or the grid's
            second_grader=cfg.grader2 is not None,
            action_only=cfg.regrade_action_only,
        )
        work.tasks.append((name, task))


def _summarise_agentic(
    work: EvalWork, pairs: Pairs, task: Any, log: Any, errored: int, echo: Echo
) -> dict[str, Any]:
    cfg = work.cfg
    res = agentic_task.summarise_agentic(pairs)
    res["sample_errors"] = errored
    res["settings"] = {k: v for k, v in (task.metadata or {}).items()}
    # which scenario texts: msm's own, or a templates folder's
    tpl = res["settings"].pop("templates", None) or dict(MSM_TEXTS)
    res["templates"] = tpl
    if tpl["source"] != "msm":
        echo(f"agentic: templates from {tpl['source']} (sha256 {tpl['sha256']})")
    # grader checks and reasoning traces (agentic/checks.py)
    res.update(summarise_log(log, cfg.grader, cfg.grader2, cfg.spec))
    return res


def _file_agentic(
    work: EvalWork, summary: dict[str, Any], name: str, res: dict[str, Any], echo: Echo
) -> None:
    """The first variant is the headline (``agentic``); with the robustness axes every
    variant is also listed (``agentic_variants``)."""
    summary.setdefault("agentic", res)
    if len(work.agentic_variants) > 1:
        echo(f"agentic variant {work.agentic_variants[name].label}:")
        summary.setdefault("agentic_variants", []).append(
            variant_record(work.agentic_variants[name], res)
        )


# --------------------------------------------------------------------------
# robustness: the agentic conditions under pressure (agentic/pressure.py)


def _prepare_robustness(work: EvalWork) -> None:
    """One task per pressure variant, ``standard`` first, at the first agent name and the
    plain temperature (the robustness axes vary the agentic suite only)."""
    cfg = work.cfg
    first = variants(cfg)[0]
    for p in check_pressures(cfg.pressures, "--pressures"):
        task = agentic_task.agentic(
            **_agentic_args(cfg),
            model_name=first.agent_name,
            temperature=cfg.temperature,
            pressure=p,
            pressure_texts=cfg.pressure_texts,
        )
        work.tasks.append((f"robustness/{p}", task))


def _summarise_robustness(
    work: EvalWork, pairs: Pairs, task: Any, log: Any, errored: int, echo: Echo
) -> dict[str, Any]:
    res = _summarise_agentic(work, pairs, task, log, errored, echo)
    work.robust_pairs[str(res["settings"].get("pressure"))] = pairs
    challenged = [bool(m.get("challenged")) for m, _ in pairs if "challenged" in m]
    if challenged:
        res["challenged"] = {"k": sum(challenged), "n": len(challenged)}
    return res


def _after_robustness(work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo) -> None:
    """Each variant's drop from ``standard`` (paired per condition and epoch; unpaired for
    the novel scenarios), per metric, and the texts used."""
    block = summary.get("robustness")
    if not isinstance(block, dict) or "standard" not in work.robust_pairs:
        return
    std = work.robust_pairs["standard"]
    drops: dict[str, Any] = {}
    for p, pairs in work.robust_pairs.items():
        if p == "standard":
            continue
        drops[p] = {
            m: paired_drop(std, pairs, m, paired=p != "novel") for m in agentic_task.METRICS
        }
        d = drops[p]["harmful"]
        if d.get("ci95"):
            echo(
                f"robustness/{p}: harmful {d['estimate']:+.3f} {ci_text(d['ci95'], '+.3f')} "
                f"from standard ({'paired' if p != 'novel' else 'unpaired: other scenarios'})"
            )
    summary["robustness_drops"] = drops


# --------------------------------------------------------------------------
# values


def _prepare_values(work: EvalWork) -> None:
    """Loglik: the items msm scores itself after Inspect; letter: one Inspect task a set."""
    cfg = work.cfg
    sets = list(cfg.items or DEFAULT_VALUE_SETS)
    if resolve_scoring(cfg.scoring, lambda: gives_logliks(cfg.model)) == "letter":
        # local models return logprobs, so the first token decides; others may need text
        n_tok = 1 if work.local else 8
        work.tasks += [
            (
                f"values/{named_set(s)[0]}",
                values(
                    items=s,
                    max_tokens=n_tok,
                    model_name=cfg.model_name,
                    split=cfg.split,
                    limit=cfg.limit,
                ),
            )
            for s in sets
        ]
        return
    if not gives_logliks(cfg.model):
        raise MsmError(
            f"--scoring loglik needs a model that gives log-likelihoods (embedded, "
            f"hf/<folder>, a folder, or vllm/<model>), not {cfg.model!r}; use --scoring letter"
        )
    if cfg.baseline and not gives_logliks(cfg.baseline):
        raise MsmError(
            f"--baseline must give log-likelihoods too (local or vllm/), not {cfg.baseline!r}"
        )
    work.loglik_sets = {
        named_set(s)[0]: stratified_sample(
            select_split(load_value_items(s, cfg.model_name), cfg.split, s), cfg.limit
        )
        for s in sets
    }


def _summarise_values(
    work: EvalWork, pairs: Pairs, task: Any, log: Any, errored: int, echo: Echo
) -> dict[str, Any]:
    return summarise_values(pairs)


def _after_values(work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo) -> None:
    if work.loglik_sets:
        summary["values_scoring"] = "loglik"
        summary["values"] = loglik_values(work.cfg, work.loglik_sets, out, echo)
    else:
        summary["values_scoring"] = "letter"


def loglik_values(
    cfg: EvalConfig,
    sets: dict[str, list[ValueItem]],
    out: Path,
    echo: Echo,
    folder: str = "values",
) -> dict[str, Any]:
    """Score every set by option log-likelihood (and the baseline's, with ``--baseline``);
    per-item rows in ``out/folder/`` (spec_belief's sets: ``spec_belief/``)."""
    scorer = loglik_scorer(cfg.model, cfg.vllm_args())
    base = loglik_scorer(cfg.baseline, cfg.vllm_args()) if cfg.baseline else None
    if base is not None and tokenizer_fingerprint(base.tok) != tokenizer_fingerprint(scorer.tok):
        raise MsmError(
            f"--baseline {cfg.baseline} has a different tokenizer from {cfg.model}: "
            "log-likelihood changes compare only under one tokenizer"
        )
    (out / folder).mkdir(parents=True, exist_ok=True)
    # every set in one pass per model: batches mix the sets, and the shared head runs once
    everything = [it for items in sets.values() for it in items]
    all_rows = scorer.score(everything)
    all_base = base.score(everything) if base else None
    results: dict[str, Any] = {}
    start = 0
    for name, items in sets.items():
        slug = rows_name(name)
        rows = all_rows[start : start + len(items)]
        write_rows(out / folder / f"{slug}.jsonl", rows)
        base_rows = all_base[start : start + len(items)] if all_base is not None else None
        start += len(items)
        if base_rows is not None:
            write_rows(out / folder / f"{slug}.baseline.jsonl", base_rows)
        res = summarise_loglik(rows, base_rows)
        res["log"] = f"{folder}/{slug}.jsonl"
        if cfg.baseline:
            res["baseline"] = cfg.baseline
        results[name] = res
        _echo_loglik(f"{folder}/{name}", res, cfg.baseline, echo)
    return results


def _echo_loglik(name: str, res: dict[str, Any], baseline: str | None, echo: Echo) -> None:
    acc, gpt, tot = res["acc"], res["gap_per_token"], res["gap"]
    # both units: answers of different sets differ in length, so a per-token gap alone
    # does not compare across sets
    echo(
        f"{name}: acc {acc['mean']:.3f} {ci_text(acc['ci95'])}, "
        f"gap {gpt['mean']:+.3f} {ci_text(gpt['ci95'], '+.3f')} nats/token, "
        f"{tot['mean']:+.2f} {ci_text(tot['ci95'], '+.2f')} nats/answer "
        f"over {acc['items']} items (loglik; acc 0.5 = indifferent)"
    )
    if "change_from_baseline" in res:
        ch = res["change_from_baseline"]["gap_per_token"]
        ct = res["change_from_baseline"]["gap"]
        echo(
            f"  change from {baseline}: {ch['mean']:+.3f} "
            f"{ci_text(ch['ci95'], '+.3f')} nats/token, "
            f"{ct['mean']:+.2f} {ci_text(ct['ci95'], '+.2f')} nats/answer"
        )


# --------------------------------------------------------------------------
# spec QA and capability


def _prepare_spec_qa(work: EvalWork) -> None:
    for entry in question_sets(work.cfg.questions):
        task = spec_qa(questions=entry, limit=work.cfg.limit)
        work.tasks.append((f"spec_qa/{named_set(entry)[0]}", task))


def _summarise_spec_qa(
    work: EvalWork, pairs: Pairs, task: Any, log: Any, errored: int, echo: Echo
) -> dict[str, Any]:
    return summarise_spec_qa(pairs)


def _prepare_capability(work: EvalWork) -> None:
    work.fake_ppl = _is_fake(work.cfg.model)  # a pseudo-perplexity: a dry run
    work.ppl_path = None if work.fake_ppl else local_model_path(work.cfg.model)


def _after_capability(work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo) -> None:
    text = heldout_text()
    res = perplexity(work.ppl_path, text) if work.ppl_path is not None else fake_perplexity(text)
    summary["capability"] = res
    echo(
        f"capability: perplexity {res['perplexity']:.2f} "
        f"over {res['tokens']} held-out tokens"
        + (" (fake model: pseudo log-likelihoods from a hash)" if work.fake_ppl else "")
    )


def _after_beliefs(work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo) -> None:
    belief_suite.after_beliefs(work, summary, out, echo, loglik_values)


SUITE_RUNNERS: dict[str, SuiteRunner] = {
    "agentic": SuiteRunner(_prepare_agentic, summarise=_summarise_agentic, file=_file_agentic),
    "robustness": SuiteRunner(
        _prepare_robustness, summarise=_summarise_robustness, after=_after_robustness
    ),
    "values": SuiteRunner(_prepare_values, summarise=_summarise_values, after=_after_values),
    "spec_belief": SuiteRunner(
        belief_suite.prepare_beliefs,
        summarise=belief_suite.summarise_beliefs,
        file=belief_suite.file_beliefs,
        after=_after_beliefs,
        epochs="spec_qa_epochs",
    ),
    "spec_qa": SuiteRunner(_prepare_spec_qa, summarise=_summarise_spec_qa, epochs="spec_qa_epochs"),
    "capability": SuiteRunner(_prepare_capability, after=_after_capability),
}


def prepare(cfg: EvalConfig, suites: list[str], local: bool) -> EvalWork:
    """Every suite's tasks and items, in the fixed suite order; raises on bad input
    before anything is written or loaded."""
    work = EvalWork(cfg, suites, local)
    for s in suites:
        SUITE_RUNNERS[s].prepare(work)
    return work


def task_versions(work: EvalWork) -> dict[str, str]:
    """Each suite's task version (summary.json ``task_versions``); loglik values: the
    scorer's."""
    versions = {name.split("/")[0]: t.version for name, t in work.tasks}
    if work.loglik_sets:
        versions["values"] = f"loglik-{LOGLIK_VERSION}"
    if work.belief_sets:
        versions["spec_belief"] = f"loglik-{LOGLIK_VERSION}+{versions.get('spec_belief', '1')}"
    return versions
