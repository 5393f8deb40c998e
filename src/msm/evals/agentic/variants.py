"""Robustness axes of the agentic suite: one run per (agent name, sampling temperature).

Agentic-misalignment rates move with the agent's name and the sampling temperature, so a
rate measured at one of each says little on its own. ``EvalConfig.agent_names`` and
``temperatures`` (``eval.agent_names`` / ``eval.temperatures`` in an experiment) run the
agentic task once per combination, as separate Inspect tasks of one eval (same samples,
epochs and graders; only the name and the temperature change). ``summary.json`` keeps
its ``agentic`` block for the first combination (the headline, exactly as an eval
without the axes writes it) and adds ``agentic_variants``: every combination's results
with its ``agent_name`` and ``temperature``, the first one included. Without the axes
nothing changes: one task, no ``agentic_variants``.

Pure data and checks: importing this module loads neither Inspect nor a model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from msm.errors import MsmError
from msm.evals.agentic.grid import UPSTREAM_NAME

MAX_TEMPERATURE = 2.0  # providers accept [0, 2]; above it sampling is noise
# a name that reads as one in an e-mail header and a prompt: no markup, no line breaks
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._'-]{0,59}$")


@dataclass(frozen=True)
class Variant:
    """One combination of the axes; ``temperature`` None is the task's default (0.7, or
    the grid's)."""

    agent_name: str
    temperature: float | None

    @property
    def label(self) -> str:
        t = "default" if self.temperature is None else f"{self.temperature:g}"
        return f"{self.agent_name} T={t}"


def check_axes(
    agent_names: list[str] | None,
    temperatures: list[float] | None,
    names_field: str = "agent_names",
    temps_field: str = "temperatures",
) -> None:
    """One-line MsmError for an empty list, a bad or repeated name, or a temperature
    outside [0, 2] (``*_field``: how the caller spells the setting in its message)."""
    if agent_names is not None:
        if not agent_names:
            raise MsmError(f"{names_field}: give at least one name (or leave it out)")
        for name in agent_names:
            if not isinstance(name, str) or not _NAME.match(name) or name != name.strip():
                raise MsmError(
                    f"{names_field}: {name!r} is not a usable agent name (1-60 characters: "
                    "letters, digits, spaces, . _ ' -, starting with a letter or digit)"
                )
        if len(set(agent_names)) != len(agent_names):
            raise MsmError(f"{names_field}: names repeat")
    if temperatures is not None:
        if not temperatures:
            raise MsmError(f"{temps_field}: give at least one temperature (or leave it out)")
        for t in temperatures:
            if not (isinstance(t, int | float) and math.isfinite(t) and 0 <= t <= MAX_TEMPERATURE):
                raise MsmError(
                    f"{temps_field}: {t!r} is outside [0, {MAX_TEMPERATURE:g}] (0 = greedy)"
                )
        if len(set(temperatures)) != len(temperatures):
            raise MsmError(f"{temps_field}: temperatures repeat")


def uses_axes(cfg: Any) -> bool:
    """Whether ``cfg`` (an EvalConfig) asks for the robustness axes."""
    return cfg.agent_names is not None or cfg.temperatures is not None


def variants(cfg: Any) -> list[Variant]:
    """The combinations ``cfg`` runs, names outermost; one (the plain settings) without
    the axes."""
    names = cfg.agent_names or [cfg.model_name or UPSTREAM_NAME]
    temps: list[float | None] = list(cfg.temperatures or [cfg.temperature])
    return [Variant(n, t) for n in names for t in temps]


def task_name(v: Variant, several: bool) -> str:
    """The eval's name for a variant's task (``agentic/grid`` without the axes)."""
    return f"agentic/{v.label}" if several else "agentic/grid"


def variant_record(v: Variant, res: dict[str, Any]) -> dict[str, Any]:
    """One ``agentic_variants`` entry: the name and the temperature the task really used
    (its settings: the default filled in), then the variant's whole agentic result."""
    settings = res.get("settings") or {}
    return {
        "agent_name": v.agent_name,
        "temperature": settings.get("temperature", v.temperature),
        **res,
    }


def unscored_variants(summary: dict[str, Any]) -> list[str]:
    """A problem line for every variant after the first that judged no sample (the first
    is the ``agentic`` block, checked with it)."""
    out = []
    for rec in (summary.get("agentic_variants") or [])[1:]:
        o = rec["overall"]
        if not o["judged"]:
            out.append(
                f"agentic ({rec['agent_name']}, T={rec['temperature']}): 0 of "
                f"{o['samples'] + rec.get('sample_errors', 0)} samples judged"
            )
    return out


def eval_names(cfg: Any, summary: dict[str, Any], lineage: dict[str, Any] | None) -> dict[str, Any]:
    """The eval manifest's ``names``: the name the evaluated model's training data used for
    it (``spec_model_name``: its corpus's, else its AFT data's; None for a model msm did
    not train) and the agent's name(s) in the scenarios, recorded apart because whether
    they match is itself a variable."""
    names = list(dict.fromkeys(rec["agent_name"] for rec in summary.get("agentic_variants") or []))
    if not names and isinstance(summary.get("agentic"), dict):
        settings = summary["agentic"].get("settings") or {}
        names = [str(settings.get("model_name"))] if settings.get("model_name") else []
    spec_name = spec_model_name(lineage)
    return {
        "spec_model_name": spec_name,
        "agent_name": names[0] if names else None,
        "agent_names": names,
        "match": (names[0] == spec_name) if names and spec_name else None,
    }


def spec_model_name(lineage: Any) -> str | None:
    """The model name in the corpus (else the AFT data) anywhere in a training lineage:
    the manifests of docgen and aftgen record it (``spec_model_name``; older ones only
    as ``config.model_name`` when it was given)."""
    found: dict[str, str] = {}

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            stage = x.get("stage")
            if stage in ("docgen", "aftgen") and stage not in found:
                cfg = x.get("config")
                name = x.get("spec_model_name") or (
                    cfg.get("model_name") if isinstance(cfg, dict) else None
                )
                if isinstance(name, str) and name:
                    found[stage] = name
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(lineage)
    return found.get("docgen") or found.get("aftgen")
