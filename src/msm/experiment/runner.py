"""``msm run``: execute an experiment's plan, skipping what is already done.

The plan comes from :mod:`msm.experiment.plan`; the nodes run through
:mod:`msm.experiment.schedule` (one at a time or side by side), each one by
:mod:`msm.experiment.execute`, with its state in the run folder
(:mod:`msm.experiment.node_state`). When every node is done the report is built.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json, atomic_write_text
from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError
from msm.experiment.claims import locked
from msm.experiment.config import Experiment
from msm.experiment.load import load_experiment
from msm.experiment.node_state import node_status, write_run_json
from msm.experiment.plan import Node, build_plan
from msm.experiment.preflight import check_inputs, environment_problems
from msm.experiment.progress import fmt_hms
from msm.experiment.projection.dryrun import report
from msm.experiment.projection.project import project
from msm.experiment.schedule import RunOptions, run_selected
from msm.experiment.spend import check_spend
from msm.report.build import build_report


def write_projection(run: Path, exp: Experiment, plan: list[Node]) -> None:
    """The dry run's projection of the whole plan, before anything is measured, beside
    run.json: the report compares each node's cost and time with it (the report never
    re-plans the experiment). Written once per experiment version: a resumed run keeps the
    projection made before its first node ran."""
    path = RunFolder(run).projection
    sha = exp.sha256()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("experiment_sha256") == sha:
            return
    except (OSError, ValueError, AttributeError):
        pass
    try:
        body: dict[str, Any] = {"nodes": project(exp, plan)["nodes"]}
    except (MsmError, OSError, ValueError, KeyError, TypeError) as e:  # say why, run anyway
        body = {"nodes": None, "why": " ".join(str(e).split())[:200]}
    atomic_write_json(path, {"experiment_sha256": sha, **body})


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """What a real :func:`run_experiment` did: the plan's size, how many nodes this call
    ran, and the report it built (None while nodes of the plan are left to other shards)."""

    run: Path
    nodes: int
    ran: int
    report_json: Path | None
    report_html: Path | None


@dataclass(frozen=True, slots=True)
class DryRunResult:
    """What :func:`dry_run_experiment` printed, as data: the plan's node ids,
    each node's status, the projection (``nodes``, ``totals``), what this machine lacks,
    and the per-seed lines."""

    plan: tuple[str, ...]
    statuses: dict[str, str]
    projection: dict[str, Any]
    problems: tuple[str, ...]
    per_seed: tuple[str, ...]


def dry_run_experiment(
    exp_path: str | Path,
    out: str | Path,
    *,
    echo: Any = print,
    options: RunOptions | None = None,
) -> DryRunResult:
    """Print the plan of the experiment into ``out`` with what it will cost (calls by role,
    tokens, dollars, disk, time), calling and writing nothing. It refuses whatever the real
    run would refuse."""
    exp, run, plan, _ = _checked(exp_path, out, options)
    return dry_run_report(exp, plan, run, echo)


def _checked(
    exp_path: str | Path, out: str | Path, options: RunOptions | None
) -> tuple[Experiment, Path, list[Node], list[Node]]:
    """The experiment, run folder, plan and the nodes ``options`` select, after the checks
    the real run and the dry run share."""
    exp = load_experiment(Path(exp_path))
    run = Path(out)
    plan = build_plan(exp)
    check_inputs(exp, plan, run)
    chosen = (options or RunOptions()).select(plan)  # a bad --only or --shard fails now
    return exp, run, plan, chosen


def run_experiment(
    exp_path: str | Path,
    out: str | Path,
    *,
    echo: Any = print,
    options: RunOptions | None = None,
    max_cost: float | None = None,
    yes: bool = False,
) -> ExperimentResult:
    """Run the experiment into ``out`` (:func:`dry_run_experiment` only prints its plan);
    ``options``: which nodes (``--only``, ``--shard``) and how many side by side
    (``--parallel``).

    A real run whose API calls would cost more than ``max_cost`` dollars (default $100,
    ``msm.experiment.spend``) stops before the first call unless ``yes``. Example::

        res = run_experiment("examples/experiments/cheese-demo.yaml", "runs/cheese")
        print(res.ran, "of", res.nodes, "nodes ran; report:", res.report_html)
    """
    exp_path = Path(exp_path)
    exp, run, plan, chosen = _checked(exp_path, out, options)
    options = options or RunOptions()
    problems = environment_problems(exp, plan)  # fail now, not after the corpora
    if problems:
        raise MsmError(problems[0])
    known = RunFolder(run).run_json.is_file()
    mine = {n.id for n in chosen}  # --only / --shard: what this process would pay for
    statuses = {
        n.id: (node_status(run, n) if known else "todo") if n.id in mine else "done" for n in plan
    }
    check_spend(exp, plan, run, statuses, max_cost, yes, echo)  # before anything is written
    run.mkdir(exist_ok=True)
    text = exp_path.read_text(encoding="utf-8")
    atomic_write_text(RunFolder(run).experiment, text)
    write_run_json(run, exp, exp_path, plan)
    write_projection(run, exp, plan)
    todo = [n for n in plan if node_status(run, n) != "done"]
    echo(
        f"msm run {exp.name}: {len(plan)} nodes, {len(plan) - len(todo)} already done, "
        f"{len(todo)} to run -> {run}"
    )
    kinds: dict[str, list[int]] = {}
    for n in plan:
        kinds.setdefault(n.kind, [0, 0])[0 if n in todo else 1] += 1
    echo(
        "plan: "
        + ", ".join(f"{k} {v[0] + v[1]} ({v[1]} done)" for k, v in kinds.items())
        + "  (msm run --dry-run lists every node)"
    )
    sel = run_selected(exp, exp_path, run, plan, chosen, echo, options)
    if sel.waiting:  # selected nodes that could not run: say which, exit non-zero
        raise MsmError(sel.waiting_line())
    left = [n for n in plan if node_status(run, n) != "done"]
    if left:  # --only or --shard: the rest of the plan is another process's
        echo(
            f"msm run: ran {len(sel.ran)} selected nodes; {len(left)} nodes of the plan are "
            f"not done yet (the report is built when they are; msm report {run} builds one "
            "from what is done)"
        )
        return ExperimentResult(run, len(plan), len(sel.ran), None, None)
    with locked(RunFolder(run).report_lock):  # the last shards may finish together
        rep = build_report(run)
    echo(f"msm run: finished in {fmt_hms(time.monotonic() - sel.t0)}; report -> {rep['html']}")
    for line in rep.get("headline", []):
        echo(f"  {line}")
    return ExperimentResult(run, len(plan), len(sel.ran), Path(rep["json"]), Path(rep["html"]))


def dry_run_report(exp: Experiment, plan: list[Node], run: Path, echo: Any) -> DryRunResult:
    """Print the plan with what it will cost: calls by role, tokens, dollars, disk, time."""
    statuses = {
        n.id: (node_status(run, n) if RunFolder(run).run_json.is_file() else "todo") for n in plan
    }
    rep = report(exp, plan, run, statuses, echo)
    return DryRunResult(
        plan=tuple(rep["plan"]),
        statuses=rep["statuses"],
        projection=rep["projection"],
        problems=tuple(rep["problems"]),
        per_seed=tuple(rep["per_seed"]),
    )
