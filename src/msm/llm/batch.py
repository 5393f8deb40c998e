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

import contextvars
import logging
import os
from dataclasses import dataclass
from typing import Any

from msm.errors import MsmError

log = logging.getLogger(__name__)

BATCH_PROVIDERS = ("openai", "anthropic")
# Inspect's defaults (seconds); MSM_BATCH_TICK_S shrinks both, for tests and local servers
DEFAULT_TICK_S = 15.0
BATCH_SIZE = 100  # requests before a batch is sent early (else after one tick)
IN_FLIGHT = 10_000  # calls waiting at once in batch mode (Inspect's own batch default)
GRACE_TICKS = 10  # after cancelling a late batch, wait this many ticks for what it answered


class BatchError(MsmError):
    """A batch failed as a whole (refused, failed, expired, unreadable results).

    Not an ``LLMCallError``: stages count failed calls as drops, but a failed batch
    stops the stage with this one line (its answers already stored)."""


class BatchAbandoned(Exception):
    """This request's batch was cancelled after ``batch_wait_s``: send it by an ordinary
    call (internal: never reaches a user)."""


class _RequestEnded(Exception):
    """A result line saying the batch ended before answering (``batch_expired``...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Ticket:
    """Which batch one call's request went into (filled in by the batcher)."""

    batch_id: str | None = None


CURRENT_TICKET: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "msm_batch_ticket", default=None
)


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
    from msm.llm.names import resolve_model

    provider = resolve_model(name, check=False).provider
    if provider not in BATCH_PROVIDERS:
        raise MsmError(
            f"{role}: batch mode needs an openai/ or anthropic/ model (their batch APIs), "
            f"not {name!r}; turn batch off for it"
        )


def _detail(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


class _Guard:
    """What msm adds to an Inspect batcher (mixed in before it; see the module doc)."""

    role: str
    fatal: BatchError | None
    _tickets: dict[int, tuple[Any, Ticket]]
    _ended: dict[str, str]  # batch id -> why it ended without normal results
    _unparsed: dict[str, int]
    _cancelled: set[str]
    created: list[str]

    def _init_guard(self, role: str) -> None:
        self.role = role
        self.fatal = None
        self._tickets = {}
        self._ended = {}
        self._unparsed = {}
        self._cancelled = set()
        self.created = []

    def _set_fatal(self, err: BatchError) -> BatchError:
        if self.fatal is None:
            self.fatal = err
            log.warning("%s", err)
        return self.fatal

    # -- provider specifics --------------------------------------------------------
    async def _cancel_batch(self, batch_id: str) -> None:
        raise NotImplementedError

    def _expired_error(self, value: Exception) -> bool:
        """Whether a per-request error means the batch expired before answering it."""
        return False

    def _cancelled_error(self, value: Exception) -> bool:
        """Whether a per-request error means its batch was cancelled before answering it."""
        return False

    # -- Inspect's batcher, overridden ---------------------------------------------
    async def generate_for_request(self, request: dict[str, Any]) -> Any:
        ticket = CURRENT_TICKET.get()
        if ticket is not None:
            # runs in the caller's context: remember whose request this dict is
            self._tickets[id(request)] = (request, ticket)
        try:
            return await super().generate_for_request(request)  # type: ignore[misc]
        finally:
            self._tickets.pop(id(request), None)

    async def _create_batch(self, batch: list[Any]) -> str:
        batch_id: str = await super()._create_batch(batch)  # type: ignore[misc]
        self.created.append(batch_id)
        for r in batch:
            hit = self._tickets.get(id(r.request))
            if hit is not None:
                hit[1].batch_id = batch_id
        return batch_id

    async def _process_intake_queue(self) -> bool:
        try:
            return bool(await super()._process_intake_queue())  # type: ignore[misc]
        except Exception:
            # a refused creation: its requests already have the error (_fail_all_requests);
            # the worker goes on for the requests after them
            return False

    async def _fail_all_requests(
        self, message: str, batch_requests: list[Any], error: Exception
    ) -> None:
        if not isinstance(error, BatchError):
            bid = next(
                (
                    b.id
                    for b in getattr(self, "_inflight_batches", {}).values()
                    if batch_requests and batch_requests[0].custom_id in b.requests
                ),
                None,
            )
            what = f"batch {bid} failed" if bid else "the provider refused to create a batch"
            error = self._set_fatal(BatchError(f"{self.role}: {what} ({_detail(error)})"))
        await super()._fail_all_requests(message, batch_requests, error)  # type: ignore[misc]

    async def _resolve_inflight_batch(
        self, batch: Any, results: dict[str, Any | Exception]
    ) -> None:
        bid = str(batch.id)
        ended = self._ended.pop(bid, None)
        codes = {v.code for v in results.values() if isinstance(v, _RequestEnded)}
        if ended is None and codes:
            code = sorted(codes)[0]
            ended = "expired" if code == "batch_expired" else f"ended ({code})"
        unparsed = self._unparsed.pop(bid, 0)
        cancelled = bid in self._cancelled
        extra = [k for k in results if k not in batch.requests]
        missing = [k for k in batch.requests if k not in results]
        problem: BatchError | None = None
        if ended is not None and not cancelled:
            problem = BatchError(f"{self.role}: batch {bid} {ended}")
        elif unparsed:
            problem = BatchError(
                f"{self.role}: batch {bid}: {unparsed} result line(s) could not be parsed"
            )
        elif extra:
            problem = BatchError(
                f"{self.role}: batch {bid} returned {len(extra)} result(s) with ids it was "
                f"never sent (of {len(batch.requests)} requests)"
            )
        elif missing and not cancelled:
            problem = BatchError(
                f"{self.role}: batch {bid} returned no result for {len(missing)} of "
                f"{len(batch.requests)} requests"
            )
        if problem is not None:
            problem = self._set_fatal(problem)
        fixed: dict[str, Any] = {}
        for rid in batch.requests:
            value = results.get(rid)
            failed = ended is not None and not cancelled and isinstance(value, Exception)
            if (
                value is None
                or failed
                or (isinstance(value, Exception) and self._unanswered(value))
            ):
                if cancelled:
                    value = BatchAbandoned(bid)
                else:
                    value = problem or self._set_fatal(
                        BatchError(f"{self.role}: batch {bid} expired before answering")
                    )
            fixed[rid] = value
        await super()._resolve_inflight_batch(batch, fixed)  # type: ignore[misc]

    def _unanswered(self, value: Exception) -> bool:
        return (
            isinstance(value, BatchAbandoned | _RequestEnded)
            or self._expired_error(value)
            or self._cancelled_error(value)
        )

    # -- msm's own ----------------------------------------------------------------
    async def abandon(self, batch_id: str | None) -> None:
        """Ask the provider to cancel ``batch_id`` (once): what it answered still arrives,
        the rest comes back as :class:`BatchAbandoned`."""
        if batch_id is None or batch_id in self._cancelled:
            return
        self._cancelled.add(batch_id)
        try:
            await self._cancel_batch(batch_id)
        except Exception as e:  # the caller falls back after its grace period anyway
            log.warning("%s: cancelling batch %s failed (%s)", self.role, batch_id, _detail(e))


def install_guard(model: Any, role: str) -> BatchGuards:
    """Put msm's guarded batchers on ``model``'s provider API (an Inspect ``Model`` made
    with ``batch=batch_config()``), before Inspect builds its own on the first call."""
    from inspect_ai.model._retry import batch_admin_retry_config

    api = model.api
    cfg = batch_config()
    retry = batch_admin_retry_config(
        api.model_name,
        model.config,
        api.should_retry,
        qualified_model_name=api.qualified_model_name,
    )
    guards: list[_Guard] = []
    if hasattr(api, "_completions_batcher"):
        from openai.types.chat import ChatCompletion
        from openai.types.responses import Response

        from msm.llm.batch_providers import openai_guard

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
        from msm.llm.batch_providers import anthropic_guard

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

    def __init__(self, guards: list[_Guard]) -> None:
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
        """Cancel ``batch_id`` at the provider (once); see :meth:`_Guard.abandon`."""
        for g in self.guards:
            if batch_id in g.created:
                await g.abandon(batch_id)


async def batched_generate(llm: Any, model: Any, messages: list[Any], cfg: Any, stage: str) -> Any:
    """One call of ``llm`` (an ``msm.llm.LLM`` in batch mode) through the provider's batch
    API; after ``batch_wait_s`` its batch is cancelled, what the batch answered meanwhile
    is used, the rest is sent once by an ordinary call. A failed batch raises
    ``BatchError`` (one line, role and batch id)."""
    import asyncio

    from msm.llm.answers import root_cause

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
