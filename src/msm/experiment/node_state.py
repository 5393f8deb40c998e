"""The run folder's bookkeeping: one state file per node and ``run.json``.

State lives in ``RUN/state/<node>.json``: written when a node starts (``running``) and
again when it finishes (``done``), each time with the node's hash; ``run.json`` lists
every node with its status for the report. The runner, the scheduler and each worker
process read and write them through this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json
from msm.artifacts.run_folder import RunFolder
from msm.evals.config import named_set, question_sets
from msm.experiment.claims import locked
from msm.experiment.config import Experiment
from msm.experiment.plan import Node
from msm.experiment.stages import static_sets


def state_path(run: Path, node: Node) -> Path:
    """``RUN/state/<node id with / as __>.json``."""
    return RunFolder(run).node_state(node.id)


def _read_state(run: Path, node: Node) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(run, node).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def node_status(run: Path, node: Node) -> str:
    """done | resume | stale | todo."""
    st = _read_state(run, node)
    if st is None:
        return "todo"
    if st.get("hash") != node.hash:
        return "stale"
    return "done" if st.get("status") == "done" else "resume"


def write_run_json(run: Path, exp: Experiment, exp_path: Path, plan: list[Node]) -> None:
    """``RUN/run.json``: the experiment and every node with its status."""
    # several processes may share the run folder: each write reads every state file under
    # the lock, so the last one written holds the newest view
    with locked(RunFolder(run).run_json_lock):
        _write_run_json_now(run, exp, exp_path, plan)


def _write_run_json_now(run: Path, exp: Experiment, exp_path: Path, plan: list[Node]) -> None:
    nodes = []
    for n in plan:
        st = node_status(run, n)
        nodes.append(
            {
                "id": n.id,
                "kind": n.kind,
                "path": n.path,
                "hash": n.hash,
                "deps": n.deps,
                "status": "done" if st == "done" else ("pending" if st == "todo" else st),
                **{k: v for k, v in n.meta.items()},
            }
        )
    headline = exp.report.headline_metric or _default_headline(exp, plan)
    atomic_write_json(
        RunFolder(run).run_json,
        {
            "experiment": {"name": exp.name, "sha256": exp.sha256(), "path": "experiment.yaml"},
            "source": str(exp_path),
            "headline_metric": headline,
            "config": exp.model_dump(),
            "nodes": nodes,
        },
    )


def _default_headline(exp: Experiment, plan: list[Node]) -> str:
    if "agentic" in exp.eval.suites:  # the paper's metric; harmful and attempt sit beside it
        return "agentic.classifier_verdict"
    own = [n.meta["spec"] for n in plan if n.kind == "evalgen"]
    questions, items = static_sets(exp) if own else (exp.eval.questions, exp.eval.items)
    if "values" in exp.eval.suites:
        first = (items or ([] if own else ["cheese_america"])) + own
        return f"values.{named_set(first[0])[0]}"
    if "spec_qa" in exp.eval.suites:
        first_q = question_sets(questions) + own
        return f"spec_qa.{named_set(first_q[0])[0]}"
    return "capability.perplexity"
