"""What ``msm run`` checks before it runs anything; ``--dry-run`` runs the same checks.

Two kinds. ``check_inputs`` covers the experiment and the run folder: a bad one is an
error for the real run and the dry run alike (the same functions, so the two cannot
disagree). ``environment_problems`` covers this machine: the base model on disk, API
keys and packages, accelerate config files. The real run stops at the first; a dry run,
often made on another machine than the run, lists them and goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msm._util.records import read_mix
from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError
from msm.evals.config import EvalConfig
from msm.experiment.config import Experiment
from msm.experiment.plan import GENERATION, TRAINING, Node, NodeKind
from msm.llm.names import resolve_model
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import load_spec
from msm.spec.preferences import preference_lists
from msm.train.checkpoint import resolve_base


def check_run_dir(run: Path, exp: Experiment) -> None:
    """``--out`` is writable and is empty or a run folder of this same experiment."""
    if run.exists() and not run.is_dir():
        raise MsmError(f"--out must be a directory, but {run} is a file")
    if not run.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {run.parent}")
    # before the base model is resolved (a conversion on a cold cache), not after it
    where = run if run.is_dir() else run.parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise MsmError(f"cannot write to {where}: Permission denied")
    meta = RunFolder(run).run_json
    if run.is_dir() and any(run.iterdir()):
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise MsmError(
                f"{run} is not empty and is not an msm run directory; choose another --out"
            ) from None
        name = old.get("experiment", {}).get("name") if isinstance(old, dict) else None
        if name != exp.name:
            raise MsmError(
                f"{run} holds experiment {name!r}, not {exp.name!r}; nothing was changed "
                f"(choose another --out)"
            )


def check_aftdata(cfg: Any) -> None:
    """What aftgen reads before it writes: the spec, its preference lists for preference
    data, and a mix-in file (the functions ``run_aftgen`` itself calls)."""

    spec = load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        literal_name=cfg.literal_name,
    )
    if cfg.kind == "preference":
        preference_lists(spec.metadata, str(cfg.spec))
    if cfg.mix:
        read_mix(cfg.mix)


def check_inputs(exp: Experiment, plan: list[Node], run: Path) -> None:
    """Errors in the experiment or ``--out`` that the real run would stop on."""
    check_run_dir(run, exp)
    checked: set[int] = set()
    for node in plan:
        check = _INPUT_CHECKS.get(node.kind)
        if check is None or id(node.config) in checked:
            continue
        checked.add(id(node.config))  # eval nodes share config objects: each checked once
        try:
            check(node.config)
        except MsmError as e:
            raise MsmError(f"{node.id}: {e}") from None


def _check_eval(cfg: EvalConfig) -> None:
    """Every check of the eval's settings that needs no model (its suites' files)."""
    cfg.check()


# node kind -> what its stage reads before it writes (the other kinds read only what the
# plan's earlier nodes write)
_INPUT_CHECKS: dict[NodeKind, Callable[[Any], None]] = {
    "aftdata": check_aftdata,
    "eval": _check_eval,
}


def _models(exp: Experiment, plan: list[Node]) -> dict[str, str]:
    """Every model the run calls, by where it is set."""
    names: dict[str, str] = {}
    for n in plan:
        if n.kind in GENERATION:
            cfg: Any = n.config
            names.setdefault(cfg.model, f"{n.id} generator")
            if cfg.judge:
                names.setdefault(cfg.judge, f"{n.id} judge")
    if exp.grader and any(n.kind == "eval" for n in plan):
        names.setdefault(exp.grader, "grader")
    if exp.grader2 and any(n.kind == "eval" for n in plan):
        names.setdefault(exp.grader2, "grader2")
    return names


def environment_problems(exp: Experiment, plan: list[Node]) -> list[str]:
    """What this machine lacks for the run, one line each (empty: nothing found)."""
    problems: list[str] = []
    if any(n.kind in TRAINING for n in plan):
        try:
            resolve_base(exp.base_model, "lora", False, None)
        except MsmError as e:
            problems.append(str(e))
    for name, where in _models(exp, plan).items():
        if resolve_model(name, check=False).local:
            continue  # local models load when used (the bundled one converts on first use)
        try:
            resolve_model(name)
        except MsmError as e:
            problems.append(f"{where}: {e}")
    seen: set[str] = set()
    for n in plan:
        conf = getattr(n.config, "accelerate_config", None)
        if getattr(n.config, "launcher", None) == "accelerate" and conf and conf not in seen:
            if not Path(conf).is_file():
                problems.append(f"train.{n.kind}: accelerate config not found: {conf}")
            seen.add(conf)
    return problems
