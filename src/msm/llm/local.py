"""A batched local backend for Hugging Face causal LMs, as an Inspect model API.

Inspect's own ``hf`` provider batches concurrent requests too, but it waits for
two quiet seconds before each batch and polls results once a second, sets no
stop reason (so truncation is invisible) and cannot do greedy decoding per call.
This backend keeps Inspect's interface (it is registered as the ``msm-local``
model API) and fixes those: requests arriving within ``batch_window`` seconds are
generated together, results are handed back the moment the batch ends, greedy
is chosen per call by ``temperature=0``, and each output says whether it stopped
on EOS or hit the token limit.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput, modelapi

from msm.llm.api_base import MsmModelAPI, model_output
from msm.llm.kvcache import cache_kwarg, shared_prefill

DEFAULT_BATCH_SIZE = 16
LOGPROB_TOKENS_KEY = "msm_logprob_tokens"  # GenerateConfig.extra_body key (msm-local only)
DEFAULT_BATCH_WINDOW = 0.05


@dataclass
class _Request:
    prompt: str
    key: Hashable
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[str, str, int, int, Any]]


@dataclass
class LocalEngine:
    """One loaded model plus the thread that generates for it in batches."""

    path: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_window: float = DEFAULT_BATCH_WINDOW
    dtype: str = "float32"
    share_prefill: bool = True  # the shared prompt head and repeated prompts prefilled once
    batches_run: int = 0
    prefilled_batches: int = 0
    largest_batch: int = 0
    _queue: queue.Queue[_Request] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keep CLI output to msm's own lines

        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        # decoder-only models must be left-padded for batched generation
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=getattr(torch, self.dtype)
        ).eval()
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        eos_ids.append(self.tokenizer.eos_token_id)
        self.eos_ids = {int(e) for e in eos_ids if e is not None}

    # -- prompt building -------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> str:
        """Apply the model's chat template (or a plain transcript without one). A final
        assistant message is a prefill: the answer continues it."""
        prefill = bool(messages) and messages[-1]["role"] == "assistant"
        if self.tokenizer.chat_template:
            return str(
                self.tokenizer.apply_chat_template(
                    messages,
                    add_generation_prompt=not prefill,
                    continue_final_message=prefill,
                    tokenize=False,
                )
            )
        if prefill:
            head = "".join(f"{m['role']}: {m['content']}\n" for m in messages[:-1])
            return head + "assistant: " + messages[-1]["content"]
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    # -- batching --------------------------------------------------------
    async def generate(self, prompt: str, kwargs: dict[str, Any]) -> tuple[str, str, int, int, Any]:
        """Queue one prompt; returns (text, stop_reason, input/output tokens, logprobs)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[str, str, int, int, Any]] = loop.create_future()
        # the seed is not part of the batch key: requests that differ only by seed
        # share a batch, which is then seeded from all of them (see _generate_batch)
        key = tuple(sorted((k, repr(v)) for k, v in kwargs.items() if k != "seed"))
        self._ensure_thread()
        self._queue.put(_Request(prompt, key, kwargs, loop, fut))
        return await fut

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._worker, daemon=True)
                self._thread.start()

    def _worker(self) -> None:
        while True:
            first = self._queue.get()
            pending = [first]
            deadline = time.monotonic() + self.batch_window
            while len(pending) < self.batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    pending.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            groups: dict[Hashable, list[_Request]] = {}
            for r in pending:
                groups.setdefault(r.key, []).append(r)
            for group in groups.values():
                self._run(group)

    def _run(self, group: list[_Request]) -> None:
        live = [r for r in group if not r.future.cancelled()]
        if not live:
            return
        try:
            seeds = sorted(r.kwargs["seed"] for r in live if r.kwargs.get("seed") is not None)
            kwargs = {**live[0].kwargs, "seed": hash(tuple(seeds)) % 2**31 if seeds else None}
            results = self._generate_batch([r.prompt for r in live], kwargs)
        except Exception as e:  # hand the error to every waiter, keep the thread alive
            for r in live:
                r.loop.call_soon_threadsafe(_set_exception, r.future, e)
            return
        for r, res in zip(live, results, strict=True):
            r.loop.call_soon_threadsafe(_set_result, r.future, res)

    def _generate_batch(
        self, prompts: list[str], kwargs: dict[str, Any]
    ) -> list[tuple[str, str, int, int, Any]]:
        import torch

        self.batches_run += 1
        self.largest_batch = max(self.largest_batch, len(prompts))
        inputs = self._inputs(prompts)
        max_new = int(kwargs.get("max_new_tokens", 256))
        gen: dict[str, Any] = {
            "max_new_tokens": max_new,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        temperature = kwargs.get("temperature")
        if temperature is not None and float(temperature) <= 0.0:
            # transformers rejects temperature=0; greedy is what callers mean
            gen["do_sample"] = False
        else:
            gen["do_sample"] = True
            gen["temperature"] = float(temperature) if temperature is not None else 1.0
            for k in ("top_p", "top_k"):
                if kwargs.get(k) is not None:
                    gen[k] = kwargs[k]
        if kwargs.get("seed") is not None:
            torch.manual_seed(int(kwargs["seed"]))
        want = int(kwargs.get("top_logprobs") or 1) if kwargs.get("logprobs") else 0
        if want:
            gen["output_logits"] = True
            gen["return_dict_in_generate"] = True
        with torch.inference_mode():
            res = self.model.generate(**inputs, **gen)
        out = res.sequences if want else res
        steps = [torch.log_softmax(x.float(), dim=-1) for x in res.logits] if want else []
        n_in = int(inputs["input_ids"].shape[1])
        attn = inputs["attention_mask"]
        results = []
        for i in range(len(prompts)):
            new = out[i, n_in:].tolist()
            stop_at = next((j for j, t in enumerate(new) if t in self.eos_ids), None)
            if stop_at is None:
                kept, reason = new, "max_tokens" if len(new) >= max_new else "stop"
                n_out = len(new)
            else:
                kept, reason, n_out = new[:stop_at], "stop", stop_at + 1
            text = str(self.tokenizer.decode(kept, skip_special_tokens=True))
            lps = (
                self._logprobs(steps, i, new[:n_out], want, kwargs.get("logprob_tokens") or ())
                if want
                else None
            )
            results.append((text, reason, int(attn[i].sum()), n_out, lps))
        return results

    def _inputs(self, prompts: list[str]) -> dict[str, Any]:
        """``generate``'s inputs: with the shared prompt head and repeated prompts
        prefilled once (:func:`msm.llm.kvcache.shared_prefill`) where that saves a fifth or
        more of the batch's prompt tokens, else a plain left-padded batch."""
        enc = self.tokenizer(prompts, add_special_tokens=False)  # tokenised once, unpadded
        if self.share_prefill and len(prompts) > 1:
            pre = shared_prefill(self.model, enc.input_ids, int(self.tokenizer.pad_token_id))
            if pre is not None:
                self.prefilled_batches += 1
                ids, mask, cache = pre
                return {"input_ids": ids, "attention_mask": mask, cache_kwarg(self.model): cache}
        padded = self.tokenizer.pad(enc, return_tensors="pt")  # left: the engine's padding side
        return {"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"]}

    def _logprobs(
        self, steps: list[Any], i: int, tokens: list[int], k: int, extra: tuple[str, ...] = ()
    ) -> list[Any]:
        """Per generated token: (text, logprob, [(alternative, logprob)] * k [+ extra])."""
        extra_ids = []
        for text in extra:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            if len(ids) == 1:  # only single-token strings have one next-token logprob
                extra_ids.append(int(ids[0]))
        out = []
        for j, t in enumerate(tokens):
            row = steps[j][i]
            top = row.topk(min(k, row.shape[-1]))
            ids = top.indices.tolist()
            alts = [
                (str(self.tokenizer.decode([int(a)])), float(v))
                for v, a in zip(top.values.tolist(), ids, strict=True)
            ]
            alts += [
                (str(self.tokenizer.decode([a])), float(row[a])) for a in extra_ids if a not in ids
            ]
            out.append((str(self.tokenizer.decode([t])), float(row[t]), alts))
        return out


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


_ENGINES: dict[tuple[str, str], LocalEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(path: str, dtype: str = "float32", **kw: Any) -> LocalEngine:
    """One engine per (model folder, dtype) per process, shared by every caller."""
    with _ENGINES_LOCK:
        eng = _ENGINES.get((path, dtype))
        if eng is None:
            eng = LocalEngine(path, dtype=dtype, **kw)
            _ENGINES[(path, dtype)] = eng
        return eng


@modelapi(name="msm-local")
class LocalModelAPI(MsmModelAPI):
    """Inspect model API over :class:`LocalEngine`.

    ``model_path`` (a local HF folder) is required; ``batch_size``,
    ``batch_window`` and ``dtype`` are optional model args.
    """

    def setup(self, model_args: dict[str, Any]) -> None:
        path = model_args.pop("model_path", None) or self.model_name
        self.engine = get_engine(
            str(path),
            dtype=str(model_args.pop("dtype", "float32")),
            batch_size=int(model_args.pop("batch_size", DEFAULT_BATCH_SIZE)),
            batch_window=float(model_args.pop("batch_window", DEFAULT_BATCH_WINDOW)),
        )

    async def answer(self, input: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        messages = [{"role": m.role, "content": m.text} for m in input]
        kwargs: dict[str, Any] = {"max_new_tokens": config.max_tokens or 256}
        for k in ("temperature", "top_p", "top_k", "seed"):
            v = getattr(config, k)
            if v is not None:
                kwargs[k] = v
        if config.logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = config.top_logprobs or 1
            # msm extension: also report these tokens' logprobs (e.g. answer letters a
            # small model never ranks in its top k), listed after the top k
            extra = (config.extra_body or {}).get(LOGPROB_TOKENS_KEY)
            if extra:
                kwargs["logprob_tokens"] = tuple(str(t) for t in extra)
        start = time.monotonic()
        prompt = self.engine.render(messages)
        text, reason, n_in, n_out, lps = await self.engine.generate(prompt, kwargs)
        stop = "max_tokens" if reason == "max_tokens" else "stop"
        seconds = time.monotonic() - start
        return model_output(self.model_name, text, stop, n_in, n_out, lps, seconds)

    msm_backoff_s = 0.5

    def max_tokens(self) -> int | None:
        return 256

    def max_connections(self) -> int:
        return self.engine.batch_size

    def collapse_user_messages(self) -> bool:
        return True
