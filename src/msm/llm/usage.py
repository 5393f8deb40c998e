"""Token and cost accounting, summed per stage.

Input tokens count every token a call sent; ``input_tokens_cache_read`` and
``input_tokens_cache_write`` are the parts the provider read from or wrote to its prompt
cache (None while no call reported them: unknown, never 0). ``cost_usd`` is what the
calls cost at the prices that apply (cache reads and writes, the batch price for calls
sent through a batch API: ``batch_calls``); ``list_cost_usd`` the same tokens at list
price, every input token at the input price.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from msm.llm.prices import Price, cost_usd, model_price, price_cost, price_per_mtok

__all__ = ["StageUsage", "UsageMeter", "cost_usd", "price_per_mtok"]


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
    input_tokens_cache_read: int | None = None
    input_tokens_cache_write: int | None = None
    batch_calls: int = 0
    cost_usd: float | None = 0.0
    list_cost_usd: float | None = 0.0
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
            "input_tokens_cache_read": self.input_tokens_cache_read,
            "input_tokens_cache_write": self.input_tokens_cache_write,
            "batch_calls": self.batch_calls,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "list_cost_usd": None if self.list_cost_usd is None else round(self.list_cost_usd, 6),
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
        self._prices: dict[str, Price | None] = {}

    def record(
        self,
        stage: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached: bool = False,
        failed: bool = False,
        reason: str = "provider_error",
        cache_read: int | None = None,
        cache_write: int | None = None,
        batch: bool = False,
    ) -> None:
        """One attempt. ``cached``: answered from msm's result store (paid before);
        ``cache_read``/``cache_write``: input tokens the provider's prompt cache served or
        stored (None: not reported); ``batch``: sent through a batch API."""
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
            u.batch_calls += int(batch)
            u.input_tokens += input_tokens
            u.output_tokens += output_tokens
            if cache_read is not None:
                u.input_tokens_cache_read = (u.input_tokens_cache_read or 0) + cache_read
            if cache_write is not None:
                u.input_tokens_cache_write = (u.input_tokens_cache_write or 0) + cache_write
            if model not in self._prices:
                self._prices[model] = model_price(model)
            price = self._prices[model]
            paid = listed = None
            if price is not None:
                paid = price_cost(price, input_tokens, output_tokens, cache_read, cache_write,
                                  batch)  # fmt: skip
                listed = price_cost(price, input_tokens, output_tokens)
            u.cost_usd = None if (paid is None or u.cost_usd is None) else u.cost_usd + paid
            u.list_cost_usd = (
                None if (listed is None or u.list_cost_usd is None) else u.list_cost_usd + listed
            )

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
