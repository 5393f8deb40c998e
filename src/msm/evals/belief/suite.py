"""The spec_belief suite's part of ``msm eval`` (its :class:`~msm.evals.suites.SuiteRunner`).

Per belief set: the statement against its altered version by option log-likelihood for
models that give them (local, ``vllm/``; msm scores them after Inspect, with the values
suite's scorer, rows in ``DIR/spec_belief/SET.jsonl``) or by letter choice in both orders
(API models), filed under ``summary["spec_belief"][SET]``; with a ``--grader``, also the
open and challenge versions graded 1-10 (``summary["spec_belief_open"][SET]``,
``summary["spec_belief_challenge"][SET]``). Without a grader those two are skipped with a
line saying so: the choice part needs no judge and still runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.evals.belief.items import BeliefItem, belief_sets
from msm.evals.belief.task import belief_items, spec_belief
from msm.evals.config import named_set, resolve_scoring
from msm.evals.loglik_remote import gives_logliks
from msm.evals.spec_qa import summarise_spec_qa
from msm.evals.stats import share_summary, t_summary
from msm.evals.values.task import summarise_values

# msm.evals.suites' types, named here without importing it (it imports this module)
EvalWork = Any  # msm.evals.suites.EvalWork
Echo = Callable[[str], None]
Pairs = list[tuple[dict[str, Any], Any]]

# the values suite's loglik pass: (config, sets, out folder, echo, rows folder) -> results
LoglikPass = Callable[[Any, dict[str, list[Any]], Path, Any, str], dict[str, Any]]
SUITE = "spec_belief"
JUDGED = ("open", "challenge")


def prepare_beliefs(work: EvalWork) -> None:
    """Every set's items read now (a bad file fails before any model loads); letter tasks
    or the loglik pass's items; the judged tasks when a grader is given."""
    cfg = work.cfg
    sets = {named_set(e)[0]: e for e in belief_sets(cfg.beliefs)}
    items = {n: belief_items(e, cfg.model_name, cfg.split, cfg.limit) for n, e in sets.items()}
    for n, its in items.items():
        if not its:
            raise MsmError(f"{SUITE}/{n}: no items to score (split {cfg.split})")
    kw = {"model_name": cfg.model_name, "split": cfg.split, "limit": cfg.limit}
    if resolve_scoring(cfg.scoring, lambda: gives_logliks(cfg.model)) == "letter":
        for n, e in sets.items():
            task = spec_belief(beliefs=e, mode="choice", max_tokens=1 if work.local else 8, **kw)
            work.tasks.append((f"{SUITE}/{n}", task))
    else:
        if not gives_logliks(cfg.model):
            raise MsmError(
                f"--scoring loglik needs a model that gives log-likelihoods (embedded, "
                f"hf/<folder>, a folder, or vllm/<model>), not {cfg.model!r}; use --scoring letter"
            )
        work.belief_sets = items
    if cfg.grader:
        for mode in JUDGED:
            for n, e in sets.items():
                work.tasks.append((f"{SUITE}/{mode}/{n}", spec_belief(beliefs=e, mode=mode, **kw)))


def summarise_beliefs(
    work: EvalWork, pairs: Pairs, task: Any, log: Any, errored: int, echo: Echo
) -> dict[str, Any]:
    """A choice task's result as the values suite's; a judged one's as spec QA's."""
    if (task.metadata or {}).get("mode") == "choice":
        return summarise_values(pairs)
    res = summarise_spec_qa(pairs)
    res["sample_errors"] = errored
    return res


def file_beliefs(
    work: EvalWork, summary: dict[str, Any], name: str, res: dict[str, Any], echo: Echo
) -> None:
    """``spec_belief/SET`` -> ``summary["spec_belief"][SET]``; ``spec_belief/open/SET`` ->
    ``summary["spec_belief_open"][SET]``."""
    parts = name.split("/")
    key = SUITE if len(parts) == 2 else f"{SUITE}_{parts[1]}"
    summary.setdefault(key, {})[parts[-1]] = res


def after_beliefs(
    work: EvalWork, summary: dict[str, Any], out: Path, echo: Echo, score: LoglikPass
) -> None:
    """The loglik pass (``score``: the values suite's ``loglik_values``, one pass over every
    set) and each set's result by item kind; a line when the judged versions were skipped."""
    if work.belief_sets:
        summary[f"{SUITE}_scoring"] = "loglik"
        sets = {n: [it.as_value_item() for it in its] for n, its in work.belief_sets.items()}
        results = score(work.cfg, sets, out, echo, SUITE)
        for n, res in results.items():
            res["by_kind"] = _by_kind(out / res["log"], work.belief_sets[n])
        summary[SUITE] = results
    else:
        summary[f"{SUITE}_scoring"] = "letter"
    summary[f"{SUITE}_judged"] = bool(work.cfg.grader)
    if not work.cfg.grader:
        echo(f"{SUITE}: open and challenge versions skipped (they need --grader MODEL)")


def _by_kind(rows_file: Path, items: list[BeliefItem]) -> dict[str, Any]:
    """acc and gap per token of each item kind (value_reversed, reason_swapped)."""
    kind = {it.id: it.kind for it in items}
    rows = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines()]
    out = {}
    for k in sorted({kind[r["id"]] for r in rows}):
        mine = [r for r in rows if kind[r["id"]] == k]
        out[k] = {
            "acc": share_summary([r["acc"] for r in mine]),
            "gap_per_token": t_summary([r["gap_per_token"] for r in mine], unit="nats/token"),
        }
    return out


def unscored_beliefs(summary: dict[str, Any]) -> list[str]:
    """A line for every belief set (any mode) that scored nothing."""
    problems = []
    for name, res in (summary.get(SUITE) or {}).items():
        vp = res.get("value_preference") or {}
        if not vp.get("items"):
            problems.append(f"{SUITE}/{name}: 0 items scored")
    for mode in JUDGED:
        for name, res in (summary.get(f"{SUITE}_{mode}") or {}).items():
            if not res["grade"]["answers"]:
                problems.append(
                    f"{SUITE}/{mode}/{name}: 0 of {res['samples']} answers scored "
                    f"({res['grader_errors']} grader replies had no parseable score)"
                )
    return problems
