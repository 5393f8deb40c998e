"""User-facing errors.

Anything a user can cause (a bad path, a bad flag, a missing key) raises
:class:`MsmError`; the CLI prints its message as one line on stderr and exits
non-zero. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys


class MsmError(Exception):
    """An error caused by input or environment, reported as one clear line."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        # keep it on one line whatever the cause contained
        super().__init__(" ".join(str(message).split()))


_WARNED: set[str] = set()


def warn_once(text: str) -> None:
    """``warning: text`` on stderr, once per process (a stage may load its spec, or resolve
    a model name, more than once)."""
    if text not in _WARNED:
        _WARNED.add(text)
        print(f"warning: {text}", file=sys.stderr)


class LLMCallError(MsmError):
    """A model call that failed for good (after retries), with a recorded reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
