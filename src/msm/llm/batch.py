"""Batch mode: Inspect's OpenAI and Anthropic batchers, guarded for msm.

Inspect batches a provider's requests inside the provider's ``generate`` (see
``inspect_ai.model._providers.util.batch``). msm uses those batchers as they are and
adds, per role (generator, judge, grader...):

* a name for every failure: a batch that fails, expires, returns results that do not
  parse or a results file with missing or extra ids raises :class:`BatchError` naming
  the role and the batch id (one line; fatal for the stage, unlike an ordinary failed
  call, which is counted as a drop). Answers that did arrive are delivered (and stored
  by the caller) first;
* abandoning a batch: after ``batch_wait_s`` the caller asks for the batch holding its
  request to be cancelled (once per batch); what the batch still answers is used, what
  it does not goes by one ordinary call (:class:`BatchAbandoned` marks those);
* a worker that survives a refused batch creation (Inspect's re-raises into its
  background worker, which would leave later requests waiting forever).

The guarded batchers are installed on the provider's model API right after it is
built (:func:`install_guard`), so Inspect's lazy ``_resolve_batcher`` finds them.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from msm.errors import MsmError
from msm.llm.answers import root_cause
from msm.llm.batch_guard import (
    CURRENT_TICKET,
    BatchAbandoned,
    BatchError,
    Guard,
    Ticket,
)
from msm.llm.batch_providers import anthropic_guard, openai_guard
from msm.llm.inspect_private import batch_admin_retry_config
from msm.llm.names import resolve_model

__all__ = [
    "BATCH_PROVIDERS",
    "IN_FLIGHT",
    "BatchError",
    "BatchGuards",
    "batch_config",
    "batched_generate",
    "check_batch_provider",
    "install_guard",
]

BATCH_PROVIDERS = ("openai", "anthropic")
# Inspect's defaults (seconds); MSM_BATCH_TICK_S shrinks both, for tests and local servers
DEFAULT_TICK_S = 15.0
BATCH_SIZE = 100  # requests before a batch is sent early (else after one tick)
IN_FLIGHT = 10_000  # calls waiting at once in batch mode (Inspect's own batch default)
GRACE_TICKS = 10  # after cancelling a late batch, wait this many ticks for what it answered


def tick_s() -> float:
    """Inspect's batch tick and send delay: 15 s, or ``MSM_BATCH_TICK_S``."""
    raw = os.environ.get("MSM_BATCH_TICK_S")
    try:
        return float(raw) if raw else DEFAULT_TICK_S
    except ValueError as e:
        raise MsmError(f"MSM_BATCH_TICK_S must be a number of seconds, got {raw!r}") from e


def batch_config() -> Any:
    """The ``BatchConfig`` msm passes to Inspect."""
    from inspect_ai.model import BatchConfig

    t = tick_s()
    return BatchConfig(size=BATCH_SIZE, send_delay=t, tick=t)


def check_batch_provider(name: str, role: str) -> None:
    """Refuse batch mode for a model whose provider has no batch API here (one line)."""
    provider = resolve_model(name, check=False).provider
    if provider not in BATCH_PROVIDERS:
        raise MsmError(
            f"{role}: batch mode needs an openai/ or anthropic/ model (their batch APIs), "
            f"not {name!r}; turn batch off for it"
        )


def install_guard(model: Any, role: str) -> BatchGuards:
    """Put msm's guarded batchers on ``model``'s provider API (an Inspect ``Model`` made
    with ``batch=batch_config()``), before Inspect builds its own on the first call."""
    api = model.api
    cfg = batch_config()
    retry = batch_admin_retry_config(api, model.config)
    guards: list[Guard] = []
    if hasattr(api, "_completions_batcher"):
        from openai.types.chat import ChatCompletion
        from openai.types.responses import Response

        cls = openai_guard()
        # one per OpenAI API (Chat Completions, Responses): the model picks per request
        for attr, resp_cls, endpoint in (
            ("_completions_batcher", ChatCompletion, "/v1/chat/completions"),
            ("_responses_batcher", Response, "/v1/responses"),
        ):
            g = cls(api.client, cfg, retry, resp_cls, endpoint=endpoint)
            g._init_guard(role)
            g._status = {}
            setattr(api, attr, g)
            guards.append(g)
    elif hasattr(api, "_batcher") and type(api).__name__.startswith("Anthropic"):
        g = anthropic_guard()(api.client, cfg, retry)
        g._init_guard(role)
        g._expired = set()
        api._batcher = g
        guards.append(g)
    else:
        raise MsmError(
            f"{role}: batch mode needs an openai/ or anthropic/ model ({api.model_name})"
        )
    return BatchGuards(guards)


class BatchGuards:
    """The guarded batchers of one provider API, seen as one."""

    def __init__(self, guards: list[Guard]) -> None:
        self.guards = guards
        self.role = guards[0].role

    @property
    def fatal(self) -> BatchError | None:
        """The first batch-level failure (every later call raises it)."""
        return next((g.fatal for g in self.guards if g.fatal is not None), None)

    @property
    def created(self) -> list[str]:
        """Ids of the batches created so far, in order."""
        return [b for g in self.guards for b in g.created]

    async def abandon(self, batch_id: str | None) -> None:
        """Cancel ``batch_id`` at the provider (once); see :meth:`Guard.abandon`."""
        for g in self.guards:
            if batch_id in g.created:
                await g.abandon(batch_id)


async def batched_generate(llm: Any, model: Any, messages: list[Any], cfg: Any, stage: str) -> Any:
    """One call of ``llm`` (an ``msm.llm.LLM`` in batch mode) through the provider's batch
    API; after ``batch_wait_s`` its batch is cancelled, what the batch answered meanwhile
    is used, the rest is sent once by an ordinary call. A failed batch raises
    ``BatchError`` (one line, role and batch id)."""
    guards: BatchGuards = llm._guards
    if guards.fatal is not None:
        raise guards.fatal
    ticket = Ticket()
    token = CURRENT_TICKET.set(ticket)
    try:  # the task copies the context: the batcher sees whose request it queues
        task = asyncio.ensure_future(model.generate(messages, config=cfg))
    finally:
        CURRENT_TICKET.reset(token)
    try:
        done, _ = await asyncio.wait({task}, timeout=llm.access.batch_wait_s)
        # still queued, in no batch yet (a loaded machine, a tiny wait): giving up now could
        # let the batcher send it later anyway, paid twice; wait until it is in a batch
        while not done and ticket.batch_id is None:
            done, _ = await asyncio.wait({task}, timeout=tick_s())
        if not done:
            await guards.abandon(ticket.batch_id)
            done, _ = await asyncio.wait({task}, timeout=GRACE_TICKS * tick_s())
        if done:
            try:
                return task.result()
            except Exception as e:
                root = root_cause(e)
                if isinstance(root, MsmError):
                    raise root from e  # a BatchError, unwrapped from Inspect's retries
                if not isinstance(root, BatchAbandoned):
                    raise
    finally:
        if not task.done():
            task.cancel()
    if guards.fatal is not None:
        raise guards.fatal
    llm.usage.record_problem(stage, "batch_fallback")
    total = llm.access.timeout_s * (llm.access.max_retries + 1) + 5
    return await asyncio.wait_for(llm._plain_model().generate(messages, config=cfg), total)
