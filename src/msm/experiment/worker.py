"""One node of a plan in its own process: what ``msm run --parallel`` starts.

``python -m msm.experiment.worker EXPERIMENT RUN NODE_ID HASH CLAIM`` builds the plan again
from the experiment, checks that the node's hash is the one the parent scheduled (the
experiment file did not change in between), keeps the parent's claim alive while it
works and runs the node exactly as ``msm run`` runs it in-process. Errors are one line
(``msm: error: ...``, exit 2), which the parent reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

from msm.errors import MsmError
from msm.experiment.claims import Heartbeat
from msm.experiment.execute import run_node
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan


def run_one(exp_path: Path, run: Path, node_id: str, node_hash: str, claim: Path) -> float:
    """Run ``node_id`` of the experiment into ``run``; returns its seconds."""
    exp = load_experiment(exp_path)
    by_id = {n.id: n for n in build_plan(exp)}
    node = by_id.get(node_id)
    if node is None or node.hash != node_hash:
        raise MsmError(f"{node_id}: {exp_path} changed since this run was planned; rerun msm run")
    with Heartbeat([claim]):
        return run_node(exp, run, node, by_id, lambda s: print(s, flush=True))


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print("usage: python -m msm.experiment.worker EXP RUN NODE_ID HASH CLAIM", file=sys.stderr)
        return 2
    exp_path, run, node_id, node_hash, claim = argv
    try:
        run_one(Path(exp_path), Path(run), node_id, node_hash, Path(claim))
    except MsmError as e:
        print(f"msm: error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
