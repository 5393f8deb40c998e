"""A loopback stand-in for the OpenAI and Anthropic batch APIs (and their plain calls).

One threaded HTTP server answers, closely enough for Inspect's own ``openai/`` and
``anthropic/`` providers (the official SDKs):

* OpenAI: ``POST /v1/files`` (multipart JSONL upload), ``POST /v1/batches``,
  ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``,
  ``GET /v1/files/{id}/content`` and the plain ``POST /v1/chat/completions``;
* Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
  ``GET /v1/messages/batches/{id}/results``, ``POST .../cancel`` and the plain
  ``POST /v1/messages``.

Answers come from :class:`tests.helpers.openai_server.OpenAIServer`'s scripted fake
(plus the fake's eval script), so every msm stage gets replies it parses. A batch
completes ``delay_s`` after it is created; ``modes`` (consumed one per created batch,
then ``"ok"``) script what it does instead: ``never`` (runs until cancelled), ``fail``
(rejected as a whole), ``expire``, ``garbage`` (its first result line is not JSON),
``missing`` (its first result is left out), ``extra`` (one result with an unknown
id). ``refuse=True`` answers every batch-creating call with 401. Counters for the
tests: ``batches`` (id, mode, custom ids, status), ``plain`` (plain calls answered) and
``answered`` (every answer the server produced, plain or in a batch: what was paid).

Example::

    with BatchServer(delay_s=0.3) as srv:
        env = {"OPENAI_BASE_URL": srv.openai_url, "ANTHROPIC_BASE_URL": srv.anthropic_url}
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers.loopback import Loopback
from tests.helpers.openai_server import OpenAIServer

from msm.llm.fake import FakeRule, builtin_script


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


def _multipart_file(body: bytes, ctype: str) -> bytes:
    """The ``file`` part of a multipart/form-data body."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        raise ValueError("no boundary")
    for part in body.split(b"--" + m.group(1).encode()):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return data.removesuffix(b"\r\n")
    raise ValueError("no file part")


class BatchServer(Loopback):
    """See the module doc; use as a context manager."""

    def __init__(
        self,
        delay_s: float = 0.2,
        modes: Sequence[str] = (),
        refuse: bool = False,
        rules: Sequence[FakeRule] = (),
    ) -> None:
        self.delay_s = delay_s
        self.modes = list(modes)
        self.refuse = refuse
        self._fake = OpenAIServer(rules=[*rules, *builtin_script("eval").rules])
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.plain: list[str] = []  # transcripts answered by plain calls
        self.answered: list[str] = []  # transcripts answered at all (paid)
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, payload: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(code)
                ctype = "application/octet-stream" if raw is not None else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with owner._lock:
                    owner.paths.append(f"{time.time():.2f} GET {self.path}")
                code, payload, raw = owner.get(self.path.split("?")[0])
                self._send(code, payload, raw)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with owner._lock:
                    owner.paths.append(f"{time.time():.2f} POST {self.path}")
                code, payload = owner.post(
                    self.path.split("?")[0], body, self.headers.get("Content-Type", "")
                )
                self._send(code, payload)

        self.serve(Handler)
        self.anthropic_url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"http://127.0.0.1:{self.port}/v1"

    # -- answers ---------------------------------------------------------------------
    def _chat(self, body: dict[str, Any], tx: str | None = None) -> dict[str, Any]:
        answer = self._fake.complete(body)
        with self._lock:
            self.answered.append(tx if tx is not None else self.transcript(body))
        return answer

    @staticmethod
    def transcript(body: dict[str, Any]) -> str:
        """A request's messages as one string (what identifies it across runs)."""
        parts = [str(body.get("system") or "")]
        for m in body.get("messages") or []:
            c = m.get("content")
            parts.append(
                c if isinstance(c, str) else "\n".join(str(p.get("text", "")) for p in c or [])
            )
        return "\n".join(parts)

    def _anthropic_message(self, body: dict[str, Any]) -> dict[str, Any]:
        msgs = []
        sys_text = body.get("system")
        if isinstance(sys_text, list):
            sys_text = "\n".join(str(p.get("text", "")) for p in sys_text)
        if sys_text:
            msgs.append({"role": "system", "content": sys_text})
        msgs += body.get("messages") or []
        answer = self._chat(
            {"messages": msgs, "max_tokens": body.get("max_tokens")}, self.transcript(body)
        )
        choice = answer["choices"][0]
        usage = answer["usage"]
        return {
            "id": f"msg_{len(self.answered)}",
            "type": "message",
            "role": "assistant",
            "model": str(body.get("model", "claude")),
            "content": [{"type": "text", "text": choice["message"]["content"] or ""}],
            "stop_reason": "max_tokens" if choice["finish_reason"] == "length" else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
            },
        }

    # -- batches ---------------------------------------------------------------------
    def _new_batch(self, kind: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            mode = self.modes.pop(0) if self.modes else "ok"
            n = len(self.batches)
            bid = f"batch_{n}" if kind == "openai" else f"msgbatch_{n}"
            b = {
                "id": bid,
                "kind": kind,
                "mode": mode,
                "requests": requests,
                "custom_ids": [r["custom_id"] for r in requests],
                "created": time.time(),
                "cancelled": False,
                "results": None,
            }
            self.batches[bid] = b
        return b

    def _finish(self, b: dict[str, Any]) -> str:
        """The batch's status now (answering it, once, when it completes)."""
        done = b["mode"] != "never" and time.time() >= b["created"] + self.delay_s
        if b["results"] is None and b["cancelled"]:
            b["results"] = []  # cancelled before it answered anything
        if b["results"] is None and done:
            b["results"] = [self._result(b, r) for r in b["requests"]]
            if b["mode"] == "missing":
                b["results"] = b["results"][1:]
            if b["mode"] == "extra":
                b["results"].append({**b["results"][0], "custom_id": "not-sent"})
        if b["results"] is None:
            return "in_progress"
        if b["cancelled"]:
            return "cancelled"
        return {"fail": "failed", "expire": "expired"}.get(b["mode"], "completed")

    def _result(self, b: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
        if b["mode"] in ("fail", "expire"):
            return {"custom_id": r["custom_id"], "expired": True}
        if b["kind"] == "openai":
            return {"custom_id": r["custom_id"], "body": self._chat(r["body"])}
        return {"custom_id": r["custom_id"], "body": self._anthropic_message(r["params"])}

    def _openai_batch(self, b: dict[str, Any]) -> dict[str, Any]:
        status = self._finish(b)
        out_id = err_id = None
        answered = [x for x in b["results"] or [] if "body" in x]
        if status in ("completed", "cancelled") and answered:
            lines = [
                json.dumps(
                    {
                        "id": f"req_{i}",
                        "custom_id": x["custom_id"],
                        "response": {"status_code": 200, "request_id": "r", "body": x["body"]},
                        "error": None,
                    }
                )
                for i, x in enumerate(answered)
            ]
            if b["mode"] == "garbage":
                lines[0] = "{not json"
            out_id = f"file-out-{b['id']}"
            self.files[out_id] = ("\n".join(lines) + "\n").encode()
        if status == "expired":
            err_id = f"file-err-{b['id']}"
            lines = [
                json.dumps(
                    {
                        "id": f"req_{i}",
                        "custom_id": cid,
                        "response": None,
                        "error": {"code": "batch_expired", "message": "window expired"},
                    }
                )
                for i, cid in enumerate(b["custom_ids"])
            ]
            self.files[err_id] = ("\n".join(lines) + "\n").encode()
        total = len(b["custom_ids"])
        return {
            "id": b["id"],
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "status": status,
            "created_at": int(b["created"]),
            "output_file_id": out_id,
            "error_file_id": err_id,
            "errors": {"object": "list", "data": [{"code": "invalid", "message": "bad input"}]}
            if status == "failed"
            else None,
            "request_counts": {
                "total": total,
                "completed": len(answered),
                "failed": total - len(answered) if status != "in_progress" else 0,
            },
        }

    def _anthropic_batch(self, b: dict[str, Any]) -> dict[str, Any]:
        status = self._finish(b)
        results = b["results"] or []
        kinds = [self._anthropic_type(b, x) for x in results]
        ended = status != "in_progress"
        n = len(b["custom_ids"])
        return {
            "id": b["id"],
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": kinds.count("succeeded"),
                "errored": 0,
                "canceled": n - len(results) if b["cancelled"] else 0,
                "expired": kinds.count("expired"),
            },
            "created_at": _iso(b["created"]),
            "expires_at": _iso(b["created"] + 86400),
            "ended_at": _iso(time.time()) if ended else None,
            "cancel_initiated_at": _iso(time.time()) if b["cancelled"] else None,
            "archived_at": None,
            "results_url": f"{self.anthropic_url}/v1/messages/batches/{b['id']}/results"
            if ended
            else None,
        }

    @staticmethod
    def _anthropic_type(b: dict[str, Any], x: dict[str, Any]) -> str:
        return "expired" if x.get("expired") else "succeeded"

    def _anthropic_results(self, b: dict[str, Any]) -> bytes:
        lines = []
        results = {x["custom_id"]: x for x in b["results"] or []}
        for cid in b["custom_ids"] + [c for c in results if c not in b["custom_ids"]]:
            x = results.get(cid)
            if x is None:
                if not b["cancelled"]:
                    continue  # mode "missing"
                result: dict[str, Any] = {"type": "canceled"}
            elif x.get("expired"):
                result = {"type": "expired"}
            else:
                result = {"type": "succeeded", "message": x["body"]}
            lines.append(json.dumps({"custom_id": cid, "result": result}))
        if b["mode"] == "garbage" and lines:
            lines[0] = "{not json"
        return ("\n".join(lines) + "\n").encode()

    # -- routing ---------------------------------------------------------------------
    def get(self, path: str) -> tuple[int, Any, bytes | None]:
        if m := re.fullmatch(r"/v1/files/([^/]+)/content", path):
            data = self.files.get(m.group(1))
            return (
                (404, {"error": {"message": "no file"}}, None)
                if data is None
                else (200, None, data)
            )
        if m := re.fullmatch(r"/v1/messages/batches/([^/]+)/results", path):
            b = self.batches.get(m.group(1))
            if b is None:
                return 404, {"type": "error", "error": {"type": "not_found_error"}}, None
            self._finish(b)
            return 200, None, self._anthropic_results(b)
        if m := re.fullmatch(r"/v1/messages/batches/([^/]+)", path):
            b = self.batches[m.group(1)]
            return 200, self._anthropic_batch(b), None
        if m := re.fullmatch(r"/v1/batches/([^/]+)", path):
            return 200, self._openai_batch(self.batches[m.group(1)]), None
        return 404, {"error": {"message": f"no route {path}"}}, None

    def post(self, path: str, raw: bytes, ctype: str) -> tuple[int, Any]:
        refused = {"error": {"message": "invalid api key", "type": "authentication_error"}}
        if path == "/v1/files":
            if self.refuse:
                return 401, refused
            data = _multipart_file(raw, ctype)
            fid = f"file-{len(self.files)}"
            self.files[fid] = data
            return 200, {
                "id": fid,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": "batch.jsonl",
                "purpose": "batch",
                "status": "processed",
            }
        body = json.loads(raw or b"{}")
        if path == "/v1/batches":
            lines = self.files[body["input_file_id"]].decode().splitlines()
            b = self._new_batch("openai", [json.loads(x) for x in lines if x.strip()])
            return 200, self._openai_batch(b)
        if path == "/v1/messages/batches":
            if self.refuse:
                return 401, {"type": "error", "error": refused["error"]}
            b = self._new_batch("anthropic", body["requests"])
            return 200, self._anthropic_batch(b)
        if m := re.fullmatch(r"/v1/(?:messages/)?batches/([^/]+)/cancel", path):
            b = self.batches[m.group(1)]
            b["cancelled"] = True
            return 200, (
                self._openai_batch(b) if b["kind"] == "openai" else self._anthropic_batch(b)
            )
        if path == "/v1/chat/completions":
            with self._lock:
                self.plain.append(self.transcript(body))
            return 200, self._chat(body)
        if path == "/v1/messages":
            with self._lock:
                self.plain.append(self.transcript(body))
            return 200, self._anthropic_message(body)
        return 404, {"error": {"message": f"no route {path}"}}

    # -- lifecycle -------------------------------------------------------------------
    def batched(self) -> list[str]:
        """Transcripts of every request sent in a batch."""
        out = []
        for b in self.batches.values():
            for r in b["requests"]:
                out.append(self.transcript(r["body"] if b["kind"] == "openai" else r["params"]))
        return out
