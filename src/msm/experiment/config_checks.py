"""The checks an experiment file passes after its schema: specs readable, settings that
each stage accepts, models that resolve, batch mode where a provider has it, eval options
that fit the suites. Every problem found is reported at once (one line each, with its line
in the file), by :func:`check_experiment`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from msm._util.config_io import (
    line_of,
    problems_error,
    unknown_key_message,
    validation_problems,
)
from msm.aftgen.config import AftgenConfig
from msm.docgen.config import DocgenConfig
from msm.errors import MsmError
from msm.evalgen.config import EvalgenConfig
from msm.evals.agentic.grid import check_grid
from msm.evals.agentic.pressure import check_pressures, load_texts
from msm.evals.agentic.variants import check_axes
from msm.evals.config import question_sets
from msm.evals.values.items import load_value_items
from msm.experiment import stages
from msm.experiment.config import Experiment
from msm.llm.batch import check_batch_provider
from msm.llm.names import resolve_model
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import check_placeholders, load_spec
from msm.train.config import TrainConfig

# the sections the schema leaves open, each checked against its stage's own settings
STAGE_SECTIONS: tuple[tuple[tuple[str, ...], type[BaseModel]], ...] = (
    (("corpus",), DocgenConfig),  # and per_seed, the experiment's own (EXPERIMENT_KEYS)
    (("aft", "config"), AftgenConfig),
    (("evalgen", "config"), EvalgenConfig),
    (("train", "midtrain"), TrainConfig),
    (("train", "aft"), TrainConfig),
)
# keys of those sections read by the experiment itself, not by the stage
EXPERIMENT_KEYS: dict[tuple[str, ...], set[str]] = {("corpus",): {"per_seed", "sizes"}}


def check_experiment(
    exp: Experiment, where: Path, lines: dict[tuple[Any, ...], int] | None = None
) -> None:
    """Every check below, and every problem they find in one error (a header and one line
    each, with its line in the file where ``lines`` has it): the specs first (the stage
    settings are built from them), then the stage settings, models and evals."""
    lines = lines or {}
    problems: list[str] = []
    settings_bad = False
    for check in (_check_specs, _check_models, _check_eval):
        try:
            check(exp, where)
        except MsmError as e:
            problems.append(_located(str(e), where, lines))
        except ValidationError:  # a stage's settings, built again: already reported
            if not settings_bad:
                raise
        if check is _check_specs and not problems:
            found = _settings_problems(exp, where, lines)
            settings_bad = bool(found)
            problems += found
    if problems:
        raise problems_error(str(where), problems)


def _located(message: str, where: Path, lines: dict[tuple[Any, ...], int]) -> str:
    """``message`` without the file's name in front, with the line of the setting it
    starts with (``specs.ada: ...`` -> ``... (line 4)``)."""
    text = message.removeprefix(f"{where}: ")
    m = re.match(r"([A-Za-z_][\w.]*):", text)
    line = line_of(lines, tuple(m.group(1).split("."))) if m else None
    return text + (f" (line {line})" if line else "")


def stage_key_problems(data: dict[str, Any], lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Unknown keys in the stage sections of a raw experiment mapping (with did-you-mean
    and line), for a file whose schema already failed: every section's typos in one run."""
    out = []
    for path, model in STAGE_SECTIONS:
        section: Any = data
        for part in path:
            section = section.get(part) if isinstance(section, dict) else None
        if not isinstance(section, dict):
            continue
        prefix = "".join(f"{x}." for x in path)
        for key in section:
            if str(key) not in model.model_fields and key not in EXPERIMENT_KEYS.get(path, ()):
                line = line_of(lines, (*path, key))
                msg = unknown_key_message(str(key), model.model_fields, prefix)
                out.append(msg + (f" (line {line})" if line else ""))
    return out


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long for the file system
        return False


def _check_specs(exp: Experiment, where: Path) -> None:
    for key, spec in exp.specs.items():
        try:
            resolved = resolve_spec_path(spec)
        except MsmError as e:
            raise MsmError(f"{where}: specs.{key}: {e}") from None
        if not _is_file(Path(resolved)):
            raise MsmError(f"{where}: specs.{key}: spec file not found: {spec}")
        try:  # a literal name must really be in the spec; some model name must be known
            loaded = load_spec(
                resolved,
                exp.model_name,
                literal_name=exp.literal_names.get(key),
                name_required=True,
            )
        except MsmError as e:
            field = "literal_names" if key in exp.literal_names else "specs"
            raise MsmError(f"{where}: {field}.{key}: {e}") from None
        try:  # a typo of {model_name} stops the run (and the dry run), which lists warnings
            check_placeholders(loaded, warn=False)
        except MsmError as e:
            raise MsmError(f"{where}: specs.{key}: {e}") from None
    if exp.aft is not None and exp.aft.spec not in exp.specs:
        try:
            resolved = resolve_spec_path(exp.aft.spec)
        except MsmError as e:
            raise MsmError(f"{where}: aft.spec: {e}") from None
        if not _is_file(Path(resolved)):
            raise MsmError(
                f"{where}: aft.spec: {exp.aft.spec!r} is neither a key of specs nor a spec file"
            )


def _settings_problems(
    exp: Experiment, where: Path, lines: dict[tuple[Any, ...], int]
) -> list[str]:
    """Build every stage's config now, as the plan will: bad settings fail before anything
    runs. One line per problem, every section's."""

    first = key = next(iter(exp.specs), None)  # ``key`` is reused below: ``first`` stays
    spec = exp.specs[key] if key is not None else "builtin:general"
    # what the experiment sets itself: a stage's settings may not set these again
    checks: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = [
        (
            "corpus",
            exp.corpus,
            stages.docgen_fixed(exp, spec, first),
            lambda: stages.docgen_config(exp, spec, first),
        )
    ]
    if exp.aft is not None:
        checks.append(
            (
                "aft.config",
                exp.aft.config,
                stages.aftgen_fixed(exp),
                lambda: stages.aftgen_config(exp),
            )
        )
    if first is not None:
        checks.append(
            (
                "evalgen.config",
                exp.evalgen.config,
                stages.evalgen_fixed(exp, first),
                lambda: stages.evalgen_config(exp, first),
            )
        )
    for stage in ("midtrain", "aft"):
        checks.append(
            (
                f"train.{stage}",
                getattr(exp.train, stage),
                stages.train_fixed(stage, 0),
                lambda stage=stage: stages.train_config(exp, stage, 0, base=exp.base_model),
            )
        )
    problems: list[str] = []
    for section, settings, fixed, build in checks:
        path = tuple(section.split("."))
        fixed_here = [key for key in settings if key in fixed]
        for key in fixed_here:
            line = line_of(lines, (*path, key))
            problems.append(
                f"{section}.{key}: set by the experiment, not here"
                + (f" (line {line})" if line else "")
            )
        if fixed_here:
            continue
        try:
            build()
        except ValidationError as e:
            model = dict(STAGE_SECTIONS)[path]
            problems += validation_problems(e, model, lines=lines, base=path, prefix=section + ".")
        except MsmError as e:
            problems.append(_located(str(e), where, lines))
    return problems


def _check_models(exp: Experiment, where: Path) -> None:
    """Model names must be ones msm knows (keys and servers are checked when used)."""
    names = {"generator": exp.generator, "grader": exp.grader, "grader2": exp.grader2}
    if exp.aft is not None:
        names["aft.generator"] = exp.aft.generator
    names["evalgen.generator"] = exp.evalgen.generator
    names["evalgen.judge"] = exp.evalgen.judge
    for field, name in names.items():
        if name is None:
            continue
        try:
            resolve_model(name, check=False)
        except MsmError as e:
            raise MsmError(f"{where}: {field}: {e}") from None
    _check_batch(exp, where)


def _check_batch(exp: Experiment, where: Path) -> None:
    """A role sent through a batch API must be a model whose provider has one: refused here,
    before anything runs (the dry run too), not when its stage starts."""

    key = next(iter(exp.specs), None)
    spec = exp.specs[key] if key is not None else "builtin:general"
    roles: list[tuple[str, bool, str | None]] = []
    if any(c.startswith("msm") for c in exp.conditions):
        d = stages.docgen_config(exp, spec, key)
        roles += [("corpus generator", d.batch, d.model), ("corpus judge", d.batch, d.judge)]
    if exp.aft is not None and exp.aft.kind == "chat":
        a = stages.aftgen_config(exp)
        roles += [("aft generator", a.batch, a.model), ("aft judge", a.batch, a.judge)]
    graded = {"agentic", "robustness", "spec_qa"} & set(exp.eval.suites)
    batch_eval = exp.batch if exp.eval.batch is None else exp.eval.batch
    if graded:
        roles += [("grader", batch_eval, exp.grader), ("grader2", batch_eval, exp.grader2)]
    for role, on, model in roles:
        if on and model:
            try:
                check_batch_provider(model, role)
            except MsmError as e:
                raise MsmError(f"{where}: {e}") from None


def _check_eval(exp: Experiment, where: Path) -> None:
    """Item sets, questions and agentic conditions: found and valid before anything runs."""
    ev = exp.eval
    _check_agentic_options(exp, where)
    try:
        if "values" in ev.suites:
            for name in ev.items or []:
                load_value_items(name)
        if "spec_qa" in ev.suites:
            from msm.evals.spec_qa import load_questions  # lazy: pulls Inspect

            for entry in question_sets(ev.questions):
                load_questions(entry)
        if {"agentic", "robustness"} & set(ev.suites):
            # lazy: pulls Inspect, which an experiment without the agentic suite never needs
            from msm.evals.agentic.task import DEFAULT_GOALS, SCENARIOS, conditions

            if ev.grid is not None:
                check_grid(ev.grid, ev.scenarios, ev.goals, ev.urgency)
            else:
                conditions(
                    ev.scenarios or list(SCENARIOS), ev.goals or list(DEFAULT_GOALS), ev.urgency
                )
    except MsmError as e:
        raise MsmError(f"{where}: eval: {e}") from None


def _check_agentic_options(exp: Experiment, where: Path) -> None:
    """The robustness axes and the grader checks: only with the agentic suite, and sane."""
    ev = exp.eval
    agentic = "agentic" in ev.suites
    set_here = [
        name
        for name, on in (
            ("eval.agent_names", ev.agent_names is not None),
            ("eval.temperatures", ev.temperatures is not None),
            ("eval.regrade_action_only", ev.regrade_action_only),
            ("grader2", exp.grader2 is not None),
        )
        if on
    ]
    if set_here and not agentic:
        raise MsmError(f"{where}: {set_here[0]} needs the agentic suite in eval.suites")
    if "robustness" not in ev.suites:
        for name, on in (("eval.pressures", ev.pressures is not None),
                         ("eval.pressure_texts", ev.pressure_texts is not None)):  # fmt: skip
            if on:
                raise MsmError(f"{where}: {name} needs the robustness suite in eval.suites")
    try:
        check_pressures(ev.pressures, "eval.pressures")
        if "robustness" in ev.suites:
            load_texts(ev.pressure_texts)
    except MsmError as e:
        raise MsmError(f"{where}: {e}") from None
    if ev.temperatures is not None and ev.temperature is not None:
        raise MsmError(f"{where}: give eval.temperature or eval.temperatures, not both")
    if exp.grader2 is not None and exp.grader2.strip() == (exp.grader or "").strip():
        raise MsmError(
            f"{where}: grader2 must be another model than grader (both are {exp.grader2!r})"
        )
    try:
        check_axes(ev.agent_names, ev.temperatures, "eval.agent_names", "eval.temperatures")
    except MsmError as e:
        raise MsmError(f"{where}: {e}") from None
