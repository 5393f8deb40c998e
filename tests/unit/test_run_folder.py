"""The run folder's paths come from one owner (msm.artifacts.run_folder): the runner that
writes them and the report that reads them agree because both ask it."""

from __future__ import annotations

from pathlib import Path

from msm.artifacts.run_folder import RunFolder, node_path


def test_paths_of_a_run_folder() -> None:
    rf = RunFolder(Path("/r"))
    assert rf.run_json == Path("/r/run.json")
    assert rf.projection == Path("/r/projection.json")
    assert rf.experiment == Path("/r/experiment.yaml")
    assert rf.node("eval/base/s0") == Path("/r/nodes/eval/base/s0")
    assert rf.node_state("eval/base/s0") == Path("/r/state/eval__base__s0.json")
    assert rf.node_claim("corpus/a") == Path("/r/state/corpus__a.claim")
    assert rf.run_json_lock.parent == rf.report_lock.parent == rf.state
    assert node_path("aft/x/s1") == "nodes/aft/x/s1"


def test_node_state_files_of_different_nodes_never_collide() -> None:
    rf = RunFolder(Path("/r"))
    ids = ["eval/a/s0", "eval/a/s1", "eval/b/s0", "corpus/a", "aft/a/n8/s0"]
    assert len({rf.node_state(i) for i in ids}) == len(ids)
    assert all(p.parent == rf.state for p in map(rf.node_state, ids))
