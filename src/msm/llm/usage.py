"""Token and cost accounting, summed per stage."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@lru_cache(maxsize=4)
def _price_table(override: str | None) -> tuple[dict[str, tuple[float, float]], tuple[str, ...]]:
    text = (
        Path(override).read_text(encoding="utf-8")
        if override
        else resources.files("msm").joinpath("data/prices.yaml").read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text) or {}
    models = {str(k): (float(v[0]), float(v[1])) for k, v in (data.get("models") or {}).items()}
    return models, tuple(data.get("free_prefixes") or ())


def price_per_mtok(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens, or None when unknown.

    Dated snapshots (``...-20250929``) fall back to their undated family name.
    """
    models, free = _price_table(os.environ.get("MSM_PRICES") or None)
    if model in free or any(model.startswith(p) for p in free if p.endswith(("/", ":"))):
        return (0.0, 0.0)
    if model in models:
        return models[model]
    base = model.rsplit("-", 1)[0]
    if base != model and model.rsplit("-", 1)[1].isdigit():
        return models.get(base)
    return None


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollar cost of a call, or None where the price is unknown."""
    price = price_per_mtok(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


@dataclass
class StageUsage:
    """Totals for one stage (e.g. ``docgen.documents``)."""

    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    models: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "failed_calls": self.failed_calls,
            "retries": self.retries,
            "errors": dict(sorted(self.errors.items())),
            "problems": dict(sorted(self.problems.items())),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "models": sorted(self.models),
        }


class UsageMeter:
    """Thread-safe per-stage usage totals.

    Calls served from the result store count as ``cached_calls`` and add no
    tokens or cost: they were paid for on an earlier run. Every attempt that
    reached the provider is exactly one of: a finished call (``calls``), a
    failure that was retried (``retries``) or a failure that ended the call
    (``failed_calls``); ``errors`` counts both kinds of failure by reason, so
    ``sum(errors) == retries + failed_calls``. ``problems`` counts finished
    answers that could not be used as they were (``truncated``, ``refused``,
    ``parse_error``) by reason.
    """

    def __init__(self) -> None:
        self._stages: dict[str, StageUsage] = {}
        self._lock = threading.Lock()
        self._prices: dict[str, tuple[float, float] | None] = {}

    def record(
        self,
        stage: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached: bool = False,
        failed: bool = False,
        reason: str = "provider_error",
    ) -> None:
        with self._lock:
            u = self._stages.setdefault(stage, StageUsage())
            u.models.add(model)
            if failed:
                u.failed_calls += 1
                u.errors[reason] += 1
                return
            if cached:
                u.cached_calls += 1
                return
            u.calls += 1
            u.input_tokens += input_tokens
            u.output_tokens += output_tokens
            if model not in self._prices:
                self._prices[model] = price_per_mtok(model)
            price = self._prices[model]
            c = (
                None
                if price is None
                else (input_tokens * price[0] + output_tokens * price[1]) / 1e6
            )
            u.cost_usd = None if (c is None or u.cost_usd is None) else u.cost_usd + c

    def record_retry(self, stage: str, model: str, reason: str) -> None:
        """A failed attempt that will be retried."""
        with self._lock:
            u = self._stages.setdefault(stage, StageUsage())
            u.models.add(model)
            u.retries += 1
            u.errors[reason] += 1

    def record_problem(self, stage: str, reason: str) -> None:
        """A finished answer that could not be used as it was (truncated, refused, ...)."""
        with self._lock:
            self._stages.setdefault(stage, StageUsage()).problems[reason] += 1

    def stage(self, name: str) -> StageUsage:
        with self._lock:
            return self._stages.setdefault(name, StageUsage())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {k: v.as_dict() for k, v in sorted(self._stages.items())}
