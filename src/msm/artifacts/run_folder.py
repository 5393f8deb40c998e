"""The run folder: what ``msm run`` writes and ``msm report`` reads, its paths in one place.

::

    RUN/
      experiment.yaml     the experiment as it was run
      run.json            the plan with each node's status: the report's index
      projection.json     the dry run's projection, written before the first node ran
      nodes/<node id>/    each node's output (corpus, AFT data, checkpoint, eval results)
      state/<id>.json     the runner's state of each node (running or done, its hash)
      state/<id>.claim    a process's claim on a node when several share the folder
      state/*.lock        locks around writes of run.json and of the report
      logs/<id>.log       a worker process's output per node (--parallel)
      report/             report.md, report.html and the figures

A node id holds ``/`` (``eval/msm_aft/n64/s0``): as a folder under ``nodes/`` it nests; as a
file name under ``state/`` the slashes become ``__``.

Example::

    >>> RunFolder(Path("runs/demo")).node_state("eval/base/s0")
    PosixPath('runs/demo/state/eval__base__s0.json')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from msm.artifacts.layout import Child


def node_path(node_id: str) -> str:
    """A node's folder relative to the run folder (as ``run.json`` records it)."""
    return f"nodes/{node_id}"


@dataclass(frozen=True)
class RunFolder:
    root: Path

    experiment = Child("experiment.yaml")  # the experiment file, as the run read it
    run_json = Child("run.json")  # the plan: nodes, their hashes and paths
    projection = Child("projection.json")  # the dry run's projection, for the report
    state = Child("state")  # locks and per-node state
    run_json_lock = Child("run-json.lock", "state")
    report_lock = Child("report.lock", "state")
    report = Child("report")

    def node(self, node_id: str) -> Path:
        """A node's output folder."""
        return self.root / node_path(node_id)

    def node_state(self, node_id: str) -> Path:
        return self.state / (_flat(node_id) + ".json")

    def node_claim(self, node_id: str) -> Path:
        return self.state / (_flat(node_id) + ".claim")

    def node_log(self, node_id: str) -> Path:
        """A worker process's log of one node (``msm run --parallel``)."""
        return self.root / "logs" / (_flat(node_id) + ".log")


def _flat(node_id: str) -> str:
    return node_id.replace("/", "__")
