"""An experiment's settings as each stage's own config object, built in one place.

The plan builds every node's config here; ``load_experiment`` builds the same
objects to check the settings before anything runs. Fields that name another
node's output (a corpus file, an AFT subset, a trained model) are filled in by
the runner when that output exists: they are left empty here (see ``Input`` in
``msm.experiment.plan``).
"""

from __future__ import annotations

from typing import Any

from msm.aftgen.config import AftgenConfig
from msm.docgen.config import DocgenConfig
from msm.evalgen.config import EvalgenConfig
from msm.evals.agentic.pressure import load_texts
from msm.evals.agentic.templates import templates_sha
from msm.evals.config import (
    DEFAULT_BELIEF_SETS,
    DEFAULT_VALUE_SETS,
    VLLM_SETTINGS,
    EvalConfig,
    EvalSettings,
)
from msm.experiment.config import Experiment
from msm.llm.bundled import EMBEDDED_NAME
from msm.llm.refs import served_by_vllm
from msm.spec.builtin import PREFIX as BUILTIN_PREFIX
from msm.train.config import TrainConfig

UNBOUND = ""  # a field the runner fills from a dependency's output

# ``corpus.per_seed`` / ``aft.per_seed``: experiment seed k draws its corpus and AFT data with
# generation seed ``seed + SEED_STRIDE * k``. A stage adds each call's sample index (0, 1, ...)
# to its seed, so seeds this far apart never make two draws' calls the same call.
SEED_STRIDE = 100_000


def drawn_seed(base: int, seed: int) -> int:
    """The generation seed of the corpus or AFT data drawn for experiment seed ``seed``
    (``base``: the stage's own ``seed`` setting, or ``aft.subset_seed``)."""
    return base + SEED_STRIDE * seed


def names(exp: Experiment) -> dict[str, str | None]:
    return {"model_name": exp.model_name, "provider_name": exp.provider_name}


def docgen_fixed(exp: Experiment, spec: str, key: str | None = None) -> dict[str, Any]:
    """What the experiment sets itself; a corpus section may not set these again.

    ``key``: the spec's key in ``exp.specs`` (its ``literal_names`` entry applies).
    """
    literal = exp.literal_names.get(key) if key is not None else None
    return {"spec": spec, "model": exp.generator, **names(exp), "literal_name": literal}


def aftgen_fixed(exp: Experiment) -> dict[str, Any]:
    """``literal_name`` is the experiment's when ``aft.spec`` is a key of ``specs``; for a
    spec path, ``aft.config`` may set it."""
    assert exp.aft is not None
    fixed = {
        "spec": exp.specs.get(exp.aft.spec, exp.aft.spec),
        "kind": exp.aft.kind,
        "n": exp.aft.n,
        "model": exp.aft.generator or exp.generator,
        **names(exp),
    }
    if exp.aft.spec in exp.specs:
        fixed["literal_name"] = exp.literal_names.get(exp.aft.spec)
    return fixed


def evalgen_generator(exp: Experiment) -> str:
    return exp.evalgen.generator or exp.generator


def evalgen_fixed(exp: Experiment, key: str) -> dict[str, Any]:
    """What the experiment sets for spec ``key``'s evalgen node: the spec, its models and
    how many items of each kind its suites score (none of a kind no suite reads)."""
    ev, suites = exp.evalgen, set(exp.eval.suites)
    generator = evalgen_generator(exp)
    return {
        "spec": exp.specs[key],
        "model": generator,
        "judge": ev.judge or exp.grader or generator,
        "n_questions": ev.n_questions if "spec_qa" in suites else 0,
        "n_choices": ev.n_choices if "values" in suites else 0,
        "n_beliefs": ev.n_beliefs if "spec_belief" in suites else 0,
        **names(exp),
        "literal_name": exp.literal_names.get(key),
    }


def evalgen_config(exp: Experiment, key: str) -> EvalgenConfig:
    return EvalgenConfig.model_validate(
        {"batch": exp.batch, **exp.evalgen.config, **evalgen_fixed(exp, key)}
    )


def evalgen_keys(exp: Experiment, midtrained: list[str]) -> list[str]:
    """The midtrained specs that get an ``evalgen`` node (``evalgen.enabled``; auto: the
    specs not bundled, when a suite scores what evalgen writes and the generator is not
    the bundled model)."""
    enabled = exp.evalgen.enabled
    if enabled is False or not {"spec_qa", "values", "spec_belief"} & set(exp.eval.suites):
        return []
    fixed = evalgen_fixed(exp, midtrained[0]) if midtrained else {}
    if not fixed or not (fixed["n_questions"] or fixed["n_choices"] or fixed["n_beliefs"]):
        return []
    if enabled is True:
        return list(midtrained)
    if evalgen_generator(exp) == EMBEDDED_NAME:
        return []
    return [k for k in midtrained if not exp.specs[k].startswith(BUILTIN_PREFIX)]


def evalgen_off_warning(exp: Experiment, midtrained: list[str]) -> str | None:
    """Why ``evalgen: auto`` writes nothing for a study's own specs, when that is the
    bundled generator (one line for the dry run), else None."""
    if exp.evalgen.enabled != "auto" or evalgen_generator(exp) != EMBEDDED_NAME:
        return None
    own = [k for k in midtrained if not exp.specs[k].startswith(BUILTIN_PREFIX)]
    suites, named = set(exp.eval.suites), exp.eval.model_fields_set
    unnamed = ("spec_qa" in suites and "questions" not in named) or (
        "values" in suites and "items" not in named
    )
    if not own or not unnamed:  # every suite scores the sets the experiment names
        return None
    return (
        f"evalgen: the bundled generator cannot write evaluations (its items measure "
        f"nothing), so the specs {', '.join(own)} get none: set evalgen.generator to an "
        "API or served model (or evalgen.enabled: false to silence this)"
    )


# the bundled specs that bundled eval sets were written for
EQUANIMITY = "builtin:equanimity"
CHEESE = ("builtin:cheese_pro_america", "builtin:cheese_pro_affordability")


def static_sets(exp: Experiment) -> tuple[str, list[str]]:
    """The question and value item sets an eval scores beside the specs' own (evalgen's):
    those the experiment names, else the bundled ones written for a spec of the study
    (none for a study of its own specs only)."""
    ev, specs = exp.eval, set(exp.specs.values())
    named = ev.model_fields_set
    questions = ev.questions if "questions" in named else ("equanimity" if EQUANIMITY in specs
                                                           else "")  # fmt: skip
    if ev.items is not None:
        items = list(ev.items)
    else:
        items = list(DEFAULT_VALUE_SETS) if specs & set(CHEESE) else []
    return questions, items


def static_beliefs(exp: Experiment) -> list[str]:
    """The belief sets an eval scores beside the specs' own (evalgen's): those the
    experiment names, else the bundled ones when a spec of the study is bundled."""
    if exp.eval.beliefs is not None:
        return list(exp.eval.beliefs)
    specs = set(exp.specs.values())
    return list(DEFAULT_BELIEF_SETS) if specs & {*CHEESE, EQUANIMITY} else []


def train_fixed(stage: str, seed: int) -> dict[str, Any]:
    return {"stage": stage, "base": UNBOUND, "data": UNBOUND, "seed": seed}


def docgen_config(
    exp: Experiment, spec: str, key: str | None = None, draw: int | None = None
) -> DocgenConfig:
    """``draw``: the experiment seed this corpus is drawn for (``corpus.per_seed``); None:
    the one corpus every seed shares."""
    settings = {k: v for k, v in exp.corpus.items() if k not in ("per_seed", "sizes")}
    cfg = DocgenConfig.model_validate(
        {"batch": exp.batch, **settings, **docgen_fixed(exp, spec, key)}
    )
    return cfg if draw is None else cfg.model_copy(update={"seed": drawn_seed(cfg.seed, draw)})


def aftgen_config(exp: Experiment, draw: int | None = None) -> AftgenConfig:
    """``draw``: the experiment seed this AFT data is drawn for (``aft.per_seed``)."""
    assert exp.aft is not None
    cfg = AftgenConfig.model_validate({"batch": exp.batch, **exp.aft.config, **aftgen_fixed(exp)})
    return cfg if draw is None else cfg.model_copy(update={"seed": drawn_seed(cfg.seed, draw)})


def train_config(exp: Experiment, stage: str, seed: int, base: str | None = None) -> TrainConfig:
    """``base`` None: the base is a dependency's trained model (filled in by the runner)."""
    settings = exp.train.midtrain if stage == "midtrain" else exp.train.aft
    fixed = train_fixed(stage, seed)
    if base is not None:
        fixed["base"] = base
    return TrainConfig.model_validate({**settings, **fixed})


def agentic_texts(ev: Any) -> dict[str, Any]:
    """What an eval node's extra records of the scenario texts read from files (checked
    now: a missing or bad file fails the dry run too): a templates folder's fingerprint and
    how its exfiltration is graded; the robustness suite's pressure texts file."""
    out: dict[str, Any] = {}
    if ev.templates and "agentic" in ev.suites:
        out["agentic_templates"] = templates_sha(
            ev.templates, ev.scenarios, ev.goals, ev.urgency, ev.grid
        )
        out["exfil_rule"] = ev.exfil_rule
    if ev.pressure_texts and "robustness" in ev.suites:
        out["pressure_texts"] = load_texts(ev.pressure_texts).record()
    return out


def reasoning_spec(exp: Experiment, spec_key: str | None) -> str | None:
    """The spec whose rule IDs an eval node's reasoning judge names: an MSM node's own
    spec; for base and AFT-only nodes the experiment's first spec, so that their rates are
    read against the same rules as the MSM conditions they are compared with. None
    without specs, without the agentic suite or with ``eval.spec_reasoning: false``."""
    agentic = {"agentic", "robustness"} & set(exp.eval.suites)
    if not agentic or not exp.eval.spec_reasoning or not exp.specs:
        return None
    key = spec_key if spec_key in exp.specs else next(iter(exp.specs))
    return exp.specs[key]


# suites whose scores are the same on every run of the same model: log-likelihoods,
# perplexity, and letter choices read from the first token's log-probabilities
DETERMINISTIC_SUITES = frozenset({"values", "capability"})


def deterministic_eval(exp: Experiment) -> bool:
    """Whether an eval gives the same numbers on every run of the same model: then the base
    model is evaluated once and serves every seed (``msm.experiment.plan``)."""
    return set(exp.eval.suites) <= DETERMINISTIC_SUITES


def eval_config(
    exp: Experiment,
    model: str,
    baseline: str | None,
    spec: str | None = None,
    seed: int | None = None,
) -> EvalConfig:
    """``model`` UNBOUND: a trained model (filled in by the runner); ``spec``: the
    reasoning judge's spec (:func:`reasoning_spec`); ``seed``: the seed of sampled answers
    (None is seed 0)."""
    ev = exp.eval
    shared = {k: getattr(ev, k) for k in EvalSettings.model_fields}
    # the vLLM server settings reach the evals vLLM serves (every trained model with
    # engine vllm; the base model when it is served as vllm/ too)
    if not (ev.engine == "vllm" and (model == UNBOUND or served_by_vllm(model))):
        shared.update(dict.fromkeys(VLLM_SETTINGS))
    return EvalConfig(
        **shared,
        model=model,
        suite=",".join(ev.suites),
        grader=exp.grader,
        grader2=exp.grader2,
        spec=spec,
        seed=seed,
        batch=exp.batch if ev.batch is None else ev.batch,
        model_name=exp.model_name,
        baseline=baseline,
    )
