"""The nodes of an experiment's plan: what each runs, its config, its inputs from other
nodes, and the hash that identifies its output (``msm.experiment.plan`` builds them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from msm.artifacts.identity import identity
from msm.artifacts.run_folder import node_path

# what a node runs; the strings are part of node ids, run.json and the hashes
NodeKind = Literal["corpus", "aftdata", "evalgen", "midtrain", "aft", "eval"]
# the kinds that train a model (their output is a checkpoint)
TRAINING: frozenset[NodeKind] = frozenset({"midtrain", "aft"})
# the kinds that generate data with a generator (and maybe a judge) model
GENERATION: frozenset[NodeKind] = frozenset({"corpus", "aftdata", "evalgen"})


@dataclass(frozen=True)
class Input:
    """A config field filled from a dependency's output: ``output(dependency folder)``."""

    dep: str
    output: Callable[[Path], str]


@dataclass(frozen=True)
class Gathered:
    """A config field filled from several dependencies' outputs: ``output([folders])``."""

    deps: tuple[str, ...]
    output: Callable[[list[Path]], Any]


@dataclass
class Node:
    """One stage run: its kind, its stage's own config object, and what it depends on.

    ``config`` is built once, by the plan; ``inputs`` name the config fields that
    another node's output fills in at run time (the runner calls ``bound``).
    ``extra`` holds what shapes the output besides the config (spec text hash,
    package data hashes, subset sizes); the hash covers config, extra and the
    dependencies' hashes.
    """

    id: str
    kind: NodeKind
    config: BaseModel
    deps: list[str] = field(default_factory=list)
    inputs: dict[str, Input | Gathered] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @property
    def path(self) -> str:
        return node_path(self.id)

    def bound(self, run: Path, by_id: dict[str, Node]) -> Any:
        """The config with every input filled from its dependency's folder under ``run``."""
        if not self.inputs:
            return self.config
        update = {
            f: (
                i.output([run / by_id[d].path for d in i.deps])
                if isinstance(i, Gathered)
                else i.output(run / by_id[i.dep].path)
            )
            for f, i in self.inputs.items()
        }
        return self.config.model_copy(update=update)

    def hashed(self) -> dict[str, Any]:
        """What identifies this node's output, less its dependencies."""
        config = identity(self.kind, self.config.model_dump(mode="json", exclude=set(self.inputs)))
        for key, default in _HASHED_IF_SET.items():  # at their defaults they leave the hashes
            if key in config and config[key] == default:  # of earlier runs as they were
                del config[key]
        return {"kind": self.kind, "config": config, "extra": self.extra}


# settings added later that change the output only when set: key -> its default
_HASHED_IF_SET: dict[str, Any] = {
    "literal_name": None,
    # eval: grader checks, the reasoning judge's spec, the robustness axes
    "grader2": None,
    "regrade_action_only": False,
    "spec_reasoning": True,
    "spec": None,
    "agent_names": None,
    "temperatures": None,
    "pressures": None,  # the robustness suite's variants and texts
    "pressure_texts": None,
    "beliefs": None,  # the spec_belief suite's item sets
    "form": "tagged",  # evalgen's choice form (fields: its prompts join package_data)
    "max_model_len": None,  # vLLM's context length (the other server settings: identity.py)
    # read only with a templates folder, whose fingerprint is then in the node's extra
    "exfil_rule": "authors",
    # spec QA's own epochs; a sampled eval's seed (None: seed 0, as before seeds were given)
    "spec_qa_epochs": 1,
    "seed": None,
    # the item split scored (all: every item, as before splits were declared)
    "split": "all",
    # docgen's statement-mode reason check (outside statement mode it changes nothing)
    "own_reason": "require",
}


def node_hash(node: Node, deps: list[str]) -> str:
    blob = json.dumps({**node.hashed(), "deps": deps}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]
