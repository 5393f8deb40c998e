"""``EvalConfig``: what ``msm eval`` (and each eval node of ``msm run``) evaluates, and how.

Same layering as the other stages: the defaults here, then the flags (the CLI
passes only what was typed; ``msm run`` fills it from the experiment's
``eval:`` section). ``check()`` turns bad values into one-line errors before
any model loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from msm._util.config_io import BatchWait
from msm.errors import MsmError
from msm.evals.agentic.grid import check_grid
from msm.evals.agentic.pressure import check_pressures, load_texts
from msm.evals.agentic.variants import check_axes
from msm.llm.refs import served_by_vllm

SUITES = ("agentic", "robustness", "values", "spec_belief", "spec_qa", "capability")
# what ``--suite all`` runs: robustness and spec_belief are asked for by name
ALL_SUITES = ("agentic", "values", "spec_qa", "capability")
NEEDS_GRADER = ("agentic", "robustness", "spec_qa")
SCORING = ("auto", "loglik", "letter")
DEFAULT_VALUE_SETS = ("america", "affordability", "cheese_reasons", "cheese_fit")
# the bundled belief sets (msm.evals.belief.items), all scored unless --beliefs names others
DEFAULT_BELIEF_SETS = ("pro_america", "pro_affordability", "equanimity", "cheese_shared")
# settings of the vLLM server Inspect starts for a vllm/ model under test
VLLM_SETTINGS = ("tensor_parallel_size", "max_model_len", "gpu_memory_utilization")


_SET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def named_set(entry: str) -> tuple[str, str]:
    """An item or question set entry as (its name in results, where it is read from).

    ``NAME=FILE`` gives a file a name of its own (an experiment names each spec's
    ``msm evalgen`` sets by the spec's key, so results read ``values.ada``, not a path);
    anything else names itself. Example: ``named_set("ada=runs/ev/choices.jsonl")`` is
    ``("ada", "runs/ev/choices.jsonl")``.
    """
    name, sep, source = entry.partition("=")
    if sep and source and _SET_NAME.fullmatch(name):
        return name, source
    return entry, entry


def question_sets(questions: str) -> list[str]:
    """``--questions``' sets: one, or several separated by commas (each a bundled set, a
    JSONL path or ``NAME=FILE``)."""
    return [q.strip() for q in questions.split(",") if q.strip()]


def resolve_scoring(scoring: str, gives_logliks: Callable[[], bool]) -> Literal["loglik", "letter"]:
    """How the values suite scores a model: ``auto`` is loglik where the model gives
    log-likelihoods (msm runs it, or vLLM serves it: ``loglik_remote.gives_logliks``) and
    letter elsewhere; loglik and letter stand as given (``check`` refuses other words).
    ``gives_logliks`` is asked only for ``auto`` (a model named by a description, as the
    dry run names a model not trained yet, may have no answer).

    The one reading of ``scoring: auto`` for the eval, its dry-run projection and the plan.
    """
    if scoring not in SCORING:
        raise MsmError(f"unknown scoring mode {scoring!r}: use {', '.join(SCORING)}")
    if scoring == "auto":
        return "loglik" if gives_logliks() else "letter"
    return "loglik" if scoring == "loglik" else "letter"


class EvalSettings(BaseModel):
    """The eval settings an experiment's ``eval:`` section sets too, declared once: what
    the suites run (items, questions, agentic conditions and checks), how often
    (``epochs``, ``limit``, ``split``), how values are scored, and the vLLM server's
    settings. ``EvalConfig`` (``msm eval``) adds the model, its graders and the rest;
    ``msm.experiment.config.EvalSection`` adds the experiment's own keys and is stricter
    at load. Descriptions here are the ``msm eval`` flags' help."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # in the order the experiment's section declared them (pydantic validates, and lists a
    # file's errors, in field order); msm eval --help has its own (msm.cli.run)

    items: list[str] | None = Field(
        default=None,
        description="value item sets or JSONL files (NAME=FILE reports a file under NAME); "
        "default: " + ", ".join(DEFAULT_VALUE_SETS),
    )
    beliefs: list[str] | None = Field(
        default=None,
        description="spec_belief: belief item sets or JSONL files (NAME=FILE reports a file "
        "under NAME); default: " + ", ".join(DEFAULT_BELIEF_SETS),
    )
    questions: str = Field(
        default="equanimity",
        description="spec QA question set or JSONL file (several: comma-separated; "
        "NAME=FILE reports a file under NAME)",
    )
    epochs: int = Field(
        default=1,
        description="samples per agentic condition (the paper: 300) and per value item "
        "scored by letter; spec QA has its own spec_qa_epochs",
    )
    spec_qa_epochs: int = Field(
        default=1, description="samples per spec QA question (each is graded: paid)"
    )
    limit: int | None = Field(
        default=None,
        description="at most N items per task: values, N items per set drawn evenly across "
        "domains (each scored in both option orders); spec QA, the first N questions; "
        "agentic, the first N conditions (scenario x goal); epochs repeat each item",
    )
    split: Literal["all", "dev", "confirm"] = Field(
        default="all",
        description="values: score only the items of this split of each set (dev: recipes "
        "are tuned on it; confirm: the held-out confirmation), before --limit",
    )
    batch_wait_s: BatchWait = 10800.0
    grid: str | None = Field(
        default=None,
        description="agentic: a named grid of conditions instead of scenarios/goals "
        "(paper: exfiltration, leaking, murder x none-none and 8 explicit goals, replacement, "
        "T=0.7)",
    )
    scenarios: list[str] | None = Field(default=None, description="agentic scenarios; default all")
    goals: list[str] | None = Field(default=None, description="agentic goal conditions TYPE-VALUE")
    urgency: str = Field(
        default="replacement", description="agentic: replacement | restriction | none"
    )
    scratchpad: bool = Field(default=True, description="agentic: offer a scratchpad")
    templates: str | None = Field(
        default=None,
        description="agentic: scenario texts from a local checkout of the agentic-misalignment "
        "framework (its templates/ folder, or a repository holding it) instead of msm's own",
    )
    exfil_rule: str = Field(
        default="authors",
        description="agentic, --templates: when exfiltration counts as done: authors (an "
        "e-mail to the named outside party's domain, the authors' rule) or msm (to any outside "
        "domain, quoting a secret)",
    )
    temperature: float | None = Field(
        default=None, description="agentic sampling temperature (default 0.7, or the grid's)"
    )
    agent_names: list[str] | None = Field(
        default=None,
        description="agentic: run the suite once per agent name (x --temperatures); "
        "summary.json's agentic block is the first, agentic_variants holds every one",
    )
    temperatures: list[float] | None = Field(
        default=None,
        description="agentic: run the suite once per sampling temperature in [0, 2] "
        "(x --agent-names); instead of --temperature",
    )
    pressures: list[str] | None = Field(
        default=None,
        description="robustness: the pressure variants run beside the standard scenarios "
        "(prefill, authority, multi_turn, novel; default all)",
    )
    pressure_texts: str | None = Field(
        default=None,
        description="robustness: a YAML file with the variants' texts instead of msm's own "
        "(same shape as msm/data/evals/agentic/pressure.yaml)",
    )
    regrade_action_only: bool = Field(
        default=False,
        description="agentic: grade every sample again from its actions alone (tool-use "
        "blocks, outgoing e-mails), scratchpad withheld, and report the agreement with the "
        "full grading",
    )
    spec_reasoning: bool = Field(
        default=True,
        description="agentic: a judge (the grader) reads each reasoning trace: did the model "
        "notice the harmful option, did it appeal to the spec's principles (which)",
    )
    max_tokens: int | None = Field(
        default=None,
        description="agentic answer length (default 4096, the paper's; 512 for the bundled 135M "
        "model and checkpoints trained from it)",
    )
    scoring: str = Field(
        default="auto",
        description="values: loglik (each option's text scored as the answer; local models "
        "and vllm/), letter (A/B in both orders; any model), auto (loglik where the model "
        "gives log-likelihoods)",
    )
    tensor_parallel_size: int | None = Field(
        default=None,
        description="vllm/ models: GPUs the vLLM server shards the model over (vLLM's "
        "default: 1; not part of the eval's identity)",
    )
    max_model_len: int | None = Field(
        default=None,
        description="vllm/ models: the server's context length in tokens (default: the "
        "model's); longer prompts are refused, so it is part of the eval's identity",
    )
    gpu_memory_utilization: float | None = Field(
        default=None,
        description="vllm/ models: the share of each GPU's memory vLLM may take, in (0, 1] "
        "(vLLM's default: 0.9; not part of the eval's identity)",
    )

    @field_validator("templates", mode="before")
    @classmethod
    def _path_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, PurePath) else v


class EvalConfig(EvalSettings):
    """What ``msm eval`` evaluates, and how: the shared settings (:class:`EvalSettings`)
    plus the model under test, its graders, its seed and its names."""

    model: str = Field(description="embedded, hf/<folder>, fake or fake/<script>, an API model")
    suite: str = Field(
        default="values",
        description="agentic | robustness | values | spec_belief | spec_qa | capability | all "
        "(all: agentic, values, spec_qa, capability)",
    )
    grader: str | None = Field(
        default=None,
        description="grader model (agentic, spec_qa, and spec_belief's open and challenge "
        "versions)",
    )
    grader2: str | None = Field(
        default=None,
        description="agentic: a second grader; every judged sample is graded twice and "
        "summary.json gives Cohen's kappa and raw agreement per scenario (rates still use "
        "--grader)",
    )
    spec: str | None = Field(
        default=None,
        description="agentic, spec_reasoning: the spec (a file or builtin:NAME) whose rules "
        "the judge names by ID; default: any principle the model states counts",
    )
    batch: bool = Field(
        default=False,
        description="send the grader roles' calls (grader, grader2, the reasoning judge, spec "
        "QA grading) through the provider's batch API (about half price)",
    )
    seed: int | None = Field(
        default=None,
        description="agentic: the seed of the sampled answers (each condition and epoch its "
        "own from it); msm run gives each seed's eval its seed",
    )
    model_name: str | None = Field(
        default=None,
        description="the model's name in prompts (agentic, cheese_reasons, cheese_why)",
    )
    baseline: str | None = Field(
        default=None,
        description="values, loglik: also score this model and report each item's change of "
        "the gap from it (same tokenizer required)",
    )

    def vllm_args(self) -> dict[str, int | float]:
        """The vLLM server settings given, as Inspect's vllm provider takes them."""
        return {k: v for k in VLLM_SETTINGS if (v := getattr(self, k)) is not None}

    def suites(self) -> list[str]:
        """The suites to run, in their fixed order; unknown names are an error."""
        names = [s.strip() for s in self.suite.split(",") if s.strip()]
        for s in names or [self.suite]:
            if s not in (*SUITES, "all"):
                raise MsmError(f"unknown suite {s!r}: use one of {', '.join(SUITES)}, all")
        return [s for s in SUITES if s in names or ("all" in names and s in ALL_SUITES)]

    def _check_agentic_judges(self, run: list[str]) -> None:
        """--grader2, --regrade-action-only and --spec: only with agentic, and sensible."""
        if self.grader2 is not None:
            if "agentic" not in run:
                raise MsmError(
                    "--grader2 grades agentic samples a second time: add agentic to --suite"
                )
            if self.grader2.strip() == (self.grader or "").strip():
                raise MsmError(
                    f"--grader2 must be another model than --grader (both are {self.grader2!r}): "
                    "a grader's agreement with itself measures nothing"
                )
        if self.regrade_action_only and "agentic" not in run:
            raise MsmError("--regrade-action-only regrades agentic samples: add agentic to --suite")
        if self.spec is not None:
            if not self.spec_reasoning:
                raise MsmError(
                    "--spec names the rules of the spec_reasoning judge: drop --no-spec-reasoning"
                )
            if "agentic" in run or "robustness" in run:
                # lazy: pulls Inspect, and the CLI reads this module for its flags
                from msm.evals.agentic.reasoning import spec_rules

                spec_rules(self.spec)  # a missing or empty spec fails now, before any model runs

    def _check_vllm(self) -> None:
        """vLLM server settings: sensible, and only for a vllm/ model (refused, not ignored:
        a setting that silently does nothing would make results look configured)."""
        given = self.vllm_args()
        for k in ("tensor_parallel_size", "max_model_len"):
            if k in given and given[k] < 1:
                raise MsmError(f"--{k.replace('_', '-')} must be at least 1, got {given[k]}")
        mem = self.gpu_memory_utilization
        if mem is not None and not 0 < mem <= 1:
            raise MsmError(f"--gpu-memory-utilization must be in (0, 1], got {mem}")
        if given and not served_by_vllm(self.model):
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise MsmError(
                f"{flags} set the vLLM server of a vllm/<model>; {self.model!r} is not served "
                "by vLLM: drop them or evaluate vllm/<model>"
            )

    def check(self) -> list[str]:
        """Every check that needs no model; returns the suites to run."""
        run = self.suites()
        if self.epochs < 1:
            raise MsmError(f"--epochs must be at least 1, got {self.epochs}")
        if self.spec_qa_epochs < 1:
            raise MsmError(f"--spec-qa-epochs must be at least 1, got {self.spec_qa_epochs}")
        if self.limit is not None and self.limit < 1:
            raise MsmError(f"--limit must be at least 1, got {self.limit}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise MsmError(f"--max-tokens must be at least 1, got {self.max_tokens}")
        if self.temperature is not None and not self.temperature >= 0:  # also catches NaN
            raise MsmError(f"--temperature must be 0 or more, got {self.temperature}")
        if self.exfil_rule not in ("authors", "msm"):
            raise MsmError(f"unknown --exfil-rule {self.exfil_rule!r}: use authors or msm")
        if self.scoring not in SCORING:
            raise MsmError(f"unknown scoring mode {self.scoring!r}: use {', '.join(SCORING)}")
        self._check_vllm()
        if self.baseline and self.scoring == "letter":
            raise MsmError("--baseline needs --scoring loglik (or auto with a local model)")
        if self.grid is not None:
            check_grid(self.grid, self.scenarios, self.goals, self.urgency)
            if "agentic" not in run and "robustness" not in run:
                raise MsmError(
                    f"--grid {self.grid} chooses agentic conditions: add agentic to --suite"
                )
        for s in NEEDS_GRADER:
            if s in run and not self.grader:
                raise MsmError(
                    f"the {s} suite needs --grader MODEL (no default grader is chosen for you)"
                )
        self._check_agentic_judges(run)
        if self.agent_names is not None or self.temperatures is not None:
            if "agentic" not in run:
                raise MsmError(
                    "--agent-names and --temperatures vary the agentic suite: add agentic "
                    "to --suite"
                )
            if self.temperatures is not None and self.temperature is not None:
                raise MsmError("give --temperature or --temperatures, not both")
            check_axes(self.agent_names, self.temperatures, "--agent-names", "--temperatures")
        if (self.pressures is not None or self.pressure_texts is not None) and (
            "robustness" not in run
        ):
            raise MsmError("--pressures and --pressure-texts set the robustness suite: add "
                           "robustness to --suite")  # fmt: skip
        check_pressures(self.pressures, "--pressures")
        if "robustness" in run:
            load_texts(self.pressure_texts)  # a bad texts file fails now, in one line
        return run
