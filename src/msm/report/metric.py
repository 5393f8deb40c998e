"""One number read from an eval's ``summary.json``, and the lenient readers that build it.

The bottom of the report's reading: :mod:`msm.report.load` flattens a summary into
:class:`Metric` objects and :mod:`msm.report.variants` adds the robustness axes, both with
the readers here, so neither has to import the other. A summary is untrusted input: each
reader turns a missing, malformed or non-finite value into None instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

AGENTIC_METRICS = ("classifier_verdict", "harmful", "attempt")


@dataclass(frozen=True)
class Metric:
    """One number from a summary: mean (or rate), its 95% interval, and its sample size.

    ``field`` is the dotted key path inside ``summary.json`` the numbers were read from.
    """

    name: str
    mean: float | None
    ci95: tuple[float, float] | None
    n: int | None
    higher_is_better: bool
    field: str
    extra: dict[str, Any] = dc_field(default_factory=dict)


def opt_int(x: Any) -> int | None:
    """An integer written as int, integral float or digit string; else None (bools too)."""
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str) and x.strip().lstrip("-").isdigit():
        return int(x)
    return None


def number(x: Any) -> float | None:
    """A finite int or float as float; anything else (bools, NaN, strings) None."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def interval(x: Any) -> tuple[float, float] | None:
    """A two-number list as a (low, high) interval; None unless both ends are numbers."""
    if isinstance(x, list | tuple) and len(x) == 2:
        lo, hi = number(x[0]), number(x[1])
        if lo is not None and hi is not None:
            return (lo, hi)
    return None


def rate_metric(name: str, block: Any, fld: str, extra: dict[str, Any]) -> Metric | None:
    """A rate block (``{"rate", "ci95", "n"}``) as a lower-is-better metric; None if not a dict."""
    if not isinstance(block, dict):
        return None
    return Metric(
        name, number(block.get("rate")), interval(block.get("ci95")), opt_int(block.get("n")),
        False, fld, extra,
    )  # fmt: skip
