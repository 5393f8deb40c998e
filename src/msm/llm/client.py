"""``LLM``: one async way to call any model, with storage, limits and checks.

Example::

    llm = LLM("embedded", gen=GenConfig(max_tokens=64, temperature=0), store="run/llm.sqlite")
    out = await llm.generate("Name a cheese.")            # Completion
    items = await llm.generate_structured("List 3 cheeses.", LineListParser(min_items=3))

What it adds on top of Inspect's model API:

* a concurrency limit (``AccessConfig.max_concurrency``), Inspect's provider-aware
  retries with backoff (``max_retries``) and a per-attempt timeout (``timeout_s``);
* truncation: an answer cut by the token limit raises ``LLMCallError("truncated")``
  unless the caller allows it (``allow_truncated=True``, then ``.truncated`` is set);
* refusals: an answer stopped by the provider's content filter raises
  ``LLMCallError("refused")`` (it is stored, so a rerun does not pay for it again);
* failure accounting: every failed attempt is counted by reason (``rate_limit``,
  ``timeout``, ``server_error``, ``provider_error``), retried ones apart from final
  ones (see :class:`~msm.llm.usage.UsageMeter`);
* per-item storage keyed by content, so a rerun never pays twice;
* structured output with re-asking on parse errors;
* usage accounting per stage;
* batch mode (``AccessConfig.batch``, openai/ and anthropic/ only): calls go through
  the provider's batch API via Inspect's batchers (:mod:`msm.llm.batch`), with no
  per-attempt timeout, up to ``msm.llm.batch.IN_FLIGHT`` calls waiting at once, and a
  call its batch has not answered after ``batch_wait_s`` sent once by an ordinary call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from msm.errors import LLMCallError, MsmError
from msm.llm.answers import completion_text, failure_reason, root_cause, usage_tokens
from msm.llm.batch import (
    IN_FLIGHT,
    batch_config,
    batched_generate,
    check_batch_provider,
    install_guard,
)
from msm.llm.names import ResolvedModel, get_inspect_model, resolve_model
from msm.llm.store import ResultStore
from msm.llm.structured import ParseError, Parser
from msm.llm.usage import UsageMeter

T = TypeVar("T")
V = TypeVar("V")
KEY_VERSION = 1
# providers whose Inspect API honours a cache boundary on the leading system message
CACHE_MARK_PROVIDERS = frozenset({"anthropic", "openai"})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a str never holds a valid pair as two


class GenConfig(BaseModel):
    """Settings that change the answer; all of them are part of the storage key."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(default=512, ge=1)
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] | None = None


class AccessConfig(BaseModel):
    """Settings that don't change the answer (not part of the key)."""

    model_config = ConfigDict(extra="forbid")

    max_concurrency: int = Field(default=16, ge=1)
    max_retries: int = Field(default=4, ge=0)
    timeout_s: float = Field(default=300.0, gt=0)
    backoff_s: float | None = Field(
        default=None, gt=0, description="first retry wait (msm-owned providers); None = provider's"
    )
    base_url: str | None = None
    batch: bool = Field(default=False, description="use the provider's batch API (via Inspect)")
    batch_wait_s: float = Field(
        default=10800.0,
        gt=0,
        description="batch: wait this long for a batch, then send what is left by ordinary "
        "calls, once",
    )


class Message(BaseModel):
    """A provider-neutral chat message."""

    role: str
    content: str


class Completion(BaseModel):
    """One finished call. ``input_tokens`` counts every input token, those read from or
    written to the provider's prompt cache included (``input_tokens_cache_read`` and
    ``_write``: None where the provider does not say)."""

    text: str
    stop_reason: str
    truncated: bool
    input_tokens: int
    output_tokens: int
    model: str
    input_tokens_cache_read: int | None = None
    input_tokens_cache_write: int | None = None
    cached: bool = False
    key: str = ""

    @property
    def refused(self) -> bool:
        """Stopped by the provider's content filter (a refusal)."""
        return self.stop_reason == "content_filter"


@dataclass
class Structured(Generic[V]):
    """A parsed value plus the completions it took (re-asks included)."""

    value: V
    completion: Completion
    attempts: int


def as_messages(
    prompt: str | Sequence[Message | dict[str, str]], system: str | None = None
) -> list[Message]:
    """Normalise a prompt (a string or a message list) to ``Message`` objects."""
    if isinstance(prompt, str):
        msgs = [Message(role="user", content=prompt)]
    else:
        msgs = [m if isinstance(m, Message) else Message(**m) for m in prompt]
    if system is not None:
        msgs = [Message(role="system", content=system), *msgs]
    if not msgs:
        raise MsmError("empty prompt")
    return msgs


def _to_inspect(msgs: list[Message], cache_prefix: bool = False) -> list[Any]:
    """Inspect messages; ``cache_prefix``: a leading system message is marked as the cache
    boundary, so Anthropic caches it alone rather than every whole prompt (a write at
    1.25x the input price on each call) and OpenAI gets an explicit breakpoint."""
    from inspect_ai.model import (
        ChatMessageAssistant,
        ChatMessageSystem,
        ChatMessageUser,
        ContentText,
    )

    kinds = {
        "system": ChatMessageSystem,
        "user": ChatMessageUser,
        "assistant": ChatMessageAssistant,
    }
    out: list[Any] = []
    for m in msgs:
        if m.role not in kinds:
            raise MsmError(f"unsupported message role {m.role!r}")
        if cache_prefix and not out and m.role == "system" and m.content:
            block = ContentText(text=m.content, cache_breakpoint=True)
            out.append(ChatMessageSystem(content=[block]))
            continue
        out.append(kinds[m.role](content=m.content))
    return out


class LLM:
    """A model plus its call policy, store and usage meter. Safe to share across tasks."""

    def __init__(
        self,
        model: str,
        *,
        gen: GenConfig | None = None,
        access: AccessConfig | None = None,
        store: ResultStore | str | Path | None = None,
        usage: UsageMeter | None = None,
        stage: str = "default",
        model_args: dict[str, Any] | None = None,
    ) -> None:
        self.gen = gen or GenConfig()
        self.access = access or AccessConfig()
        if self.access.batch:
            check_batch_provider(model, stage)
        self.resolved: ResolvedModel = resolve_model(model, base_url=self.access.base_url)
        self.name = model
        self.store = ResultStore(store) if isinstance(store, str | Path) else store
        self.usage = usage or UsageMeter()
        self.stage = stage
        self._model_args = {**self.resolved.model_args, **(model_args or {})}
        self._model: Any = None
        self._plain: Any = None
        self._guards: Any = None  # msm.llm.batch.BatchGuards in batch mode
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None

    # -- internals -------------------------------------------------------
    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            limit = self.access.max_concurrency
            if self.access.batch:
                # a batch waits for its whole size: a stage cap would send tiny batches
                limit = max(limit, IN_FLIGHT)
            self._sem = asyncio.Semaphore(limit)
            self._sem_loop = loop
        return self._sem

    def inspect_model(self) -> Any:
        """The underlying Inspect ``Model`` (created on first use)."""
        if self._model is None:
            if not self.access.batch:
                self._model = self._plain_model()
                return self._model
            from inspect_ai.model import GenerateConfig

            # no attempt_timeout: cancelling a batched wait resubmits it (paid again);
            # no max_connections: Inspect lets a batch's requests all wait at once
            cfg = GenerateConfig(max_retries=self.access.max_retries, batch=batch_config())
            model = get_inspect_model(
                self.name, cfg, self.access.base_url, self._model_args, check=False
            )
            self._guards = install_guard(model, self.stage)
            self._model = model
        return self._model

    @property
    def batch_failure(self) -> MsmError | None:
        """Batch mode: the first batch that failed as a whole (``BatchError``), else None."""
        return self._guards.fatal if self._guards is not None else None

    def _plain_model(self) -> Any:
        """The model without batching (the ordinary path, and batch mode's fallback)."""
        if self._plain is None:
            from inspect_ai.model import GenerateConfig

            cfg = GenerateConfig(
                max_retries=self.access.max_retries,
                attempt_timeout=int(max(1, self.access.timeout_s)),
                max_connections=self.access.max_concurrency,
            )
            self._plain = get_inspect_model(
                self.name, cfg, self.access.base_url, self._model_args, check=False
            )
        return self._plain

    def key_for(self, msgs: list[Message], gen: GenConfig, sample: int) -> str:
        """The storage key: model name, generation settings, messages, sample index.

        Hashed incrementally (length-prefixed fields) rather than via one big JSON
        dump: prompts are long and this runs on every call.
        """
        h = hashlib.sha256()
        head = json.dumps(
            {"v": KEY_VERSION, "model": self.name, "gen": gen.model_dump(), "sample": sample},
            sort_keys=True,
        )
        for part in (head, *(x for m in msgs for x in (m.role, m.content))):
            data = part.encode("utf-8")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        return h.hexdigest()

    # -- public ----------------------------------------------------------
    async def generate(
        self,
        prompt: str | Sequence[Message | dict[str, str]],
        *,
        sample: int = 0,
        system: str | None = None,
        stage: str | None = None,
        allow_truncated: bool = False,
        allow_refused: bool = False,
        **overrides: Any,
    ) -> Completion:
        """Generate one completion (or return the stored one).

        ``overrides`` replace fields of the ``GenConfig`` for this call.
        Raises ``LLMCallError`` when the call fails for good, with ``reason`` in
        {"truncated", "refused", "rate_limit", "timeout", "server_error",
        "provider_error"}; ``allow_truncated`` / ``allow_refused`` return such
        answers instead (check ``.truncated`` / ``.refused``).
        """
        msgs = as_messages(prompt, system)
        gen = (
            GenConfig.model_validate({**self.gen.model_dump(), **overrides})
            if overrides
            else self.gen
        )
        stage = stage or self.stage
        key = self.key_for(msgs, gen, sample)
        hit = self.store.get(key) if self.store is not None else None
        if hit is not None:
            comp = Completion(**{**hit, "cached": True, "key": key})
            self.usage.record(stage, self.name, cached=True)
        else:
            comp = await self._call(msgs, gen, sample, stage, key)
        if comp.refused:
            self.usage.record_problem(stage, "refused")
            if not allow_refused:
                raise LLMCallError("refused", f"{self.name}: the model refused (content filter)")
        if comp.truncated:
            self.usage.record_problem(stage, "truncated")
        if comp.truncated and not allow_truncated:
            raise LLMCallError(
                "truncated",
                f"{self.name}: output hit the {gen.max_tokens}-token limit (truncated)",
            )
        return comp

    async def _call(
        self, msgs: list[Message], gen: GenConfig, sample: int, stage: str, key: str
    ) -> Completion:
        from inspect_ai.model import GenerateConfig

        model = self.inspect_model()
        seed = gen.seed + sample if gen.seed is not None else None
        if seed is None and self.resolved.provider == "fake":
            seed = sample  # the fake is a pure function of (messages, seed)
        cfg = GenerateConfig(
            max_tokens=gen.max_tokens,
            temperature=gen.temperature,
            top_p=gen.top_p,
            seed=seed,
            stop_seqs=gen.stop,
        )
        total = self.access.timeout_s * (self.access.max_retries + 1) + 5
        # the slot is held until the answer is stored: a kill loses at most
        # max_concurrency paid answers, never a queue of them waiting for the store
        async with self._semaphore():
            try:
                if self.resolved.local:
                    out = await self._direct(model.api, _to_inspect(msgs), cfg, stage)
                elif self._guards is not None:
                    out = await batched_generate(self, model, _to_inspect(msgs), cfg, stage)
                else:
                    cache = self.resolved.provider in CACHE_MARK_PROVIDERS
                    out = await asyncio.wait_for(
                        model.generate(_to_inspect(msgs, cache), config=cfg), total
                    )
            except TimeoutError as e:
                self.usage.record(stage, self.name, failed=True, reason="timeout")
                raise LLMCallError("timeout", f"{self.name}: call timed out") from e
            except MsmError:
                raise
            except Exception as e:
                root = root_cause(e)
                reason = failure_reason(root)
                self.usage.record(stage, self.name, failed=True, reason=reason)
                detail = str(root).strip().splitlines()[0] if str(root).strip() else ""
                raise LLMCallError(
                    reason, f"{self.name}: {type(root).__name__}{': ' + detail if detail else ''}"
                ) from e
            n_in, n_out, cache_read, cache_write = usage_tokens(out.usage)
            stop = str(out.stop_reason or "unknown")
            # providers that don't report a stop reason: hitting the limit exactly counts as cut
            truncated = stop == "max_tokens" or (stop == "unknown" and n_out >= gen.max_tokens)
            comp = Completion(
                # an unpaired surrogate (legal in a provider's JSON) cannot be stored as UTF-8
                text=_LONE_SURROGATE.sub("\ufffd", completion_text(out)),
                stop_reason=stop,
                truncated=truncated,
                input_tokens=n_in,
                output_tokens=n_out,
                model=self.name,
                input_tokens_cache_read=cache_read,
                input_tokens_cache_write=cache_write,
                key=key,
            )
            if self.store is not None:
                await asyncio.to_thread(
                    self.store.put, key, comp.model_dump(exclude={"cached", "key"}), self.name
                )
        self.usage.record(
            stage,
            self.name,
            n_in,
            n_out,
            cache_read=cache_read,
            cache_write=cache_write,
            batch=self.access.batch,
        )
        if self._guards is not None and self._guards.fatal is not None:
            raise self._guards.fatal  # this answer is stored; the stage stops
        return comp

    async def _direct(self, api: Any, messages: list[Any], cfg: Any, stage: str) -> Any:
        """Call an msm-owned model API (fake, local) without Inspect's per-call wrapper.

        Inspect's ``Model.generate`` costs about 2 ms of CPU per call here (config
        merging, events, usage records), which caps one process near 500 calls/s
        and dominated the fake-model benchmarks. For the providers msm implements
        itself we apply the same policy directly: per-attempt timeout, retries of
        the errors the API marks transient, exponential backoff with jitter.
        """
        base = self.access.backoff_s or float(getattr(api, "msm_backoff_s", 1.0))
        attempt = 0
        while True:
            try:
                out = await asyncio.wait_for(
                    api.generate(input=messages, tools=[], tool_choice="none", config=cfg),
                    self.access.timeout_s,
                )
                return out[0] if isinstance(out, tuple) else out
            except Exception as e:
                transient = isinstance(e, TimeoutError | asyncio.TimeoutError) or bool(
                    api.should_retry(e)
                )
                if not transient or attempt >= self.access.max_retries:
                    raise
                self.usage.record_retry(stage, self.name, failure_reason(e))
                wait = min(base * 2**attempt, 60.0)
                await asyncio.sleep(wait * (0.5 + random.random()))
                attempt += 1

    async def generate_structured(
        self,
        prompt: str | Sequence[Message | dict[str, str]],
        parser: Parser[T],
        *,
        sample: int = 0,
        system: str | None = None,
        stage: str | None = None,
        max_reasks: int = 2,
        drop_cut_line: bool = False,
        **overrides: Any,
    ) -> Structured[T]:
        """Generate and parse; on a parse error or truncation, re-ask with the reason.

        Each attempt is its own stored call (the re-ask transcript differs), so a
        rerun replays them for free. With ``drop_cut_line`` (for line lists)
        a truncated answer is used without its last, cut-off line. After
        ``max_reasks`` failed re-asks the item fails with ``LLMCallError`` whose
        reason is ``parse_error`` or ``truncated``.
        """
        msgs = as_messages(prompt, system)
        last_reason, last_msg = "parse_error", ""
        for attempt in range(max_reasks + 1):
            comp = await self.generate(
                msgs,
                sample=sample,
                stage=stage,
                allow_truncated=True,
                allow_refused=True,
                **overrides,
            )
            if comp.refused:
                # a refusal of a harmless request (a false positive): ask again
                last_reason, last_msg = "refused", "the model refused"
                problem = "This is a harmless request; please answer it."
                msgs = [
                    *msgs,
                    Message(role="assistant", content=comp.text),
                    Message(role="user", content=f"{problem} {parser.instructions}"),
                ]
                continue
            if comp.truncated and drop_cut_line and "\n" in comp.text.strip():
                # line-oriented answers: everything before the cut-off line is complete
                complete = comp.text.rstrip().rsplit("\n", 1)[0]
                try:
                    return Structured(parser.parse(complete), comp, attempt + 1)
                except ParseError:
                    pass
            if comp.truncated:
                last_reason, last_msg = "truncated", "your reply was cut off by the length limit"
                problem = "Your reply was cut off by the length limit. Answer again, shorter."
            else:
                try:
                    return Structured(parser.parse(comp.text), comp, attempt + 1)
                except ParseError as e:
                    self.usage.record_problem(stage or self.stage, "parse_error")
                    last_reason, last_msg = "parse_error", str(e)
                    problem = f"Your reply could not be used: {e}."
            msgs = [
                *msgs,
                Message(role="assistant", content=comp.text),
                Message(role="user", content=f"{problem} {parser.instructions}"),
            ]
        raise LLMCallError(
            last_reason,
            f"{self.name}: no usable answer after {max_reasks + 1} attempts ({last_msg})",
        )
