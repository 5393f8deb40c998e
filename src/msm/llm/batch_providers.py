"""The provider halves of msm's batch guard (:mod:`msm.llm.batch`): OpenAI Files +
Batches and Anthropic Message Batches, as subclasses of Inspect's batchers."""

from __future__ import annotations

import json
from typing import Any

from msm.llm.batch_guard import BatchAbandoned, Guard, RequestEnded
from msm.llm.inspect_private import (
    anthropic_batcher,
    anthropic_result,
    batch_check_result,
    openai_batcher,
)


def openai_guard() -> type:
    class MsmOpenAIBatcher(Guard, openai_batcher()):  # type: ignore[misc]
        """OpenAI Files + Batches, with msm's checks."""

        _status: dict[str, str]

        def _adapt_batch_info(self, input: Any) -> Any:
            status = str(input.status)
            if status == "failed":
                errs = getattr(getattr(input, "errors", None), "data", None) or []
                first = errs[0].message if errs and errs[0].message else "no reason given"
                self._ended[str(input.id)] = f"failed ({' '.join(str(first).split())[:200]})"
            elif status == "expired":
                self._ended[str(input.id)] = "expired"
            self._status[str(input.id)] = status
            return input

        async def _check_batch(self, batch: Any) -> Any:
            result = await super()._check_batch(batch)
            status = self._status.get(str(batch.id))
            terminal = status in ("expired", "cancelled")
            if terminal and result.completion_info is None and batch.id in self._inflight_batches:
                await self._resolve_inflight_batch(batch, {})  # no result files at all
            return result

        async def _handle_batch_result(self, batch: Any, completion_info: Any) -> dict[str, Any]:
            # line by line: one bad line must not lose the answers beside it
            results: dict[str, Any] = {}
            bad = 0
            for uri in self._uris_from_completion_info(completion_info):
                raw = await self._download_result_file(uri)
                for line in raw.decode("utf-8", "replace").splitlines():
                    if not line.strip():
                        continue
                    try:
                        rid, value = self._parse_line(json.loads(line))
                    except Exception:
                        bad += 1
                        continue
                    results[rid] = value
            if bad:
                self._unparsed[str(batch.id)] = bad
            return results

        def _parse_line(self, data: dict[str, Any]) -> tuple[str, Any]:
            rid = data.get("custom_id")
            if not isinstance(rid, str) or not rid:
                raise ValueError("no custom_id")
            err = data.get("error")
            if isinstance(err, dict) and not isinstance(err.get("code"), int):
                code = str(err.get("code"))  # batch_expired, batch_cancelled...
                if code == "batch_cancelled":
                    return rid, BatchAbandoned(code)
                return rid, RequestEnded(code)
            resp = data.get("response")
            if (
                err is None
                and isinstance(resp, dict)
                and resp.get("status_code") not in (200, None)
            ):
                # a request the provider refused inside the batch: an ordinary API error
                body = resp.get("body") or {}
                msg = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
                data = {
                    "custom_id": rid,
                    "error": {"code": int(resp["status_code"]), "message": str(msg or "")},
                }
            rid2, value = self._parse_jsonl_line(data)
            return str(rid2), value

        async def _cancel_batch(self, batch_id: str) -> None:
            await self._openai_client.batches.cancel(batch_id)

    return MsmOpenAIBatcher


def anthropic_guard() -> type:
    class MsmAnthropicBatcher(Guard, anthropic_batcher()):  # type: ignore[misc]
        """Anthropic Message Batches, with msm's checks."""

        _expired: set[str]

        async def _check_batch(self, batch: Any) -> Any:
            info = await self._client.messages.batches.retrieve(batch.id)
            counts = info.request_counts
            if counts.expired:
                self._expired.add(str(batch.id))
            return batch_check_result(
                completed_count=counts.succeeded + counts.canceled,
                failed_count=counts.expired + counts.errored,
                created_at=int(info.created_at.timestamp()),
                completion_info=True if info.processing_status == "ended" else None,
            )

        async def _handle_batch_result(self, batch: Any, completion_info: Any) -> dict[str, Any]:
            results: dict[str, Any] = {}
            try:
                results.update(await super()._handle_batch_result(batch, completion_info))
            except Exception:
                # the SDK stops at the first line it cannot read: keep what came before
                self._unparsed[str(batch.id)] = 1
                results.update(await self._partial_results(batch))
            if str(batch.id) in self._expired:
                self._expired.discard(str(batch.id))
                self._ended[str(batch.id)] = "expired"
            return results

        async def _partial_results(self, batch: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            try:
                async for r in await self._client.messages.batches.results(batch.id):
                    out[r.custom_id] = anthropic_result(r)
            except Exception:
                pass
            return out

        def _expired_error(self, value: Exception) -> bool:
            from anthropic import APITimeoutError

            return isinstance(value, APITimeoutError) and "/batches" in str(
                getattr(getattr(value, "request", None), "url", "")
            )

        def _cancelled_error(self, value: Exception) -> bool:
            from anthropic import APIConnectionError, APITimeoutError

            return (
                isinstance(value, APIConnectionError)
                and not isinstance(value, APITimeoutError)
                and "/batches" in str(getattr(getattr(value, "request", None), "url", ""))
            )

        async def _cancel_batch(self, batch_id: str) -> None:
            await self._client.messages.batches.cancel(batch_id)

    return MsmAnthropicBatcher
