"""Option log-likelihoods from a vLLM server (``vllm/<model>``), the way they are read locally.

vLLM's OpenAI-compatible ``/v1/completions`` returns the log-probability of every
*prompt* token when asked with ``echo`` and ``logprobs`` (what lm-evaluation-harness
relies on for its ``local-completions`` model). msm tokenizes the question and each
option with the model's own tokenizer, exactly as the local scorer does, sends the
token ids as the prompt, and sums the log-probabilities of the option's tokens. The
rows are the local scorer's rows, so summaries, baselines and reports do not care
where the numbers came from.

The server is the one Inspect's vLLM provider uses: ``VLLM_BASE_URL`` (and
``VLLM_API_KEY``) for a running server, else the server Inspect starts on the model.
The reply is untrusted input: a reply without prompt log-probabilities, of the wrong
length, or with a value that is not a finite number <= 0 is an error naming the item,
never a silent zero.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.evals.capability import local_model_path
from msm.evals.loglik import (
    VERSION,
    encode_item,
    item_row,
    load_model,
    load_tokenizer,
    option_logliks,
)
from msm.evals.values.items import ValueItem
from msm.llm.names import resolve_model
from msm.llm.refs import served_by_vllm, vllm_served_name

CONCURRENCY = 16
RETRIES = 3


@dataclass(frozen=True)
class Server:
    base_url: str  # ends in /v1
    api_key: str
    model: str  # the name the server serves the model under


def vllm_server(name: str, server_args: dict[str, Any] | None = None) -> Server:
    """Where ``vllm/<model>`` is served: ``VLLM_BASE_URL`` or the server Inspect starts
    (with ``server_args``: tensor_parallel_size, max_model_len, gpu_memory_utilization)."""
    import os

    served = vllm_served_name(name)
    url = os.environ.get("VLLM_BASE_URL")
    if url:
        return Server(url.rstrip("/"), os.environ.get("VLLM_API_KEY", "inspectai"), served)
    from inspect_ai.model import get_model

    api = get_model(name, **(server_args or {})).api
    resolve = getattr(api, "_resolve_server", None)
    if resolve is not None:  # Inspect starts its vLLM server lazily
        resolve()
    base = getattr(api, "base_url", None)
    if not base:
        raise MsmError(f"no vLLM server for {name}: set VLLM_BASE_URL to a running server")
    return Server(str(base).rstrip("/"), str(getattr(api, "api_key", "") or ""), served)


def tokenizer_source(name: str) -> str:
    """The folder or hub id whose tokenizer the served model uses."""
    return vllm_served_name(name)


def _token_logprobs(reply: Any, n_prompt: int) -> list[Any]:
    try:
        lps = reply["choices"][0]["logprobs"]["token_logprobs"]
    except (KeyError, IndexError, TypeError):
        lps = None
    if not isinstance(lps, list) or len(lps) < n_prompt:
        raise ValueError(
            "the reply has no log-probabilities for the prompt tokens (the server must "
            "support echo with logprobs on /v1/completions, as vLLM does)"
        )
    return lps


def _continuation_ll(lps: list[Any], start: int, n: int) -> float:
    total = 0.0
    for v in lps[start : start + n]:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"a prompt token's log-probability is not a number: {v!r}")
        if v > 1e-4:
            raise ValueError(f"a log-probability above 0: {v!r}")
        total += float(v)
    return total


async def _score_remote(
    server: Server, tok: Any, items: list[ValueItem], concurrency: int
) -> list[dict[str, Any]]:
    import httpx

    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}

    async def one(client: Any, it: ValueItem, ctx: list[int], cont: list[int]) -> tuple[float, int]:
        body = {
            "model": server.model,
            "prompt": ctx + cont,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        err: str = ""
        for attempt in range(RETRIES):
            async with sem:
                try:
                    r = await client.post(f"{server.base_url}/completions", json=body)
                except httpx.HTTPError as e:
                    err = f"{type(e).__name__}"
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
            if r.status_code >= 500 or r.status_code == 429:
                err = f"HTTP {r.status_code}"
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if r.status_code != 200:
                raise MsmError(
                    f"vLLM server refused the log-likelihood request for item {it.id}: "
                    f"HTTP {r.status_code} {' '.join(r.text.split())[:160]}"
                )
            try:
                lps = _token_logprobs(r.json(), len(ctx) + len(cont))
                return _continuation_ll(lps, len(ctx), len(cont)), len(cont)
            except ValueError as e:
                raise MsmError(f"vLLM server reply for item {it.id}: {e}") from None
        raise MsmError(
            f"vLLM server at {server.base_url} did not answer for item {it.id} "
            f"after {RETRIES} tries ({err})"
        )

    encoded = [encode_item(tok, it) for it in items]
    async with httpx.AsyncClient(headers=headers, timeout=120.0) as client:
        lls = await asyncio.gather(
            *[
                one(client, it, ctx, cont)
                for it, (ctx, conts, _) in zip(items, encoded, strict=True)
                for cont in conts
            ]
        )
    return [
        item_row(it, texts, list(lls[2 * k : 2 * k + 2]))
        for k, (it, (_, _, texts)) in enumerate(zip(items, encoded, strict=True))
    ]


class RemoteScorer:
    """Scores items through a vLLM server with the model's own tokenizer."""

    def __init__(
        self,
        name: str,
        tok: Any,
        concurrency: int = CONCURRENCY,
        server_args: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.tok, self.concurrency = name, tok, concurrency
        self.server_args = dict(server_args or {})
        self._server: Server | None = None

    def score(self, items: list[ValueItem]) -> list[dict[str, Any]]:
        if self._server is None:
            self._server = vllm_server(self.name, self.server_args)
        return asyncio.run(_score_remote(self._server, self.tok, items, self.concurrency))


def is_remote_loglik(name: str) -> bool:
    return served_by_vllm(name)


def remote_tokenizer(name: str) -> Any:
    src = tokenizer_source(name)
    try:
        return load_tokenizer(src)
    except (OSError, ValueError) as e:
        where = "folder" if Path(src).exists() else "hub id (not in the local cache?)"
        raise MsmError(
            f"--scoring loglik with {name} needs the model's tokenizer locally; "
            f"could not load it from the {where} {src}: {type(e).__name__}"
        ) from None


class LocalScorer:
    """Scores items with the model loaded here (embedded, ``hf/<folder>``, a folder).

    Within one process (``msm run`` evaluates every node in its own process), a model's
    rows for the same items are computed once: every trained model's eval scores the base
    model as its baseline on the same items, and those rows are reused (keyed by the
    folder, its weights' size and modification time, and the item ids and texts)."""

    _rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def __init__(self, path: str) -> None:
        self.path, self.tok = path, load_tokenizer(path)
        self._model: Any = None

    def _weights_key(self) -> tuple[Any, ...]:
        files = sorted(Path(self.path).glob("*.safetensors")) + sorted(
            Path(self.path).glob("*.bin")
        )
        return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)

    def score(self, items: list[ValueItem]) -> list[dict[str, Any]]:
        key = (
            str(Path(self.path).resolve()),
            self._weights_key(),
            VERSION,
            tuple((it.id, it.question, it.aligned, it.other) for it in items),
        )
        hit = LocalScorer._rows.get(key)
        if hit is not None:
            return [dict(r) for r in hit]
        if self._model is None:
            self._model = load_model(self.path)
        rows = option_logliks(self.tok, self._model, items)
        if len(LocalScorer._rows) > 64:  # a bound, not a policy: runs have a few dozen sets
            LocalScorer._rows.clear()
        LocalScorer._rows[key] = [dict(r) for r in rows]
        return rows


def loglik_scorer(
    name: str, server_args: dict[str, Any] | None = None
) -> LocalScorer | RemoteScorer:
    """The scorer for a model name: local weights, or a vLLM server (started by Inspect
    with ``server_args``, which a local model ignores)."""
    if is_remote_loglik(name):
        return RemoteScorer(name, remote_tokenizer(name), server_args=server_args)
    return LocalScorer(local_model_path(name))


def runs_here(name: str) -> bool:
    """Whether msm runs the model itself (embedded, hf/, a folder): log-likelihoods available."""
    return resolve_model(name, check=False).provider in ("embedded", "hf")


def gives_logliks(name: str) -> bool:
    """Whether loglik scoring works for this model: run here, or served by vLLM."""
    return is_remote_loglik(name) or runs_here(name)
