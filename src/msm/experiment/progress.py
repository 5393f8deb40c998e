"""``msm run``'s live progress lines: plan position, current stage, elapsed time and ETA."""

from __future__ import annotations

import time
from collections.abc import Callable

from msm.experiment.plan import Node, NodeKind

# rough relative cost of each kind, used for the ETA until real durations exist
_PRIOR_S: dict[NodeKind, float] = {
    "corpus": 150.0,
    "aftdata": 5.0,
    "midtrain": 120.0,
    "aft": 60.0,
    "eval": 90.0,
}


def fmt_hms(s: float) -> str:
    """``4m05s``, or ``2h10m`` from an hour on."""
    s = max(0, int(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Line-based live progress: plan position, current stage, elapsed and ETA."""

    def __init__(self, plan: list[Node], todo: list[Node], echo: Callable[[str], None]) -> None:
        self.total = len(plan)
        self.todo = list(todo)
        self.done_s: dict[str, list[float]] = {}
        self.echo = echo
        self.t0 = time.monotonic()
        self.i = len(plan) - len(todo)

    def eta(self, remaining: list[Node]) -> float:
        est = 0.0
        for n in remaining:
            seen = self.done_s.get(n.kind)
            est += sum(seen) / len(seen) if seen else _PRIOR_S.get(n.kind, 30.0)
        return est

    def start(self, node: Node) -> None:
        self.i += 1
        remaining = self.todo[self.todo.index(node) :]
        self.echo(
            f"[{self.i}/{self.total}] {node.kind:<8} {node.id}  (elapsed "
            f"{fmt_hms(time.monotonic() - self.t0)}, ETA ~{fmt_hms(self.eta(remaining))})"
        )

    def finish(self, node: Node, seconds: float) -> None:
        self.done_s.setdefault(node.kind, []).append(seconds)
        self.echo(f"        done in {fmt_hms(seconds)}")
