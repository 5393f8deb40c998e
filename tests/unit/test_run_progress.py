"""``msm run``'s ETA starts from the dry run's projection and corrects itself as nodes
finish (it used fixed guesses: 90 s an eval whatever the eval)."""

from __future__ import annotations

from pydantic import BaseModel

from msm.experiment.plan import Node
from msm.experiment.progress import Progress, projected_seconds


class _Cfg(BaseModel):
    pass


def _nodes() -> list[Node]:
    kinds = ["corpus", "midtrain", "midtrain", "eval", "eval", "eval"]
    return [Node(f"{k}/{i}", k, _Cfg()) for i, k in enumerate(kinds)]  # type: ignore[arg-type]


def test_eta_starts_at_the_projection_and_learns_each_kinds_ratio():
    plan = _nodes()
    projected = {"corpus/0": 100.0, "midtrain/1": 50.0, "midtrain/2": 50.0,
                 "eval/3": 1000.0, "eval/4": 1000.0, "eval/5": 1000.0}  # fmt: skip
    lines: list[str] = []
    p = Progress(plan, plan, lines.append, projected)
    assert p.eta(plan) == 3200.0  # the projection, not the fixed priors (~540 s here)
    p.record(plan[0], 200.0)  # the corpus took twice its projection
    # no midtrain or eval has finished: every kind scaled by the ratio seen so far (2x)
    assert p.eta(plan[1:]) == 2 * 3100.0
    p.record(plan[1], 25.0)  # a midtrain took half its projection: its own ratio now
    # the evals: the mean ratio of every node done (2 and 0.5)
    assert p.eta(plan[2:]) == 25.0 + 1.25 * 3000.0
    p.record(plan[3], 500.0)  # an eval took half too
    assert p.eta(plan[4:]) == 2 * 500.0


def test_without_a_projection_the_measured_kind_mean_then_priors():
    plan = _nodes()
    p = Progress(plan, plan, lambda _: None, projected_seconds(None))
    before = p.eta(plan[3:])
    p.record(plan[3], 12.0)
    assert p.eta(plan[4:]) == 24.0 and before != 36.0


def test_projected_seconds_reads_only_usable_numbers():
    nodes = {"a": {"seconds": 5}, "b": {"seconds": None}, "c": {"seconds": -1}, "d": "x"}
    assert projected_seconds(nodes) == {"a": 5.0}
