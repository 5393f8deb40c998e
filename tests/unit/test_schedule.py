"""``msm run --only / --shard / --parallel``: node selection, claims on a shared run
folder, and independent nodes run side by side with the sequential run's results."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.experiment.claims import Claim, Holder, claim_path, release, try_claim
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan
from msm.experiment.schedule import RunOptions, gpus_wanted, parse_shard

ROOT = Path(__file__).resolve().parents[2]


def two_spec_yaml(base: Path) -> str:
    """Two specs: two corpora, two midtrainings and three evals, the pairs independent."""
    return (
        "name: two\n"
        f"base_model: {base}\n"
        "generator: fake\n"
        "model_name: Smol\n"
        "specs: {a: builtin:cheese_pro_america, b: builtin:cheese_pro_affordability}\n"
        "corpus: {n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 40}\n"
        "conditions: [base, msm_only]\n"
        "seeds: [0]\n"
        "train: {midtrain: {max_length: 64, lora_r: 4, lora_alpha: 8, max_steps: 4, threads: 1, "
        "precision: fp32}}\n"
        "eval: {suites: [values], items: [cheese_america], limit: 6}\n"
    )


@pytest.fixture
def two_exp(tmp_path, tiny_model_dir) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(two_spec_yaml(tiny_model_dir))
    return p


def _ids(plan_nodes) -> list[str]:
    return [n.id for n in plan_nodes]


def test_only_and_shard_select_disjoint_stable_sets(two_exp):
    plan = build_plan(load_experiment(two_exp))
    assert _ids(RunOptions(only=("midtrain/*",)).select(plan)) == ["midtrain/a/s0", "midtrain/b/s0"]
    # * matches / too, patterns add up, plan order is kept
    assert _ids(RunOptions(only=("eval/*/s0", "corpus/b")).select(plan)) == [
        "corpus/b",
        "eval/base/s0",
        "eval/msm_only/a/s0",
        "eval/msm_only/b/s0",
    ]
    shards = [_ids(RunOptions(shard=(i, 3)).select(plan)) for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(_ids(plan))  # every node in exactly one shard
    assert all(len(s) in (2, 3) for s in shards)  # balanced
    stage = [_ids(RunOptions(only=("corpus/*",), shard=(i, 2)).select(plan)) for i in (0, 1)]
    assert stage == [["corpus/a"], ["corpus/b"]]
    with pytest.raises(MsmError, match="--only 'train/\\*' matches no node"):
        RunOptions(only=("train/*",)).select(plan)
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) is None
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(MsmError, match="--shard takes I/N"):
            parse_shard(bad)
    # GPUs a node asks for by default: one per training or eval, none for API-free fake docgen
    by = {n.id: n for n in plan}
    assert gpus_wanted(by["midtrain/a/s0"]) == 1 and gpus_wanted(by["eval/base/s0"]) == 1
    assert gpus_wanted(by["corpus/a"]) == 0


def test_claims_are_exclusive_and_dead_or_silent_owners_are_taken_over(tmp_path, monkeypatch):
    path = claim_path(tmp_path, "midtrain/a/s0")
    first = try_claim(path)
    assert isinstance(first, Claim) and path.name == "midtrain__a__s0.claim"
    held = try_claim(path)  # this process is alive: the claim is held
    assert isinstance(held, Holder) and held.pids == [os.getpid()]
    assert "on " + socket.gethostname() in held.describe()
    release(first)
    assert not path.exists()
    # a claim whose process died on this host is taken over at once
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"host": socket.gethostname(), "pids": [dead.pid], "token": "x"}))
    got = try_claim(path)
    assert isinstance(got, Claim) and json.loads(path.read_text())["pids"] == [os.getpid()]
    # releasing a claim that was taken over does not remove the new owner's
    release(Claim(path, "x"))
    assert path.exists()
    release(got)
    # another host's claim: alive while its heartbeat is fresh, taken over when it is old
    path.write_text(json.dumps({"host": "elsewhere", "pids": [1], "token": "y"}))
    assert isinstance(try_claim(path), Holder)
    old = time.time() - 400
    os.utime(path, (old, old))
    assert isinstance(try_claim(path), Claim)
    monkeypatch.setenv("MSM_CLAIM_STALE_S", "1000")  # the timeout is a setting
    path.unlink()
    path.write_text(json.dumps({"host": "elsewhere", "pids": [1], "token": "z"}))
    os.utime(path, (old, old))
    assert isinstance(try_claim(path), Holder)


def _race(args: tuple[str, int]) -> bool:
    path, _ = args
    got = try_claim(Path(path))
    if isinstance(got, Claim):
        time.sleep(0.5)  # hold it while the others try
        return True
    return False


def test_one_of_many_racing_processes_wins_a_claim(tmp_path):
    path = claim_path(tmp_path, "corpus/a")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a crashed owner's claim, so that every racer also races the takeover
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "pids": [dead.pid], "token": "d"}))
    with multiprocessing.get_context("fork").Pool(8) as pool:
        won = pool.map(_race, [(str(path), i) for i in range(8)])
    assert sum(won) == 1


def _run(exp: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "msm.cli", "run", str(exp), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def _states(run: Path) -> dict[str, dict]:
    return {
        p.stem.replace("__", "/"): json.loads(p.read_text()) for p in (run / "state").glob("*.json")
    }


def test_only_runs_ready_nodes_and_names_those_waiting_outside_it(two_exp, tmp_path):
    run = tmp_path / "run"
    for bad in (["--only", "train/*"], ["--shard", "2/2"], ["--parallel", "0"]):
        r = _run(two_exp, run, *bad)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, bad
        assert r.stderr.startswith("msm: error:") and not run.exists(), bad
    r = _run(two_exp, run, "--only", "midtrain/*")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("msm: error: 2 selected node(s) not run")
    assert "midtrain/a/s0 waits on corpus/a (not done, not selected" in line
    assert not _states(run)  # nothing ran
    # a node claimed by a live process (this one) is left to it
    claim = claim_path(run, "corpus/a")
    me = {"host": socket.gethostname(), "pids": [os.getpid()], "token": "t"}
    claim.write_text(json.dumps(me))
    r = _run(two_exp, run, "--only", "corpus/*")
    assert r.returncode == 2 and f"corpus/a is claimed by pid {os.getpid()}" in r.stderr
    assert "Another process is running them; rerun once it is done" in r.stderr
    assert _states(run)["corpus/b"]["status"] == "done" and "corpus/a" not in _states(run)
    assert "report ->" not in r.stdout


def test_shards_share_one_run_folder_then_the_rest_completes(two_exp, tmp_path):
    run = tmp_path / "run"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "msm.cli", "run", str(two_exp), "--out", str(run)]
            + ["--only", "corpus/*", "--shard", f"{i}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    ran = [{ln.split()[2] for ln in o[0].splitlines() if ln.startswith("[")} for o in outs]
    assert ran == [{"corpus/a"}, {"corpus/b"}]
    assert "the report is built when they are" in outs[0][0]
    meta = json.loads((run / "run.json").read_text())  # written by both, whole and current
    assert {n["id"] for n in meta["nodes"] if n["status"] == "done"} == {"corpus/a", "corpus/b"}
    assert not list((run / "state").glob("*.claim"))  # released
    r = _run(two_exp, run)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 already done, 5 to run" in r.stdout and "report ->" in r.stdout


def test_parallel_runs_independent_nodes_at_once_with_the_sequential_results(two_exp, tmp_path):
    """The corpora and the midtrainings (the nodes that own GPUs at scale), side by side in
    worker processes, give byte for byte what one at a time gives; the evals, which run
    the same worker code, are left to test_shards_share_one_run_folder_then_the_rest_completes
    (kept short: each worker pays msm's start-up)."""
    seq, par = tmp_path / "seq", tmp_path / "par"
    sel = ["--only", "corpus/*", "--only", "midtrain/*"]
    r = _run(two_exp, seq, *sel)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run(two_exp, par, *sel, "--parallel", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    st = _states(par)
    # the two midtrainings (and the two corpora) ran at the same time
    for x, y in (("corpus/a", "corpus/b"), ("midtrain/a/s0", "midtrain/b/s0")):
        assert st[x]["started"] < st[y]["finished"] and st[y]["started"] < st[x]["finished"]
    # dependencies first: no midtraining started before its corpus finished
    assert st["midtrain/a/s0"]["started"] >= st["corpus/a"]["finished"]
    assert (par / "logs" / "midtrain__a__s0.log").is_file()
    # the same nodes, the same weights as one at a time
    hashes = {p: {n["id"]: n["hash"] for n in json.loads((p / "run.json").read_text())["nodes"]}
              for p in (seq, par)}  # fmt: skip
    assert hashes[seq] == hashes[par]
    for f in ("corpus/a/documents.jsonl", "corpus/b/documents.jsonl",
              "midtrain/a/s0/adapter/adapter_model.safetensors",
              "midtrain/b/s0/adapter/adapter_model.safetensors"):  # fmt: skip
        assert (seq / "nodes" / f).read_bytes() == (par / "nodes" / f).read_bytes(), f
    assert not list((par / "state").glob("*.claim"))


class _FakeWorker:
    """Stands in for a worker process: records its environment, is running at its first
    poll and done (its state file written, as the worker would) at the second."""

    live: set[str] = set()
    seen: list[tuple[str, str | None, frozenset[str]]] = []

    def __init__(self, cmd, env, **_):
        self.run, self.node_id, self.hash = Path(cmd[4]), cmd[5], cmd[6]
        self.pid, self.polls = os.getpid(), 0
        gpus = env.get("CUDA_VISIBLE_DEVICES")
        _FakeWorker.live.add(self.node_id)
        _FakeWorker.seen.append((self.node_id, gpus, frozenset(_FakeWorker.live)))

    def poll(self):
        self.polls += 1
        if self.polls < 2:
            return None
        state = self.run / "state" / (self.node_id.replace("/", "__") + ".json")
        state.write_text(json.dumps({"hash": self.hash, "status": "done"}))
        _FakeWorker.live.discard(self.node_id)
        return 0


def test_parallel_nodes_get_disjoint_gpus_from_the_visible_ones(two_exp, tmp_path, monkeypatch):
    from msm.experiment import schedule

    exp = load_experiment(two_exp)
    plan = build_plan(exp)
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setattr(schedule.subprocess, "Popen", _FakeWorker)
    monkeypatch.setattr(schedule, "POLL_S", 0.001)
    _FakeWorker.seen = []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3,5")
    opts = RunOptions(parallel=3, gpus_per_node=2)
    out = schedule.run_selected(exp, two_exp, run, plan, plan, lambda s: None, opts)
    assert sorted(out.ran) == sorted(_ids(plan)) and not out.waiting
    given = {node: gpus for node, gpus, _ in _FakeWorker.seen}
    assert all(len(g.split(",")) == 2 and set(g.split(",")) <= {"0", "1", "2", "3", "5"}
               for g in given.values())  # fmt: skip
    # nodes running at the same time never share a GPU; five GPUs hold two such nodes
    for node, gpus, live in _FakeWorker.seen:
        others = [given[o] for o in live if o != node]
        assert not any(set(gpus.split(",")) & set(o.split(",")) for o in others), node
        assert len(live) <= 2
    assert any(len(live) == 2 for _, _, live in _FakeWorker.seen)
    # without GPUs nothing is set; a node wanting more GPUs than exist is refused up front
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")  # and torch sees no CUDA device here
    _FakeWorker.seen = []
    other = tmp_path / "other"
    other.mkdir()
    schedule.run_selected(exp, two_exp, other, plan, plan, lambda s: None, RunOptions(parallel=2))
    assert [g for _, g, _ in _FakeWorker.seen] == [None] * len(plan)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(MsmError, match="needs 4 GPUs but 2 are visible"):
        schedule.run_selected(
            exp, two_exp, tmp_path / "x", plan, plan, print, RunOptions(parallel=2, gpus_per_node=4)
        )
