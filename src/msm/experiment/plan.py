"""The plan of an experiment: a graph of stage nodes that share artifacts.

One corpus per spec, one AFT data set (with nested subsets) shared by every
condition (with ``corpus.per_seed`` / ``aft.per_seed``: one per seed, each seed's
training reading its own), one midtraining run per (spec, seed), one AFT run per (condition,
spec, size, seed), one evaluation per trained model. Each node's hash covers
its own settings, the package data that shapes its output (prompt templates,
eval item sets, the fake model's scripts when the fake model is used) and its
dependencies' hashes, so changing one input re-runs exactly the nodes
downstream of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msm.aftgen.subset import subset_file
from msm.artifacts.checkpoint import Checkpoint
from msm.artifacts.manifest import file_sha256
from msm.artifacts.package_data import data_hashes
from msm.docgen.outputs import documents_file
from msm.docgen.subset import corpus_subset_file
from msm.evals.config import EvalConfig, resolve_scoring
from msm.evals.loglik import VERSION as LOGLIK_VERSION
from msm.experiment import stages
from msm.experiment.config import Experiment

# the node types, re-exported: callers import them from here
from msm.experiment.nodes import GENERATION as GENERATION
from msm.experiment.nodes import TRAINING as TRAINING
from msm.experiment.nodes import Gathered as Gathered
from msm.experiment.nodes import Input as Input
from msm.experiment.nodes import Node as Node
from msm.experiment.nodes import NodeKind as NodeKind
from msm.experiment.nodes import node_hash
from msm.llm.bundled import EMBEDDED_NAME
from msm.llm.refs import served_by_vllm
from msm.spec.builtin import resolve_spec_path
from msm.study.conditions import AFT_DATA_FILE
from msm.train.model_io import model_facts

# ``save: auto`` in ``msm run``: LoRA runs keep only their adapters when the plan's merged
# models would together take more than this (besides the per-run rule of TrainConfig)
MERGED_TOTAL_LIMIT_BYTES = 100 * 10**9


def _spec_sha(spec: str) -> str:
    return file_sha256(resolve_spec_path(spec))


def corpus_id(key: str, draw: int | None = None) -> str:
    """A corpus node's id: ``corpus/KEY``, or ``corpus/KEY/sSEED`` when each seed draws its
    own (``corpus.per_seed``)."""
    return f"corpus/{key}" if draw is None else f"corpus/{key}/s{draw}"


def aftdata_id(draw: int | None = None) -> str:
    """The AFT data node's id: ``aftdata``, or ``aftdata/sSEED`` per seed (``aft.per_seed``)."""
    return "aftdata" if draw is None else f"aftdata/s{draw}"


def _draw(draw: int | None) -> dict[str, int]:
    """A per-seed draw's seed, in its node's extra and meta (none for a shared one). In the
    hash too: seed 0's draw has the shared one's settings, but it is another draw."""
    return {} if draw is None else {"seed": draw}


def _label(cond: str, spec: str | None) -> str:
    return f"{cond}[{spec}]" if spec else cond


def _documents(folder: Path) -> str:
    return str(documents_file(folder))


def _subset(size: int, name: str) -> Callable[[Path], str]:
    def output(folder: Path) -> str:
        return str(subset_file(folder, size, name))

    return output


def _folder(folder: Path) -> str:
    return str(folder)


def _model(engine: str, adapters: bool) -> Callable[[Path], str]:
    return lambda folder: model_ref(folder, engine, adapters)


def _trained_gives_logliks() -> bool:
    """Whether a trained model gives log-likelihoods: always (its weights are here, or vLLM
    serves it), so ``scoring: auto`` means loglik for every node the plan trains."""
    return True


def needs_weights_here(exp: Experiment) -> bool:
    """Whether an eval reads a trained model's merged weights (msm's local engine, or
    vLLM's log-likelihood scoring and the capability suite), rather than letting vLLM
    serve a LoRA adapter on its base."""
    ev = exp.eval
    return (
        ev.engine == "hf"
        or "capability" in ev.suites
        or (
            "values" in ev.suites
            and resolve_scoring(ev.scoring, _trained_gives_logliks) == "loglik"
        )
    )


def save_adapters_only(exp: Experiment, nodes: list[Node]) -> bool:
    """``save: auto`` at scale: the merged copies of every LoRA training node would take more
    than ``MERGED_TOTAL_LIMIT_BYTES`` (each eval merges on demand instead)."""
    lora = [n for n in nodes if n.kind in TRAINING and _auto_lora(n)]
    if not lora:
        return False
    facts = model_facts(exp.base_model)
    if facts.params is None:
        return False
    return len(lora) * facts.params * facts.bytes_per_param > MERGED_TOTAL_LIMIT_BYTES


def _auto_lora(node: Node) -> bool:
    cfg = node.config
    return bool(getattr(cfg, "method", "") == "lora" and getattr(cfg, "save", "") == "auto")


def _corpus_node(exp: Experiment, key: str, draw: int | None) -> Node:
    """The corpus of spec ``key`` (for experiment seed ``draw`` with ``corpus.per_seed``)."""
    cfg = stages.docgen_config(exp, exp.specs[key], key, draw)
    return Node(
        corpus_id(key, draw),
        "corpus",
        cfg,
        extra={
            "spec_sha256": _spec_sha(cfg.spec),
            "package_data": data_hashes("corpus", [cfg.model, cfg.judge]),
            **_draw(draw),
        },
        # a dose study's sizes, checked against what docgen keeps (not hashed: adding a
        # dose study leaves the corpus as it is)
        meta={
            "spec": key,
            **_draw(draw),
            **({"dose_sizes": exp.corpus_sizes} if exp.corpus_sizes else {}),
        },  # fmt: skip
    )


def _aftdata_node(exp: Experiment, draw: int | None) -> Node:
    """The AFT data set and its nested subsets (for seed ``draw`` with ``aft.per_seed``)."""
    aft = exp.aft
    assert aft is not None
    cfg = stages.aftgen_config(exp, draw)
    subset_seed = aft.subset_seed
    if draw is not None:  # the nested subsets of this seed's data, drawn anew too
        subset_seed = stages.drawn_seed(subset_seed, draw)
    return Node(
        aftdata_id(draw),
        "aftdata",
        cfg,
        extra={
            "spec_sha256": _spec_sha(cfg.spec),
            "sizes": exp.aft_sizes,
            "subset_seed": subset_seed,
            "package_data": data_hashes("aftdata", [cfg.model, cfg.judge]),
            **_draw(draw),
        },
        meta={"spec": aft.spec if aft.spec in exp.specs else None, **_draw(draw)},
    )


def evalgen_id(key: str) -> str:
    """Spec ``key``'s evalgen node: its own evaluations, shared by every seed."""
    return f"evalgen/{key}"


def _evalgen_node(exp: Experiment, key: str) -> Node:
    """Spec ``key``'s own spec QA questions and behavioural choices (``msm evalgen``)."""
    cfg = stages.evalgen_config(exp, key)
    return Node(
        evalgen_id(key),
        "evalgen",
        cfg,
        extra={
            "spec_sha256": _spec_sha(cfg.spec),
            "package_data": data_hashes("evalgen", [cfg.model, cfg.judge], cfg.data_parts()),
        },
        meta={"spec": key},
    )


def _named_sets(keys: list[str], file: str) -> Callable[[list[Path]], list[str]]:
    """Each evalgen folder's ``file`` named by its spec's key (``KEY=FILE``)."""

    def output(folders: list[Path]) -> list[str]:
        return [f"{k}={folder / file}" for k, folder in zip(keys, folders, strict=True)]

    return output


def _questions_with(static: str, keys: list[str]) -> Callable[[list[Path]], str]:
    named = _named_sets(keys, "questions.jsonl")
    return lambda folders: ",".join([*([static] if static else []), *named(folders)])


def _items_with(
    static: list[str], keys: list[str], kind: str = "choices"
) -> Callable[[list[Path]], list[str]]:
    """``static`` and each spec's ``KIND.jsonl`` (choices, or beliefs) as ``KEY=FILE``."""
    named = _named_sets(keys, f"{kind}.jsonl")
    return lambda folders: [*static, *named(folders)]


def _dose(docs: int | None) -> list[str]:
    """The id part of a dose study's smaller corpus (none for the full corpus)."""
    return [f"d{docs}"] if docs else []


def _corpus_subset(docs: int) -> Callable[[Path], str]:
    return lambda folder: str(corpus_subset_file(folder, docs))


def midtrain_id(key: str, seed: int, docs: int | None = None) -> str:
    return "/".join(["midtrain", key, *_dose(docs), f"s{seed}"])


def _midtrain_node(
    exp: Experiment, key: str, seed: int, docs: int | None = None, subset_seed: int = 0
) -> Node:
    """Midtraining the base model on spec ``key``'s corpus (``docs``: on its nested subset
    of that many documents, drawn in the order ``subset_seed`` gives, for a dose study; the
    corpus node's hash is left alone, so adding a dose study to a run only adds nodes)."""
    corpus = corpus_id(key, seed if exp.corpus_per_seed else None)
    data = Input(corpus, _corpus_subset(docs) if docs else _documents)
    return Node(
        midtrain_id(key, seed, docs),
        "midtrain",
        stages.train_config(exp, "midtrain", seed, base=exp.base_model),
        deps=[corpus],
        inputs={"data": data},
        extra={"corpus_docs": docs, "subset_seed": subset_seed} if docs else {},
        meta={"spec": key, "seed": seed, **({"corpus_docs": docs} if docs else {})},
    )


def _aft_node(
    exp: Experiment, cond: str, key: str | None, size: int, seed: int, docs: int | None = None
) -> Node:
    """AFT on the ``size`` subset of the condition's data file: of the base model, or with
    ``key`` of spec ``key``'s midtrained model (``docs``: the one midtrained on that many
    documents, for a dose study)."""
    data_file = AFT_DATA_FILE[cond]
    aft_data = aftdata_id(seed if exp.aft_per_seed else None)
    parts = [cond, *([key] if key else []), *_dose(docs), f"n{size}", f"s{seed}"]
    inputs = {"data": Input(aft_data, _subset(size, data_file))}
    if key:  # AFT continues the midtrained model
        inputs["base"] = Input(midtrain_id(key, seed, docs), _folder)
    return Node(
        "aft/" + "/".join(parts),
        "aft",
        stages.train_config(exp, "aft", seed, base=None if key else exp.base_model),
        deps=[i.dep for i in inputs.values()],
        inputs={**inputs},
        extra={"size": size, "data_file": data_file},
        meta={
            "condition": cond,
            "spec": key,
            "aft_size": size,
            "seed": seed,
            **({"corpus_docs": docs} if docs else {}),
        },
    )


class _Evals:
    """Builds eval nodes: the settings every eval node shares, read once, and one config
    object per (trained, reasoning spec, seed), shared by the nodes it is the same for."""

    def __init__(self, exp: Experiment, evalgen: list[str]) -> None:
        self.exp = exp
        ev = exp.eval
        # the specs' own evaluations, scored by every eval node beside the sets named
        self.evalgen = evalgen
        self.sets: dict[str, Input | Gathered] = {}
        static_q, static_items = stages.static_sets(exp)
        if evalgen:
            deps = tuple(evalgen_id(k) for k in evalgen)
            if "spec_qa" in ev.suites and exp.evalgen.n_questions:
                self.sets["questions"] = Gathered(deps, _questions_with(static_q, evalgen))
            if "values" in ev.suites and exp.evalgen.n_choices:
                self.sets["items"] = Gathered(deps, _items_with(static_items, evalgen))
            if "spec_belief" in ev.suites and exp.evalgen.n_beliefs:
                beliefs = stages.static_beliefs(exp)
                self.sets["beliefs"] = Gathered(deps, _items_with(beliefs, evalgen, "beliefs"))
        self.engine = ev.engine
        self.adapters = ev.engine == "vllm" and not needs_weights_here(exp)
        self.extra: dict[str, Any] = {
            "engine": ev.engine,
            "package_data": data_hashes("eval", [exp.grader, exp.base_model], ev.suites),
            "loglik_version": LOGLIK_VERSION,
        }
        if evalgen:  # the sets named beside them (the bound fields are not hashed)
            self.extra["static_sets"] = {"questions": static_q, "items": static_items}
        self.extra.update(stages.agentic_texts(ev))
        # trained models' loglik value scores also as the change from the base model (both
        # engines give log-likelihoods: local weights, or vLLM's prompt logprobs)
        loglik = resolve_scoring(ev.scoring, _trained_gives_logliks) == "loglik"
        self.baseline = base_ref(exp.base_model, ev.engine) if loglik else None
        self.sampled = not stages.deterministic_eval(exp)
        self.configs: dict[tuple[bool, str | None, int | None], EvalConfig] = {}

    def config(
        self, trained: bool, spec_key: str | None, seed: int
    ) -> tuple[EvalConfig, dict[str, Any]]:
        """An eval node's config (shared by the nodes it is the same for) and extra. A
        sampled eval gets its seed (seed 0 is None: the hashes of earlier runs stay)."""
        exp = self.exp
        spec = stages.reasoning_spec(exp, spec_key)
        eval_seed = seed if self.sampled and seed != 0 else None
        if (trained, spec, eval_seed) not in self.configs:
            model = stages.UNBOUND if trained else base_ref(exp.base_model, self.engine)
            self.configs[trained, spec, eval_seed] = stages.eval_config(
                exp, model, self.baseline if trained else None, spec, eval_seed
            )
        # the judge's rules are read from the spec: its text shapes the output
        extra = self.extra if spec is None else {**self.extra, "spec_sha256": _spec_sha(spec)}
        return self.configs[trained, spec, eval_seed], extra

    def node(
        self,
        cond: str,
        spec: str | None,
        size: int | None,
        model_dep: str | None,
        seed: int,
        docs: int | None = None,
    ) -> Node:
        """The eval of condition ``cond``'s model for ``seed``: the trained model of node
        ``model_dep``, or (None) the base model (``docs``: midtrained on a dose study's
        subset of that many documents)."""
        parts = [cond, *([spec] if spec else []), *_dose(docs), *([f"n{size}"] if size else []),
                 f"s{seed}"]  # fmt: skip
        cfg, extra = self.config(model_dep is not None, spec, seed)
        # the untouched base model under deterministic settings: evaluated once, for the
        # first seed; the other seeds' nodes copy that result (no model runs, nothing paid)
        first = self.exp.seeds[0]
        same_as = None
        if model_dep is None and not self.sampled and seed != first:
            same_as = "eval/" + "/".join([*parts[:-1], f"s{first}"])
        inputs: dict[str, Input | Gathered] = {}
        if model_dep:
            inputs["model"] = Input(model_dep, _model(self.engine, self.adapters))
        inputs.update(self.sets)
        # the model (or the result copied) first: the runner reads deps[0] as the model
        deps = [model_dep] if model_dep else ([same_as] if same_as else [])
        return Node(
            "eval/" + "/".join(parts),
            "eval",
            cfg,
            deps=deps + [evalgen_id(k) for k in self.evalgen],
            inputs=inputs,
            extra=extra,
            meta={
                "condition": cond,
                "label": _label(cond, spec),
                "spec": spec,
                "aft_size": size,
                "seed": seed,
                **({"same_as": same_as} if same_as else {}),
                **({"corpus_docs": docs} if docs else {}),
            },
        )


@dataclass
class _Plan:
    """The plan as it grows: nodes in an order where every dependency comes first, each
    hashed when added (its dependencies' hashes are known by then)."""

    exp: Experiment
    msm_specs: list[str]
    nodes: list[Node] = field(default_factory=list)
    by_id: dict[str, Node] = field(default_factory=dict)

    def add(self, node: Node) -> Node:
        node.hash = node_hash(node, [self.by_id[d].hash for d in node.deps])
        self.nodes.append(node)
        self.by_id[node.id] = node
        return node


def _base_condition(plan: _Plan, evals: _Evals, cond: str, seed: int) -> None:
    """``base``: the untouched base model, evaluated."""
    plan.add(evals.node(cond, None, None, None, seed))


def _msm_only_condition(plan: _Plan, evals: _Evals, cond: str, seed: int) -> None:
    """``msm_only``: each spec's midtrained model, evaluated."""
    for key in plan.msm_specs:
        plan.add(evals.node(cond, key, None, midtrain_id(key, seed), seed))


def _dose_nodes(plan: _Plan, evals: _Evals, seed: int) -> None:
    """A dose study (``corpus.sizes``): for each spec and smaller corpus, its midtraining,
    and each MSM condition on it (the AFT ones at the largest AFT size), evaluated."""
    exp = plan.exp
    msm_conds = [c for c in exp.conditions if c.startswith("msm")]
    for key in plan.msm_specs:
        corpus = plan.by_id[corpus_id(key, seed if exp.corpus_per_seed else None)]
        subset_seed = getattr(corpus.config, "seed", 0)  # the corpus's own draw
        for docs in exp.corpus_sizes:
            mid = plan.add(_midtrain_node(exp, key, seed, docs, subset_seed))
            for cond in msm_conds:
                if cond == "msm_only":
                    plan.add(evals.node(cond, key, None, mid.id, seed, docs))
                    continue
                size = exp.aft_sizes[-1]
                aft = plan.add(_aft_node(exp, cond, key, size, seed, docs))
                plan.add(evals.node(cond, key, size, aft.id, seed, docs))


def _aft_condition(plan: _Plan, evals: _Evals, cond: str, seed: int) -> None:
    """An AFT condition: AFT at every size (on each spec's midtrained model for the ``msm``
    ones, else on the base model), each evaluated."""
    assert plan.exp.aft is not None  # the experiment's checks require it
    keys: list[str | None] = list(plan.msm_specs) if cond.startswith("msm") else [None]
    for key in keys:
        for size in plan.exp.aft_sizes:
            node = plan.add(_aft_node(plan.exp, cond, key, size, seed))
            plan.add(evals.node(cond, key, size, node.id, seed))


# a condition -> the nodes it adds for one seed (every other condition trains with AFT)
_CONDITIONS: dict[str, Callable[[_Plan, _Evals, str, int], None]] = {
    "base": _base_condition,
    "msm_only": _msm_only_condition,
}


def build_plan(exp: Experiment) -> list[Node]:
    """Nodes in an order where every dependency comes first: the corpora, the AFT data,
    then for each seed its midtraining and each condition's AFT and eval nodes."""
    conds = exp.conditions
    msm_specs = list(exp.specs) if any(c.startswith("msm") for c in conds) else []
    plan = _Plan(exp, msm_specs)
    # per_seed: each seed draws its own corpus (AFT data); else one serves every seed and the
    # nodes are exactly those of runs made before per_seed existed
    for draw in list(exp.seeds) if exp.corpus_per_seed else [None]:
        for key in msm_specs:
            plan.add(_corpus_node(exp, key, draw))
    if exp.aft is not None and any("aft" in c for c in conds):
        for draw in list(exp.seeds) if exp.aft.per_seed else [None]:
            plan.add(_aftdata_node(exp, draw))
    own = stages.evalgen_keys(exp, msm_specs)
    for key in own:
        plan.add(_evalgen_node(exp, key))
    evals = _Evals(exp, own)
    for seed in exp.seeds:
        for key in msm_specs:
            plan.add(_midtrain_node(exp, key, seed))
        for cond in conds:
            _CONDITIONS.get(cond, _aft_condition)(plan, evals, cond, seed)
        _dose_nodes(plan, evals, seed)
    if save_adapters_only(exp, plan.nodes):  # ``save`` is not hashed: the hashes stay
        for n in plan.nodes:
            if n.kind in TRAINING and _auto_lora(n):
                n.config = n.config.model_copy(update={"save": "adapter"})
    return plan.nodes


def model_ref(path: Path, engine: str = "hf", adapters: bool = False) -> str:
    """The eval model name for a finished training node folder: the folder itself (msm's
    local engine reads a checkpoint's ``model/``), or ``vllm/`` + its merged model. With
    ``adapters``, a checkpoint that saved only its adapter is served by vLLM as a LoRA
    adapter on its base (Inspect's ``vllm/BASE:ADAPTER``): nothing is merged."""
    if engine == "vllm":
        ckpt = Checkpoint(path)
        if adapters and not ckpt.has_model() and ckpt.adapter_dir.is_dir():
            base = ckpt.base_path()
            if base:
                return f"{base_ref(base, engine)}:{ckpt.adapter_dir.resolve()}"
        return f"vllm/{ckpt.model_dir.resolve()}"
    return str(path.resolve())


def base_ref(base: str, engine: str = "hf") -> str:
    """The eval model name for the experiment's base model."""
    p = Path(base).expanduser()
    if p.is_dir():
        return f"vllm/{p.resolve()}" if engine == "vllm" else str(p.resolve())
    if engine == "vllm" and base != EMBEDDED_NAME and "/" in base and not served_by_vllm(base):
        return f"vllm/{base}"  # a hub id served by vLLM
    return base
