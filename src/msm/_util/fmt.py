"""Sizes and durations for people: what the dry run, the runner and the report print."""

from __future__ import annotations

import math


def fmt_bytes(n: float | None) -> str:
    """``1.5 GB``; ``?`` when unknown."""
    if n is None:
        return "?"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def fmt_seconds(s: float | None) -> str:
    """``45 s``, ``3m05s``, ``2h10m``, ``1.5 d``; ``?`` when unknown."""
    if s is None:
        return "?"
    s = max(0.0, s)
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    return f"{int(s // 60)}m{int(math.ceil(s % 60)):02d}s" if s >= 60 else f"{s:.0f} s"
