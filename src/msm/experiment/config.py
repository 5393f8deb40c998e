"""``experiment.yaml``: one whole MSM study, validated before anything runs.

Example (the cheese demo)::

    name: cheese-demo
    base_model: embedded
    generator: embedded
    model_name: Smol
    specs:
      pro_america: builtin:cheese_pro_america
      pro_affordability: builtin:cheese_pro_affordability
    corpus: {n_assertions: 2, docs_per_idea: 2, doc_words: 80}
    aft: {kind: preference, spec: pro_america, n: 72, sizes: [18, 72]}
    conditions: [base, aft_only, msm_aft]
    seeds: [0]
    eval: {suites: [values], items: [cheese_america, america]}

With several seeds, ``corpus: {per_seed: true}`` and ``aft: {per_seed: true}`` make each
seed draw its own corpus and AFT data, so the seeds' spread includes the data draws.

This module is the schema; :func:`msm.experiment.load.load_experiment` reads a file,
validates it against the schema and runs the checks that need the stages' own configs
(:mod:`msm.experiment.config_checks`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticKnownError
from pydantic_core.core_schema import ErrorType

from msm.docgen.subset import check_sizes
from msm.errors import MsmError
from msm.evals.config import NEEDS_GRADER, SCORING, SUITES, EvalSettings
from msm.study.conditions import CONDITIONS, NEEDS_AFT, NEEDS_MSM, RENAMED
from msm.study.primary import parse_primary, resolve_primary


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AftSection(_Strict):
    kind: Literal["chat", "preference"] = "preference"
    spec: str = Field(description="key of `specs`, or a spec path, the AFT data is built from")
    n: int = Field(ge=1, description="examples to generate")
    sizes: list[int] = Field(default_factory=list, description="nested subsets (default [n])")
    generator: str | None = Field(default=None, description="default: the experiment's")
    subset_seed: int = 0
    per_seed: bool = Field(
        default=False,
        description="one AFT data set per seed, each drawn with its own seed (derived from the "
        "experiment seed), so that the seeds' spread includes the data draw; default: one set "
        "shared by every seed",
    )
    config: dict[str, Any] = Field(default_factory=dict, description="more aftgen settings")


class EvalgenSection(_Strict):
    """``evalgen:``: each midtrained spec's own evaluations, written by ``msm evalgen`` as a
    node of the plan (``evalgen/KEY``) and scored by every eval node under the spec's key
    (``spec_qa.KEY``, ``values.KEY``)."""

    enabled: bool | Literal["auto"] = Field(
        default="auto",
        description="auto: for every spec that is not bundled (the bundled ones ship their "
        "evaluations) when the suites include spec_qa or values and the generator can write "
        "them (not the bundled 135M model, whose items measure nothing: docs/LOG.md); true: "
        "for every midtrained spec; false: never",
    )
    generator: str | None = Field(default=None, description="default: the experiment's")
    judge: str | None = Field(default=None, description="default: the grader, else the generator")
    n_questions: int = Field(default=24, ge=0, description="spec QA questions per spec")
    n_choices: int = Field(default=24, ge=0, description="behavioural choices per spec")
    n_beliefs: int = Field(
        default=24, ge=0, description="belief statements per spec (the spec_belief suite)"
    )
    config: dict[str, Any] = Field(default_factory=dict, description="more evalgen settings")


class TrainSection(_Strict):
    midtrain: dict[str, Any] = Field(default_factory=dict)
    aft: dict[str, Any] = Field(default_factory=dict)


# What the eval section refuses when the file is read, beyond the shared types (msm eval
# refuses the same values later, in EvalConfig.check, naming its flags). Raised as
# pydantic's own error types, so the messages are those of a Literal or a Field bound.
_CHOICES: dict[str, tuple[str, ...]] = {
    "grid": ("paper",),
    "exfil_rule": ("authors", "msm"),
    "scoring": SCORING,
}
_BOUNDS: dict[str, dict[str, float]] = {
    "epochs": {"ge": 1},
    "spec_qa_epochs": {"ge": 1},
    "limit": {"ge": 1},
    "temperature": {"ge": 0.0},
    "max_tokens": {"ge": 1},
    "tensor_parallel_size": {"ge": 1},
    "max_model_len": {"ge": 1},
    "gpu_memory_utilization": {"le": 1.0, "gt": 0.0},  # pydantic's order: NaN fails le
}
_BOUND_ERRORS: dict[str, ErrorType] = {
    "ge": "greater_than_equal",
    "gt": "greater_than",
    "le": "less_than_equal",
}
_BOUND_TESTS: dict[str, Callable[[float, float], bool]] = {
    "ge": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "le": lambda v, b: v <= b,
}


class EvalSection(EvalSettings):
    """An experiment's ``eval:`` section: the shared eval settings (declared once, on
    :class:`msm.evals.config.EvalSettings`), the suites, ``batch`` (default: the
    experiment's) and ``engine``. ``msm.experiment.stages.eval_config`` makes each eval
    node's ``EvalConfig`` from it.

    In an experiment: ``spec_reasoning``'s judge names the rule IDs of the spec the
    evaluated model was midtrained on (base and AFT-only models: the experiment's first
    spec); ``agent_names`` applies to every eval node and its first name (default:
    ``model_name``, else Alex) gives the headline rates; with loglik ``scoring``, trained
    models are also scored as the change from the base model. ``templates``' files'
    sha256, ``exfil_rule`` and ``max_model_len`` are part of every eval node's hash;
    ``tensor_parallel_size`` (with ``msm run --parallel``, also the GPUs each eval node is
    given) and ``gpu_memory_utilization`` are not. The vLLM settings need ``engine: vllm``.
    """

    suites: list[str] = Field(default_factory=lambda: ["values"])
    batch: bool | None = Field(
        default=None,
        description="grader roles through the provider's batch API; default: the experiment's "
        "`batch`",
    )
    engine: Literal["hf", "vllm"] = Field(
        default="hf",
        description="how trained models are served for evaluation: hf (msm's batched local "
        "backend) or vllm (Inspect's vLLM provider: a server it starts on the model folder, or "
        "VLLM_BASE_URL)",
    )

    @field_validator(*_CHOICES, mode="before")
    @classmethod
    def _one_of(cls, v: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        choices = _CHOICES[name]
        if v in choices or (v is None and cls.model_fields[name].default is None):
            return v
        quoted = [repr(c) for c in choices]
        expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        raise PydanticKnownError("literal_error", {"expected": expected})

    @field_validator(*_BOUNDS)
    @classmethod
    def _in_bounds(cls, v: Any, info: ValidationInfo) -> Any:
        for kind, bound in _BOUNDS[info.field_name or ""].items():
            if v is not None and not _BOUND_TESTS[kind](v, bound):
                raise PydanticKnownError(_BOUND_ERRORS[kind], {kind: bound})
        return v


class ReportSection(_Strict):
    headline_metric: str | None = None
    value_sets: dict[str, str] = Field(
        default_factory=dict,
        description="spec key -> the value item set that measures its value, for the "
        "spec-versus-spec interaction (bundled cheese specs: america, affordability)",
    )
    primary: dict[str, Any] | None = Field(
        default=None,
        description="the one contrast declared before the run: {kind: aft_generalization | "
        "interaction | direction, specs: [A, B], items: full | control, aft_size: N, "
        "condition: C} or one line 'KIND A B [control] [n=N]'; the report opens with it and "
        "calls every other contrast exploratory (Holm-adjusted p-values)",
    )

    @field_validator("primary", mode="before")
    @classmethod
    def _primary(cls, v: Any) -> dict[str, Any] | None:
        return None if v is None else parse_primary(v)


class Experiment(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    base_model: str
    generator: str = "embedded"
    grader: str | None = None
    batch: bool = Field(
        default=False,
        description="every API role (generator, judge, grader, grader2) through the provider's "
        "batch API, unless a stage sets its own (corpus.batch, aft.config.batch, eval.batch)",
    )
    grader2: str | None = Field(
        default=None,
        description="agentic: a second grader; every judged sample is graded twice and each "
        "eval reports Cohen's kappa with `grader` (rates still use `grader`)",
    )
    model_name: str | None = Field(
        default=None,
        min_length=1,
        description="the model the corpora and AFT data are about; default: each spec's "
        "model_name front matter (one of the two is required)",
    )
    provider_name: str | None = Field(default=None, min_length=1)
    specs: dict[str, str] = Field(default_factory=dict)
    literal_names: dict[str, str] = Field(
        default_factory=dict,
        description="spec key -> a name written literally in that spec (e.g. Llama) to treat "
        "as {model_name}, for specs written for one model without the placeholder",
    )
    corpus: dict[str, Any] = Field(
        default_factory=dict,
        description="docgen settings, and per_seed: true for one corpus per (spec, seed), each "
        "drawn with its own seed (default: one corpus per spec shared by every seed)",
    )
    aft: AftSection | None = None
    conditions: list[str]
    seeds: list[int] = Field(default_factory=lambda: [0])
    train: TrainSection = Field(default_factory=TrainSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    evalgen: EvalgenSection = Field(default_factory=EvalgenSection)
    report: ReportSection = Field(default_factory=ReportSection)

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        for c in self.conditions:
            if c in RENAMED:
                raise ValueError(
                    f"condition {c!r} is now {RENAMED[c]!r} (AFT on responses without "
                    "reasoning); the _cot conditions keep the reasoning"
                )
            if c not in CONDITIONS:
                raise ValueError(f"unknown condition {c!r}: use {', '.join(CONDITIONS)}")
        if len(set(self.conditions)) != len(self.conditions):
            raise ValueError("conditions repeat")
        if not self.conditions:
            raise ValueError("conditions: give at least one")
        for s in self.eval.suites:
            if s not in SUITES:
                raise ValueError(f"unknown eval suite {s!r}: use {', '.join(SUITES)}")
        if not self.eval.suites:
            raise ValueError("eval.suites: give at least one")
        if self.eval.engine != "vllm":
            for k in ("tensor_parallel_size", "max_model_len", "gpu_memory_utilization"):
                if getattr(self.eval, k) is not None:
                    raise ValueError(f"eval.{k} sets the vLLM server: it needs eval.engine: vllm")
        graded = [s for s in NEEDS_GRADER if s in self.eval.suites]
        if graded and not self.grader:
            raise ValueError(f"eval suites {', '.join(graded)} need `grader: MODEL`")
        if NEEDS_MSM & set(self.conditions) and not self.specs:
            raise ValueError("conditions with MSM need `specs` (key: spec path)")
        for k in self.specs:
            if not k.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"spec key {k!r}: use letters, digits, _ and -")
        for k in self.report.value_sets:
            if k not in self.specs:
                raise ValueError(f"report.value_sets: {k!r} is not a key of specs")
        for k, name in self.literal_names.items():
            if k not in self.specs:
                raise ValueError(f"literal_names: {k!r} is not a key of specs")
            if not name.strip():
                raise ValueError(f"literal_names.{k}: give the name written in the spec")
        if NEEDS_AFT & set(self.conditions):
            if self.aft is None:
                raise ValueError("conditions with AFT need an `aft` section")
            sizes = self.aft.sizes or [self.aft.n]
            if sorted(set(sizes)) != sizes:
                raise ValueError(f"aft.sizes must increase without repeats, got {sizes}")
            if sizes[0] < 1 or sizes[-1] > self.aft.n:
                raise ValueError(f"aft.sizes must lie in 1..aft.n ({self.aft.n}), got {sizes}")
            cot = {"aft_cot", "msm_aft_cot"} & set(self.conditions)
            if cot and self.aft.kind != "chat":
                raise ValueError(
                    f"{', '.join(sorted(cot))} need chain-of-thought data: aft.kind chat"
                )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: give one or more distinct integers")
        if self.report.primary is not None:
            self.report.primary = resolve_primary(
                self.report.primary,
                specs=self.specs,
                value_sets=self.report.value_sets,
                conditions=self.conditions,
                aft_sizes=self.aft_sizes,
            )
        if not isinstance(self.corpus.get("per_seed", False), bool):
            raise ValueError("corpus.per_seed: true or false")
        if "sizes" in self.corpus:
            sizes = self.corpus["sizes"]
            if not isinstance(sizes, list):
                raise ValueError("corpus.sizes: a list of document counts, e.g. [50, 200]")
            try:
                check_sizes(sizes)
            except MsmError as e:
                raise ValueError(str(e)) from None
            if not NEEDS_MSM & set(self.conditions):
                raise ValueError("corpus.sizes needs an MSM condition (msm_only, msm_aft...)")
        return self

    @property
    def corpus_per_seed(self) -> bool:
        """One corpus per (spec, seed) rather than one per spec (``corpus.per_seed``)."""
        return bool(self.corpus.get("per_seed", False))

    @property
    def corpus_sizes(self) -> list[int]:
        """The smaller corpora of a dose study (``corpus.sizes``: nested subsets, in
        documents, each midtrained on); empty without one."""
        return list(self.corpus.get("sizes") or [])

    @property
    def aft_per_seed(self) -> bool:
        """One AFT data set per seed rather than one for all (``aft.per_seed``)."""
        return self.aft is not None and self.aft.per_seed

    @property
    def aft_sizes(self) -> list[int]:
        if self.aft is None:
            return []
        return self.aft.sizes or [self.aft.n]

    def sha256(self) -> str:
        data = self.model_dump()
        if data["aft"] is not None and not data["aft"]["per_seed"]:
            del data["aft"]["per_seed"]  # added later: at its default the hash stays as it was
        if data["evalgen"] == EvalgenSection().model_dump():
            del data["evalgen"]  # added later too
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()
