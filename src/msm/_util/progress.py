"""A long stage's progress on stderr: a live bar on a terminal, plain lines otherwise.

On a terminal (stderr is a TTY) a rich progress bar shows the stage's counts, rate,
elapsed time and ETA, redrawn in place; in a log or CI (not a TTY) the same facts go out
as a plain line every ``every_s`` seconds (``MSM_PROGRESS_EVERY`` overrides it), and once
more at the end of a stage that printed any: a log is never flooded, a long stage never
silent, and a short one (or one that fails: its error is the last line) adds nothing.
``MSM_PROGRESS=plain`` forces the lines, ``off`` silences both.

Example::

    with StageProgress("aftgen", "responses", total=300) as bar:
        for ...:
            bar.update(done=k, note="kept 12")
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from msm._util.fmt import fmt_seconds


def progress_mode(stream: TextIO | None = None) -> str:
    """``bar`` on a terminal, ``plain`` otherwise; ``MSM_PROGRESS`` (bar|plain|off) wins."""
    forced = os.environ.get("MSM_PROGRESS", "").strip().lower()
    if forced in ("bar", "plain", "off"):
        return forced
    s = stream or sys.stderr
    return "bar" if getattr(s, "isatty", lambda: False)() else "plain"


class StageProgress:
    """Counts, rate and ETA of one stage's work (``done`` of ``total`` ``unit``)."""

    def __init__(
        self,
        stage: str,
        unit: str,
        total: int | None = None,
        *,
        quiet: bool = False,
        every_s: float = 15.0,
        stream: TextIO | None = None,
    ) -> None:
        self.stage, self.unit, self.total = stage, unit, total
        self.stream = stream or sys.stderr
        self.mode = "off" if quiet else progress_mode(self.stream)
        every = os.environ.get("MSM_PROGRESS_EVERY", "").strip()
        self.every_s = float(every) if every.replace(".", "", 1).isdigit() else every_s
        self.emitted = 0  # plain lines printed
        self.done = 0
        self.note = ""
        self.t0 = time.monotonic()
        self._last_line = self.t0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        if self.mode == "bar":
            # lazy: rich only when a terminal shows the bar
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(f"{self.stage}: {self.unit}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total, rate="", note="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.t0
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        r = self.rate()
        if self.total is None or not r or self.done >= self.total:
            return None
        return (self.total - self.done) / r

    def line(self) -> str:
        """The plain line: ``aftgen: responses 40/300 | 1.30/s | 31 s elapsed, ETA 3m20s``."""
        of = f"/{self.total}" if self.total is not None else ""
        eta = self.eta()
        parts = [
            f"{self.stage}: {self.unit} {self.done}{of}",
            f"{self.rate():.2f}/s",
            f"{fmt_seconds(time.monotonic() - self.t0)} elapsed, ETA {fmt_seconds(eta)}",
        ]
        return " | ".join(parts + ([self.note] if self.note else []))

    def update(
        self, done: int | None = None, *, total: int | None = None, note: str | None = None
    ) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        if self.mode == "bar" and self._bar is not None:
            self._bar.update(
                self._task, completed=self.done, total=self.total,
                rate=f"{self.rate():.2f}/s", note=self.note,
            )  # fmt: skip
        elif self.mode == "plain" and time.monotonic() - self._last_line >= self.every_s:
            self._emit()

    def _emit(self) -> None:
        self._last_line = time.monotonic()
        self.emitted += 1
        print(self.line(), file=self.stream, flush=True)

    def close(self, failed: bool = False) -> None:
        """The bar stops where it is; plain output that printed any line ends with one
        more (none after a failure: the error is the last line)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.mode == "plain":
            if self.emitted and not failed:
                self._emit()
            self.mode = "closed"


async def watch(progress: StageProgress, read: Any, period: float | None = None) -> None:
    """Update ``progress`` from ``read() -> (done, total, note)`` until cancelled: twice a
    second for a bar, every ``every_s`` for plain lines (``update`` paces those itself)."""
    import asyncio  # lazy: only stages that run an event loop watch

    wait = period if period is not None else (0.5 if progress.mode == "bar" else 1.0)
    while True:
        done, total, note = read()
        progress.update(done, total=total, note=note)
        await asyncio.sleep(wait)


async def with_progress(stage: str, unit: str, read: Any, work: Any) -> None:
    """Await ``work`` while ``read() -> (done, total, note)`` feeds a :class:`StageProgress`
    of ``stage``; the last reading is shown once the work is done."""
    import asyncio  # lazy: only stages that run an event loop watch

    with StageProgress(stage, unit) as bar:
        watcher = asyncio.create_task(watch(bar, read))
        try:
            await work
        finally:
            watcher.cancel()
        done, total, note = read()
        bar.update(done, total=total, note=note)
