"""The plan of an experiment: a graph of stage nodes that share artifacts.

One corpus per spec, one AFT data set (with nested subsets) shared by every
condition, one midtraining run per (spec, seed), one AFT run per (condition,
spec, size, seed), one evaluation per trained model. Each node's hash covers
its own settings, the package data that shapes its output (prompt templates,
eval item sets, the fake model's scripts when the fake model is used) and its
dependencies' hashes, so changing one input re-runs exactly the nodes
downstream of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msm.experiment.config import Experiment
from msm.package_data import data_hashes

AFT_FILE = {
    "aft_only": None,  # cot.jsonl for chat data, stripped.jsonl for preference data
    "msm_aft": None,
    "aft_cot": "cot.jsonl",
    "msm_aft_cot": "cot.jsonl",
    "aft_stripped": "stripped.jsonl",
    "msm_aft_stripped": "stripped.jsonl",
}


@dataclass
class Node:
    id: str
    kind: str  # corpus | aftdata | midtrain | aft | eval
    params: dict[str, Any]
    deps: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @property
    def path(self) -> str:
        return f"nodes/{self.id}"


def _hash(kind: str, params: dict[str, Any], deps: list[str]) -> str:
    blob = json.dumps({"kind": kind, "params": params, "deps": deps}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def _loglik_version() -> str:
    from msm.evals.loglik import VERSION

    return VERSION


def _spec_sha(spec: str) -> str:
    from msm.manifest import file_sha256
    from msm.specs_builtin import resolve_spec_path

    return file_sha256(resolve_spec_path(spec))


def _judge(settings: Any) -> str | None:
    """The judge model named in a stage's settings mapping, if any."""
    judge = settings.get("judge") if isinstance(settings, dict) else None
    return judge if isinstance(judge, str) else None


def _label(cond: str, spec: str | None) -> str:
    return f"{cond}[{spec}]" if spec else cond


def build_plan(exp: Experiment) -> list[Node]:
    """Nodes in an order where every dependency comes first."""
    nodes: list[Node] = []
    by_id: dict[str, Node] = {}

    def add(node: Node) -> Node:
        node.hash = _hash(node.kind, node.params, [by_id[d].hash for d in node.deps])
        nodes.append(node)
        by_id[node.id] = node
        return node

    conds = exp.conditions
    msm_specs = list(exp.specs) if any(c.startswith("msm") for c in conds) else []
    for key in msm_specs:
        add(
            Node(
                f"corpus/{key}",
                "corpus",
                {
                    "spec": exp.specs[key],
                    "spec_sha256": _spec_sha(exp.specs[key]),
                    "model": exp.generator,
                    "model_name": exp.model_name,
                    "provider_name": exp.provider_name,
                    "settings": exp.corpus,
                    "package_data": data_hashes("corpus", [exp.generator, _judge(exp.corpus)]),
                },
                meta={"spec": key},
            )
        )
    aft = exp.aft
    if aft is not None and any("aft" in c for c in conds):
        spec_path = exp.specs.get(aft.spec, aft.spec)
        add(
            Node(
                "aftdata",
                "aftdata",
                {
                    "spec": spec_path,
                    "spec_sha256": _spec_sha(spec_path),
                    "kind": aft.kind,
                    "n": aft.n,
                    "sizes": exp.aft_sizes,
                    "subset_seed": aft.subset_seed,
                    "model": aft.generator or exp.generator,
                    "model_name": exp.model_name,
                    "provider_name": exp.provider_name,
                    "settings": aft.config,
                    "package_data": data_hashes(
                        "aftdata", [aft.generator or exp.generator, _judge(aft.config)]
                    ),
                },
                meta={"spec": aft.spec if aft.spec in exp.specs else None},
            )
        )
    eval_params = {
        **exp.eval.model_dump(),
        "grader": exp.grader,
        "package_data": data_hashes("eval", [exp.grader, exp.base_model]),
        "loglik_version": _loglik_version(),
    }
    for seed in exp.seeds:
        for key in msm_specs:
            add(
                Node(
                    f"midtrain/{key}/s{seed}",
                    "midtrain",
                    {"base": exp.base_model, "seed": seed, "settings": exp.train.midtrain},
                    deps=[f"corpus/{key}"],
                    meta={"spec": key, "seed": seed},
                )
            )

        def evaluate(
            cond: str, spec: str | None, size: int | None, model_dep: str | None, seed: int = seed
        ) -> None:
            parts = [cond, *([spec] if spec else []), *([f"n{size}"] if size else []), f"s{seed}"]
            add(
                Node(
                    "eval/" + "/".join(parts),
                    "eval",
                    {"base": None if model_dep else exp.base_model, **eval_params},
                    deps=[model_dep] if model_dep else [],
                    meta={
                        "condition": cond,
                        "label": _label(cond, spec),
                        "spec": spec,
                        "aft_size": size,
                        "seed": seed,
                    },
                )
            )

        for cond in conds:
            if cond == "base":
                evaluate(cond, None, None, None)
            elif cond == "msm_only":
                for spec_key in msm_specs:
                    evaluate(cond, spec_key, None, f"midtrain/{spec_key}/s{seed}")
            else:
                assert aft is not None
                data_file = AFT_FILE[cond] or (
                    "cot.jsonl" if aft.kind == "chat" else "stripped.jsonl"
                )
                keys: list[str | None] = list(msm_specs) if cond.startswith("msm") else [None]
                for mkey in keys:
                    for size in exp.aft_sizes:
                        parts = [cond, *([mkey] if mkey else []), f"n{size}", f"s{seed}"]
                        deps = ["aftdata"] + ([f"midtrain/{mkey}/s{seed}"] if mkey else [])
                        node = add(
                            Node(
                                "aft/" + "/".join(parts),
                                "aft",
                                {
                                    "base": None if mkey else exp.base_model,
                                    "data_file": data_file,
                                    "size": size,
                                    "seed": seed,
                                    "settings": exp.train.aft,
                                },
                                deps=deps,
                                meta={
                                    "condition": cond,
                                    "spec": mkey,
                                    "aft_size": size,
                                    "seed": seed,
                                },
                            )
                        )
                        evaluate(cond, mkey, size, node.id)
    return nodes


def model_ref(path: Path, engine: str = "hf") -> str:
    """The eval model name for a finished training node folder: the folder itself (msm's
    local engine reads a checkpoint's ``model/``), or ``vllm/`` + its merged model."""
    if engine == "vllm":
        return f"vllm/{(path / 'model').resolve()}"
    return str(path.resolve())


def base_ref(base: str, engine: str = "hf") -> str:
    """The eval model name for the experiment's base model."""
    p = Path(base).expanduser()
    if p.is_dir():
        return f"vllm/{p.resolve()}" if engine == "vllm" else str(p.resolve())
    if engine == "vllm" and base != "embedded" and "/" in base and not base.startswith("vllm/"):
        return f"vllm/{base}"  # a hub id served by vLLM
    return base
