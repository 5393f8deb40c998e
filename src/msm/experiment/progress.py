"""``msm run``'s live progress lines: plan position, current stage, elapsed time and ETA."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from msm.experiment.plan import Node, NodeKind


def projected_seconds(nodes: dict[str, Any] | None) -> dict[str, float]:
    """Node id -> projected seconds, from ``projection.json``'s nodes (what has them)."""
    out = {}
    for nid, p in (nodes or {}).items():
        s = p.get("seconds") if isinstance(p, dict) else None
        if isinstance(s, int | float) and s > 0:
            out[nid] = float(s)
    return out


# rough relative cost of each kind, used for the ETA until real durations exist
_PRIOR_S: dict[NodeKind, float] = {
    "corpus": 150.0,
    "aftdata": 5.0,
    "evalgen": 60.0,
    "midtrain": 120.0,
    "aft": 60.0,
    "eval": 90.0,
}


def fmt_hms(s: float) -> str:
    """``4m05s``, or ``2h10m`` from an hour on."""
    s = max(0, int(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Line-based live progress: plan position, current stage, elapsed and ETA.

    The ETA starts from the dry run's projection of each node (``projected``: node id ->
    seconds, as ``RUN/projection.json`` holds it) and corrects itself as nodes finish: each
    kind's projection is scaled by how long its finished nodes took against theirs (all
    kinds' ratio until a kind has its own). Without a projection: the measured mean of the
    kind, else a fixed prior."""

    def __init__(
        self,
        plan: list[Node],
        todo: list[Node],
        echo: Callable[[str], None],
        projected: dict[str, float] | None = None,
    ) -> None:
        self.total = len(plan)
        self.todo = list(todo)
        self.done_s: dict[str, list[float]] = {}
        self.ratios: dict[str, list[float]] = {}  # kind -> took / projected, per node done
        self.projected = projected or {}
        self.echo = echo
        self.t0 = time.monotonic()
        self.i = len(plan) - len(todo)

    def eta(self, remaining: list[Node]) -> float:
        every = [r for rs in self.ratios.values() for r in rs]
        est = 0.0
        for n in remaining:
            guess = self.projected.get(n.id)
            if guess is not None:
                mine = self.ratios.get(n.kind) or every
                est += guess * (sum(mine) / len(mine) if mine else 1.0)
                continue
            seen = self.done_s.get(n.kind)
            est += sum(seen) / len(seen) if seen else _PRIOR_S.get(n.kind, 30.0)
        return est

    def record(self, node: Node, seconds: float) -> None:
        """A node finished in ``seconds``: the ETA learns from it."""
        self.done_s.setdefault(node.kind, []).append(seconds)
        guess = self.projected.get(node.id)
        if guess:
            self.ratios.setdefault(node.kind, []).append(seconds / guess)

    def start(self, node: Node) -> None:
        self.i += 1
        remaining = self.todo[self.todo.index(node) :]
        self.echo(
            f"[{self.i}/{self.total}] {node.kind:<8} {node.id}  (elapsed "
            f"{fmt_hms(time.monotonic() - self.t0)}, ETA ~{fmt_hms(self.eta(remaining))})"
        )

    def finish(self, node: Node, seconds: float) -> None:
        self.record(node, seconds)
        self.echo(f"        done in {fmt_hms(seconds)}")
