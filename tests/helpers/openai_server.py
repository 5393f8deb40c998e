"""A tiny OpenAI-compatible server for tests: real HTTP, scripted answers.

It answers ``POST /v1/chat/completions`` (and ``GET /v1/models``) the way an
OpenAI-compatible server (vLLM, SGLang...) does, so msm's real provider paths
(``openai-api/...``, ``vllm/...``) run end to end offline. Answers come from the
``fake`` model's built-in docgen and aftgen scripts plus a few eval rules, so
every msm stage gets replies in the shape it parses. Every request is recorded
(method, path, headers with lower-case names, parsed JSON body, the usage
block answered) for assertions, e.g. that the API key
really went out as the bearer token.

Example::

    with OpenAIServer() as srv:
        os.environ["LOCAL_BASE_URL"] = srv.url  # http://127.0.0.1:PORT/v1
        ...
        assert srv.requests[0]["headers"]["authorization"] == "Bearer KEY"

Options: ``rules`` are scripted answers tried before the built-in ones, and
``reasoning_field=True`` answers the way vLLM does with a reasoning parser: a
leading ``<think>X</think>`` goes out as ``message.reasoning_content`` ("X",
unstripped) and the rest, as written, as ``message.content``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from inspect_ai.model import ChatMessageUser, GenerateConfig
from tests.helpers.loopback import Loopback

from msm.llm.fake import FakeModelAPI, FakeRule, FakeScript, builtin_script

# eval answers: value items want a letter, the spec QA grader a SCORE line
EVAL_RULES = [
    FakeRule(match="You are grading one answer", response="Fair answer.\nSCORE: 7"),
    FakeRule(match="Reply with the letter of the option you choose", response="A"),
]


def _script(extra: Sequence[FakeRule] = ()) -> FakeScript:
    rules = [*extra, *EVAL_RULES, *builtin_script("docgen").rules, *builtin_script("aftgen").rules]
    return FakeScript(rules=rules)


def _text(content: Any) -> str:
    """A message's text (a string, or OpenAI's list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _logprobs(text: str, top: int) -> dict[str, Any]:
    """First-token logprobs in OpenAI's shape: the answer's letter likely, the other not."""
    first = text.split()[0] if text.split() else ""
    other = "B" if first == "A" else "A"
    alts = [{"token": first, "logprob": -0.1, "bytes": list(first.encode())}]
    alts.append({"token": other, "logprob": -2.5, "bytes": list(other.encode())})
    return {"content": [{**alts[0], "top_logprobs": alts[: max(1, top)]}]}


class OpenAIServer(Loopback):
    """A threaded HTTP server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(
        self,
        rules: Sequence[FakeRule] = (),
        reasoning_field: bool = False,
        prompt_logprobs: Callable[[list[int]], list[float | None]] | None = None,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.prompt_logprobs = prompt_logprobs
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._api = FakeModelAPI("default", script=_script(rules))
        self.reasoning_field = reasoning_field
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _record(self, body: Any) -> dict[str, Any]:
                rec = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "usage": None,  # the usage block answered, if any
                }
                with owner._lock:
                    owner.requests.append(rec)
                return rec

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._record(None)
                if self.path.rstrip("/").endswith("/v1/models"):
                    models = sorted(
                        {str(r["body"]["model"]) for r in owner.requests if r["body"]}
                        | {"test-model"}
                    )
                    data = [
                        {"id": m, "object": "model", "owned_by": "test", "max_model_len": 8192}
                        for m in models
                    ]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(n) or b"{}")
                except ValueError:
                    body = None
                rec = self._record(body)
                if self.path.rstrip("/").endswith("/v1/completions"):
                    code, payload = owner.text_completion(body)
                    self._send(code, payload)
                elif not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                elif not isinstance(body, dict) or not body.get("messages"):
                    self._send(400, {"error": {"message": "messages required"}})
                else:
                    answer = owner.complete(body)
                    rec["usage"] = answer["usage"]
                    self._send(200, answer)

        self.serve(Handler)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat completion for one request body (the fake's scripted answer)."""
        transcript = "\n".join(_text(m.get("content")) for m in body["messages"])
        seed = body.get("seed")
        if seed is None:  # repeated samples of one prompt still differ
            with self._lock:
                seed = self._seen[transcript]
                self._seen[transcript] += 1
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        cfg = GenerateConfig(seed=int(seed), max_tokens=int(limit) if limit else None)
        out = asyncio.run(
            self._api.generate([ChatMessageUser(content=transcript)], [], "none", cfg)
        )
        text = out.completion
        usage = out.usage
        assert usage is not None
        message: dict[str, Any] = {"role": "assistant", "content": text}
        split = re.match(r"<think>(.*?)</think>", text, re.S) if self.reasoning_field else None
        if split is not None:  # vLLM's reasoning parsers: neither side is stripped
            message = {
                "role": "assistant",
                "content": text[split.end() :] or None,
                "reasoning_content": split.group(1),
            }
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": "length" if out.stop_reason == "max_tokens" else "stop",
        }
        if body.get("logprobs"):
            choice["logprobs"] = _logprobs(text, int(body.get("top_logprobs") or 1))
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "test-model")),
            "choices": [choice],
            "usage": {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens,
            },
        }

    def text_completion(self, body: Any) -> tuple[int, dict[str, Any]]:
        """``/v1/completions`` as vLLM answers it with ``echo`` and ``logprobs``: the prompt
        (token ids) echoed with each prompt token's log-probability (the first is None),
        then one generated token. Needs ``prompt_logprobs``."""
        if self.prompt_logprobs is None:
            return 404, {"error": {"message": "this server has no /v1/completions"}}
        ids = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return 400, {"error": {"message": "prompt must be a list of token ids here"}}
        lps: list[float | None] = list(self.prompt_logprobs(ids)) + [-0.5]
        logprobs = {
            "tokens": [f"<{i}>" for i in ids] + ["<gen>"],
            "token_logprobs": lps if body.get("echo") and body.get("logprobs") else lps[-1:],
            "top_logprobs": None,
            "text_offset": list(range(len(lps))),
        }
        choice = {"index": 0, "text": "", "logprobs": logprobs, "finish_reason": "length"}
        usage = {"prompt_tokens": len(ids), "completion_tokens": 1, "total_tokens": len(ids) + 1}
        reply = {"id": "cmpl-0", "object": "text_completion", "choices": [choice], "usage": usage}
        return 200, reply
