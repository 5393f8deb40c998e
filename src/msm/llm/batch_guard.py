"""The provider-neutral half of msm's batch guard (see :mod:`msm.llm.batch`): the errors,
the ticket that says which batch a call's request went into, and the checks msm mixes
into Inspect's batchers. The provider halves (:mod:`msm.llm.batch_providers`) build on it.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from msm.errors import MsmError

# batch mode logs under one name, whichever of its modules warns
log = logging.getLogger("msm.llm.batch")


class BatchError(MsmError):
    """A batch failed as a whole (refused, failed, expired, unreadable results).

    Not an ``LLMCallError``: stages count failed calls as drops, but a failed batch
    stops the stage with this one line (its answers already stored)."""


class BatchAbandoned(Exception):
    """This request's batch was cancelled after ``batch_wait_s``: send it by an ordinary
    call (internal: never reaches a user)."""


class RequestEnded(Exception):
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


def detail(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


class Guard:
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
            error = self._set_fatal(BatchError(f"{self.role}: {what} ({detail(error)})"))
        await super()._fail_all_requests(message, batch_requests, error)  # type: ignore[misc]

    async def _resolve_inflight_batch(
        self, batch: Any, results: dict[str, Any | Exception]
    ) -> None:
        bid = str(batch.id)
        ended = self._ended.pop(bid, None)
        codes = {v.code for v in results.values() if isinstance(v, RequestEnded)}
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
            isinstance(value, BatchAbandoned | RequestEnded)
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
            log.warning("%s: cancelling batch %s failed (%s)", self.role, batch_id, detail(e))
