"""Run the ``msm`` CLI with a call ledger, for the kill campaign (``kill_campaign.py``).

Usage: ``python benchmarks/kill_worker.py LEDGER msm-args...``

Every model call that reaches the provider (inside the concurrency limit, where a
real API would be paid) appends ``call KEY`` to LEDGER, KEY being msm's storage key.
Together with the result store's keys read between kills, the campaign can tell a
call repeated after its answer was stored (a defect) from one that was in flight at
the kill (paid again, unavoidably). Each line is one ``write`` on an ``O_APPEND``
file, so a kill cannot tear it.
"""

from __future__ import annotations

import contextvars
import os
import sys
from typing import Any

_KEY: contextvars.ContextVar[str] = contextvars.ContextVar("msm_call_key", default="?")


def install_ledger(path: str) -> None:
    from msm.llm import client

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    call, direct = client.LLM._call, client.LLM._direct

    async def _call(self: Any, msgs: Any, gen: Any, sample: int, stage: str, key: str) -> Any:
        _KEY.set(key)  # this task's key, read below once the call really starts
        return await call(self, msgs, gen, sample, stage, key)

    async def _direct(self: Any, api: Any, messages: Any, cfg: Any, stage: str) -> Any:
        os.write(fd, f"call {_KEY.get()}\n".encode())
        return await direct(self, api, messages, cfg, stage)

    client.LLM._call = _call  # type: ignore[method-assign]
    client.LLM._direct = _direct  # type: ignore[method-assign]


if __name__ == "__main__":
    install_ledger(sys.argv[1])
    from msm.cli import main

    main(sys.argv[2:])
