"""Seeded kill campaign: ``kill -9`` msm docgen / aftgen / run mid-run, rerun, compare with an
uninterrupted run.

For each command an uninterrupted reference run is made first. Then trials start from an
empty output folder, kill the command one or more times and finally rerun it to completion.

* docgen and aftgen: a kill comes at a random wall-clock moment (start-up, model calls,
  dedup, writing outputs...) or once a random number of model calls has been stored.
* ``msm run``: each kill first picks a target stage uniformly among start-up + corpus + AFT
  data (``prep``), midtraining, AFT training and evals; the kill comes at a random delay
  inside that stage once a node of it is running (the delay is a random fraction of what
  is left of the node, estimated from the reference run). A target whose stage is already
  finished in the trial ends the trial (rerun to completion, compare) and opens the next
  trial with it, so every stage is targeted equally often. Where each kill really landed
  (the running node) is recorded.

Every trial checks:

* the outputs equal the reference's. docgen / aftgen: every file byte for byte
  (``stats.json`` and ``manifest.json`` record for record, without their clock and usage
  fields). ``msm run``: every file of the corpus and AFT data nodes the same way; every
  number in each eval ``summary.json`` and in ``report.json`` exactly (clock fields
  excepted); every trained checkpoint (each ``*.safetensors``: adapters and saved models)
  within atol 1e-5, rtol 1e-4, the tolerance of the training kill test, with the largest
  absolute difference per file recorded; every node ``done``;
* zero lost items: the set of stored model calls equals the reference's;
* zero repeated finished calls: no call whose answer was already stored is made again.

Calls that were in flight at a kill (begun, not yet stored) are paid again by the rerun;
they are counted and reported, not hidden. The model is the deterministic ``fake``, so any
difference is msm's doing. All runs of a campaign use one copy of ``src/msm`` taken at the
start (its hash is recorded), so edits to the working tree while it runs cannot leak in.

Run: ``python benchmarks/kill_campaign.py [--seed N] [--targets run]`` (20+ kills per
command; writes ``benchmarks/results/kill_campaign_seed{N}.json``, or
``kill_campaign_{targets}_seed{N}.json`` for a subset of targets) or ``--quick`` (a few
kills of docgen and aftgen, for CI; writes to the temp folder unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "kill_worker.py"
ALL_TARGETS = ("docgen", "aftgen", "run")
# clock, usage and log-name fields: they differ between any two runs, by design
VOLATILE = {"seconds", "timings", "usage", "written_at", "created", "finished_at", "duration_s"}
NUM_VOLATILE = VOLATILE | {"log", "tokens_per_s", "train_seconds", "wall_seconds", "elapsed_s"}
ATOL, RTOL = 1e-5, 1e-4  # checkpoints, as in tests/unit/test_train.py's kill test
# eval and report numbers: the local engine batches requests that arrive together, and a
# prompt's logprobs move in the 7th digit with its batch mates (padding), so two
# uninterrupted runs differ by ~1e-8 here; the control run in the JSON measures it
NUM_ATOL = 1e-6
# the report's efficiency numbers interpolate between eval means only ~1e-4 apart in this
# tiny experiment, which magnifies that noise ~1e5 times (1e-4 relative seen with no kill)
EFF_RTOL = 1e-2


def _close(path: str, a: float, b: float) -> bool:
    if path.startswith("/efficiency/"):
        return abs(a - b) <= EFF_RTOL * abs(a)
    return abs(a - b) <= NUM_ATOL


STAGES = ("prep", "midtrain", "aft", "eval")  # prep: start-up, corpus, AFT data
STAGE_OF = {"corpus": "prep", "aftdata": "prep", "midtrain": "midtrain", "aft": "aft"}
_LIVE: set[int] = set()  # process groups started here, ended if the campaign is stopped


def _command(target: str, out: Path, extra: dict[str, Path]) -> list[str]:
    if target == "docgen":
        return [
            "docgen",
            "builtin:cheese_pro_america",
            "--out",
            str(out),
            "--model",
            "fake",
            "--judge",
            "fake",
            "--doc-types-from",
            "llm",
            "--model-name",
            "Ada",
            "--tokenizer",
            "approx",
            "--concurrency",
            "8",
            "--quiet",
        ]
    if target == "aftgen":
        return [
            "aftgen",
            "builtin:equanimity",
            "--kind",
            "chat",
            "--n",
            "50",  # ~130 calls: rounds are sized by n, so 30 would make fewer than 100
            "--model",
            "fake",
            "--judge",
            "fake",
            "--model-name",
            "Ada",
            "--out",
            str(out),
        ]
    return ["run", str(extra["experiment"]), "--out", str(out)]


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _numbers(obj: Any, path: str = "") -> dict[str, float]:
    """Every number in a JSON value by its path, clock fields left out."""
    found: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in NUM_VOLATILE:
                found.update(_numbers(v, f"{path}/{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found.update(_numbers(v, f"{path}/{i}"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        found[path] = obj
    return found


def _files(out: Path) -> dict[str, Any]:
    """Every file under ``out`` (not the call store): its hash, or for ``stats.json`` and
    ``manifest.json`` its records without clock and usage fields."""
    snap: dict[str, Any] = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if not p.is_file() or any(x.startswith(".") for x in rel.parts):  # the call store
            continue
        if p.name in ("stats.json", "manifest.json"):
            snap[str(rel)] = _strip(json.loads(p.read_text()))
        else:
            snap[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return snap


def _diff_dicts(prefix: str, ref: dict[str, Any], got: dict[str, Any]) -> list[str]:
    return [f"{prefix}{k}" for k in sorted(set(ref) | set(got)) if ref.get(k) != got.get(k)]


def _compare_files(ref: Path, out: Path) -> dict[str, Any]:
    """docgen / aftgen: every output file."""
    diff = _diff_dicts("", _files(ref), _files(out))
    return {"differences": diff}


def _max_abs(ref: dict[str, float], got: dict[str, float]) -> float:
    common = set(ref) & set(got)
    return max((abs(ref[k] - got[k]) for k in common), default=0.0)


def _compare_tensors(a: Path, b: Path) -> dict[str, Any]:
    """One safetensors file against the reference's: largest absolute difference, and
    whether every tensor is within the tolerance."""
    import torch
    from safetensors.torch import load_file

    ta, tb = load_file(a), load_file(b)
    if set(ta) != set(tb) or any(ta[k].shape != tb[k].shape for k in ta):
        return {"max_abs_diff": None, "bit_identical": False, "within_tolerance": False}
    worst, close, same = 0.0, True, True
    for k in ta:
        x, y = ta[k].to(torch.float64), tb[k].to(torch.float64)
        d = (x - y).abs()
        worst = max(worst, float(d.max()) if d.numel() else 0.0)
        close = close and bool((d <= ATOL + RTOL * x.abs()).all())
        same = same and torch.equal(ta[k], tb[k])
    return {"max_abs_diff": worst, "bit_identical": same, "within_tolerance": close}


def _compare_run(ref: Path, out: Path) -> dict[str, Any]:
    """``msm run``: corpus and AFT data files, eval summaries, report numbers, checkpoints."""
    diff: list[str] = []
    detail: dict[str, Any] = {}
    for node in ("corpus", "aftdata"):
        diff += _diff_dicts(
            f"nodes/{node}/", _files(ref / "nodes" / node), _files(out / "nodes" / node)
        )
    numbers_max, eff_max, numbers_exact = 0.0, 0.0, True
    pairs = [("report/report.json", ref / "report" / "report.json")]
    pairs += [(str(p.relative_to(ref)), p) for p in sorted((ref / "nodes").rglob("summary.json"))]
    got_summaries = {str(p.relative_to(out)) for p in (out / "nodes").rglob("summary.json")}
    diff += [f"{rel} (no reference)" for rel in sorted(got_summaries - {rel for rel, _ in pairs})]
    for rel, path in pairs:
        mine = out / rel
        if not mine.is_file():
            diff.append(f"{rel} (missing)")
            continue
        a = _numbers(json.loads(path.read_text()))
        b = _numbers(json.loads(mine.read_text()))
        eff = {k for k in a if k.startswith("/efficiency/")}
        numbers_max = max(numbers_max, _max_abs({k: v for k, v in a.items() if k not in eff}, b))
        eff_max = max(
            [eff_max]
            + [abs(a[k] - b[k]) / abs(a[k]) for k in eff if k in b and a[k] and a[k] != b[k]]
        )
        numbers_exact = numbers_exact and a == b
        bad = [
            k
            for k in sorted(set(a) | set(b))
            if k not in a or k not in b or not _close(k, a[k], b[k])
        ]
        if bad:
            diff.append(rel)
            # the first few differing numbers side by side
            detail[rel] = {k: {"reference": a.get(k), "after_kills": b.get(k)} for k in bad[:12]}
    tensors: dict[str, Any] = {}
    ref_st = {str(p.relative_to(ref)) for p in (ref / "nodes").rglob("*.safetensors")}
    got_st = {str(p.relative_to(out)) for p in (out / "nodes").rglob("*.safetensors")}
    ref_st = {r for r in ref_st if not any(x.startswith(".") for x in Path(r).parts)}
    got_st = {r for r in got_st if not any(x.startswith(".") for x in Path(r).parts)}
    diff += [f"{r} (missing or extra)" for r in sorted(ref_st ^ got_st)]
    for rel in sorted(ref_st & got_st):
        tensors[rel] = _compare_tensors(ref / rel, out / rel)
        if not tensors[rel]["within_tolerance"]:
            diff.append(rel)
    states = [json.loads(p.read_text()) for p in sorted((out / "state").glob("*.json"))]
    n_nodes = len(list((ref / "state").glob("*.json")))
    if len(states) != n_nodes or any(s["status"] != "done" for s in states):
        diff.append("state (not every node done)")
    return {
        "differences": diff,
        "difference_detail": detail,
        "numbers_exact": numbers_exact,
        "numbers_max_abs_diff": numbers_max,
        "efficiency_max_rel_diff": eff_max,
        "tensors": tensors,
    }


def _calls(path: Path) -> Counter[str]:
    """Calls that reached the provider, by storage key, from a worker's ledger."""
    calls: Counter[str] = Counter()
    if path.is_file():
        for line in path.read_text().splitlines():
            calls[line.partition(" ")[2]] += 1
    return calls


def _stored(out: Path) -> set[str]:
    """Keys of every answer in the result stores under ``out``."""
    keys: set[str] = set()
    for db in out.rglob("llm.sqlite") if out.exists() else ():
        con = sqlite3.connect(db)
        try:
            keys |= {k for (k,) in con.execute("SELECT key FROM results")}
        finally:
            con.close()
    return keys


def _spawn(cmd: list[str], ledger: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # stderr to a file: a pipe nobody reads could fill and stall a long segment
    err = open(ledger.with_suffix(".stderr"), "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(ledger), *cmd],
        stdout=subprocess.DEVNULL,
        stderr=err,
        start_new_session=True,
        cwd=ROOT,
        env=env,
    )
    err.close()
    _LIVE.add(proc.pid)
    return proc


def _end(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the command's process group (it runs in its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _LIVE.discard(proc.pid)


def _states(out: Path) -> dict[str, tuple[str, float]]:
    """``msm run``: node id (as in the state file name) -> (status, time last written)."""
    found = {}
    for p in sorted((out / "state").glob("*.json")):
        try:
            found[p.stem] = (json.loads(p.read_text()).get("status"), p.stat().st_mtime)
        except (OSError, ValueError):
            continue
    return found


def _running_nodes(out: Path, since: float = 0.0) -> list[str]:
    """``msm run``: the nodes marked running by a process started at ``since`` (a killed
    process leaves its node marked running; that mark is older)."""
    return [n for n, (st, mtime) in _states(out).items() if st == "running" and mtime >= since]


def _kind(node: str) -> str:
    return node.split("__")[0]


def _stage(node: str) -> str:
    return STAGE_OF.get(_kind(node), _kind(node))


def _finish(cmd: list[str], ledger: Path, env: dict[str, str], watch: Path | None = None):
    """Run to completion. With ``watch`` (an ``msm run`` folder), also note when each node
    was first seen running, in seconds from the start."""
    t = time.monotonic()
    wall0 = time.time()
    proc = _spawn(cmd, ledger, env)
    first_seen: dict[str, float] = {}
    while proc.poll() is None:
        if watch is not None:
            for n in _running_nodes(watch, wall0):
                first_seen.setdefault(n, time.monotonic() - t)
        if time.monotonic() - t > 3600:
            _end(proc)
        time.sleep(0.05)
    _end(proc)
    if proc.returncode != 0:
        err = ledger.with_suffix(".stderr").read_text(errors="replace")[-2000:]
        raise SystemExit(f"run failed ({proc.returncode}): {err}")
    return time.monotonic() - t, first_seen


def _kill_at(
    cmd: list[str], ledger: Path, trigger: str, value: float, env: dict[str, str]
) -> dict[str, Any]:
    """docgen / aftgen: start the command and kill -9 it when the trigger fires (unless it
    ends first)."""
    t0 = time.monotonic()
    proc = _spawn(cmd, ledger, env)
    while proc.poll() is None:
        now = time.monotonic() - t0
        if trigger == "time" and now >= value:
            break
        if trigger == "calls" and sum(_calls(ledger).values()) >= value:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        _end(proc)
        return {"trigger": trigger, "value": round(value, 3), "killed": False}
    _end(proc)
    at = round(time.monotonic() - t0, 3)
    return {"trigger": trigger, "value": round(value, 3), "killed": True, "at_s": at}


class RunReference:
    """What the uninterrupted ``msm run`` took, to place kills inside a stage."""

    def __init__(self, ref: Path, first_seen: dict[str, float], n_calls: int) -> None:
        states = {p.stem: json.loads(p.read_text()) for p in (ref / "state").glob("*.json")}
        self.nodes = sorted(states)
        self.seconds = {n: float(s.get("seconds", 1.0)) for n, s in states.items()}
        self.steps: dict[str, int] = {}
        for n in self.nodes:
            man = ref / "nodes" / n.replace("__", "/") / "manifest.json"
            if _kind(n) in ("midtrain", "aft") and man.is_file():
                self.steps[n] = int(json.loads(man.read_text()).get("steps") or 1)
        self.startup_s = min(first_seen.values(), default=2.0)
        self.n_calls = n_calls

    def left(self, out: Path, node: str) -> float:
        """Seconds the reference spent on what is left of ``node`` in ``out``."""
        if node in self.steps:
            path = out / "nodes" / node.replace("__", "/")
            work = path.parent / f".{path.name}.msm-train"
            ckpts = sorted(work.glob("ckpt-*")) if work.is_dir() else []
            done = int(ckpts[-1].name.split("-")[1]) if ckpts else 0
            return self.seconds[node] * max(0.1, 1 - done / self.steps[node])
        return self.seconds[node]

    def prep_window(self, out: Path) -> float:
        corpus = [n for n in self.nodes if _kind(n) == "corpus"]
        left = 1 - len(_stored(out)) / max(1, self.n_calls)
        rest = sum(self.seconds[n] for n in self.nodes if _kind(n) == "aftdata")
        return self.startup_s + sum(self.seconds[n] for n in corpus) * left + rest

    def available(self, out: Path, stage: str) -> bool:
        """Whether ``stage`` still has work in the trial at ``out``."""
        states = _states(out)
        done = {n for n, (st, _) in states.items() if st == "done"}
        if stage == "prep":
            return any(n not in done for n in self.nodes if _kind(n) == "corpus")
        return any(n not in done for n in self.nodes if _stage(n) == stage)


def _kill_in_stage(
    cmd: list[str],
    ledger: Path,
    out: Path,
    stage: str,
    frac: float,
    ref: RunReference,
    env: dict[str, str],
) -> dict[str, Any]:
    """``msm run``: start it and kill -9 it ``frac`` of the way into what is left of the
    first node of ``stage`` (``prep``: of start-up + corpus + AFT data). If that node ends
    first, the next node of the stage is timed the same way; if the stage ends first, the
    run goes on to completion (a miss)."""
    wall0 = time.time()
    t0 = time.monotonic()
    proc = _spawn(cmd, ledger, env)
    timed: str | None = None
    deadline = t0 + max(0.2, frac * ref.prep_window(out)) if stage == "prep" else None
    window = round(deadline - t0, 2) if deadline else None
    prep_open = True
    seen = False
    while proc.poll() is None:
        now = time.monotonic()
        running = _running_nodes(out, wall0)
        seen = seen or bool(running)
        if stage == "prep":
            prep_open = prep_open and all(_stage(n) == "prep" for n in running)
            if prep_open and deadline is not None and now >= deadline:
                break
        else:
            mine = [n for n in running if _stage(n) == stage]
            if mine and mine[0] != timed:
                timed = mine[0]
                window = round(ref.left(out, timed), 2)
                deadline = now + frac * window
            if mine and deadline is not None and now >= deadline:
                break
        time.sleep(0.02)
    ev: dict[str, Any] = {"target": stage, "fraction": round(frac, 3), "window_s": window}
    if proc.poll() is not None:
        _end(proc)
        return {**ev, "killed": False}
    _end(proc)
    running = _running_nodes(out, wall0)
    if running:
        landed = "+".join(sorted({_kind(n) for n in running}))
    else:
        landed = "between nodes" if seen or _states_since(out, wall0) else "start-up"
    return {
        **ev,
        "killed": True,
        "at_s": round(time.monotonic() - t0, 3),
        "running": running,
        "landed": landed,
    }


def _states_since(out: Path, since: float) -> bool:
    return any(mtime >= since for _, mtime in _states(out).values())


def campaign(
    target: str,
    kills: int,
    rng: random.Random,
    work: Path,
    extra: dict[str, Path],
    env: dict[str, str],
) -> dict[str, Any]:
    ref = work / f"{target}-ref"
    ref_s, first_seen = _finish(
        _command(target, ref, extra),
        work / f"{target}-ref.ledger",
        env,
        watch=ref if target == "run" else None,
    )
    ref_keys = _stored(ref)
    n_calls = len(ref_keys)
    run_ref = RunReference(ref, first_seen, n_calls) if target == "run" else None
    control: dict[str, Any] | None = None
    if target == "run":
        # a second uninterrupted run: how far two runs differ with no kill at all
        ctl = work / "run-control"
        ctl_s, _ = _finish(_command(target, ctl, extra), work / "run-control.ledger", env)
        control = {"seconds": round(ctl_s, 2), **_compare_run(ref, ctl)}
        control["identical"] = not control["differences"]
        print(f"run control (no kill): identical={control['identical']}", flush=True)
    trials: list[dict[str, Any]] = []
    total_kills = 0
    carried: str | None = None  # msm run: a target stage that opens the next trial
    while total_kills < kills and len(trials) < 5 * kills:
        i = len(trials)
        out = work / f"{target}-{i}"
        cmd = _command(target, out, extra)
        events: list[dict[str, Any]] = []
        repeated = in_flight = made = 0
        n_kills = rng.randint(1, 3)  # docgen / aftgen
        complete = False
        while not complete:
            before = _stored(out)
            ledger = work / f"{target}-{i}-{len(events)}.ledger"
            segment: Callable[[], dict[str, Any]] | None = None
            if target == "run":
                assert run_ref is not None
                stage = carried or rng.choice(STAGES)
                carried = None
                if total_kills + sum(e["killed"] for e in events) >= kills:
                    carried = stage
                elif not run_ref.available(out, stage):
                    carried = stage  # finished here: the next trial starts with it
                else:
                    frac = rng.uniform(0.05, 0.85)
                    segment = lambda: _kill_in_stage(cmd, ledger, out, stage, frac, run_ref, env)  # noqa: B023,E731
            elif len(events) < n_kills:
                left = n_calls - len(before)
                if left > 1 and rng.random() < 0.5:
                    value: float = rng.randint(1, left - 1)
                    segment = lambda: _kill_at(cmd, ledger, "calls", value, env)  # noqa: B023,E731
                else:
                    value = rng.uniform(0.2, ref_s)
                    segment = lambda: _kill_at(cmd, ledger, "time", value, env)  # noqa: B023,E731
            if segment is None:
                _finish(cmd, ledger, env)
                complete = True
            else:
                events.append(segment())
                complete = not events[-1]["killed"]  # it finished before the kill came
            calls = _calls(ledger)
            after = _stored(out)
            made += sum(calls.values())
            # a call whose answer was already stored, or the same call twice: paid twice
            repeated += sum(n if k in before else n - 1 for k, n in calls.items())
            # begun but never stored: in flight when the kill came, paid again by the rerun
            in_flight += sum(1 for k in calls if k not in after)
        n_killed = sum(e["killed"] for e in events)
        total_kills += n_killed
        final = _stored(out)
        cmp = _compare_run(ref, out) if target == "run" else _compare_files(ref, out)
        trial = {
            "kills": n_killed,
            "events": events,
            "identical": not cmp["differences"],
            **cmp,
            "lost_items": len(ref_keys - final),
            "unexpected_calls": len(final - ref_keys),
            "repeated_finished_calls": repeated,
            "in_flight_at_kill_paid_again": in_flight,
            "calls_made": made,
        }
        trials.append(trial)
        extra_info = ""
        if target == "run":
            worst = max((t["max_abs_diff"] or 0.0 for t in cmp["tensors"].values()), default=0)
            landed = ",".join(e.get("landed", "-") for e in events if e["killed"])
            extra_info = f" landed=[{landed}] max_tensor_diff={worst:.3g}"
        print(
            f"{target} trial {i}: kills={n_killed} identical={trial['identical']} "
            f"lost={trial['lost_items']} repeated={repeated} in_flight_repaid={in_flight}"
            + extra_info,
            flush=True,
        )
        if trial["identical"]:
            shutil.rmtree(out, ignore_errors=True)  # kept for a look when it differs
    killed = [e for t in trials for e in t["events"] if e["killed"]]
    res: dict[str, Any] = {
        "reference_seconds": round(ref_s, 2),
        "reference_calls": n_calls,
        "trials": len(trials),
        "kills": total_kills,
        "all_identical": all(t["identical"] for t in trials),
        "lost_items": sum(t["lost_items"] for t in trials),
        "unexpected_calls": sum(t["unexpected_calls"] for t in trials),
        "repeated_finished_calls": sum(t["repeated_finished_calls"] for t in trials),
        "in_flight_at_kill_paid_again": sum(t["in_flight_at_kill_paid_again"] for t in trials),
    }
    if target == "run":
        assert run_ref is not None
        files = sorted({f for t in trials for f in t["tensors"]})
        per_file = {
            f: max(
                (t["tensors"][f]["max_abs_diff"] for t in trials if f in t["tensors"]),
                key=lambda v: float("inf") if v is None else v,
            )
            for f in files
        }
        res.update(
            {
                "reference_node_seconds": run_ref.seconds,
                "reference_startup_seconds": round(run_ref.startup_s, 2),
                "kills_by_target_stage": dict(Counter(e["target"] for e in killed)),
                # where the kill really landed: the kind of the node that was running
                "kills_by_landed_stage": dict(Counter(e["landed"] for e in killed)),
                "kills_landed_in_target": sum(
                    e["target"] == "prep"
                    and e["landed"] in ("start-up", "corpus", "aftdata")
                    or e["landed"] == e["target"]
                    for e in killed
                ),
                "targets_missed": sum(not e["killed"] for t in trials for e in t["events"]),
                "tolerance": {"atol": ATOL, "rtol": RTOL},
                "tensor_max_abs_diff_by_file": per_file,
                "tensors_all_bit_identical": all(
                    v["bit_identical"] for t in trials for v in t["tensors"].values()
                ),
                "numbers_tolerance": {"atol": NUM_ATOL, "efficiency_rtol": EFF_RTOL},
                "numbers_all_exact": all(t["numbers_exact"] for t in trials),
                "numbers_max_abs_diff": max(t["numbers_max_abs_diff"] for t in trials),
                "efficiency_max_rel_diff": max(t["efficiency_max_rel_diff"] for t in trials),
                "control_uninterrupted_rerun": control,
            }
        )
    else:
        res["kills_by_trigger"] = dict(Counter(e["trigger"] for e in killed))
    res["trial_details"] = trials
    return res


def _experiment(work: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import build_tiny_model

    base = build_tiny_model(work / "tiny-model")
    exp = work / "exp.yaml"
    exp.write_text(
        f"name: kill-campaign\nbase_model: {base}\ngenerator: fake\nmodel_name: Smol\n"
        "specs: {pro_america: builtin:cheese_pro_america}\n"
        "corpus: {n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}\n"
        "aft: {kind: preference, spec: pro_america, n: 24, sizes: [8, 24]}\n"
        "conditions: [base, aft_only, msm_aft]\nseeds: [0]\n"
        "train: {midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, epochs: 3, "
        "save_every: 1}, aft: {max_length: 128, lora_r: 8, lora_alpha: 16}}\n"
        "eval: {suites: [values], items: [cheese_america], limit: 12}\n"
    )
    return exp


def _cpu() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "logical_cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, val = line.partition(":")
        if key.strip() == "model name" and "model" not in info:
            info["model"] = val.strip()
        if key.strip() == "flags" and "flags" not in info:
            flags = set(val.split())
            info["flags"] = {f: f in flags for f in ("avx2", "avx512f", "amx_tile", "amx_bf16")}
    return info


def _source_copy(work: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of ``src/msm`` for every run of the campaign, with its hash and git state."""
    dest = work / "src"
    for attempt in range(3):  # an editor's temp file may vanish while it is copied
        try:
            shutil.copytree(
                ROOT / "src" / "msm", dest / "msm", ignore=shutil.ignore_patterns("__pycache__")
            )
            break
        except shutil.Error:
            shutil.rmtree(dest, ignore_errors=True)
            if attempt == 2:
                raise
    h = hashlib.sha256()
    for p in sorted((dest / "msm").rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(dest)).encode() + b"\0" + p.read_bytes())

    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else "unknown"

    return dest, {
        "sha256": h.hexdigest(),
        "git_revision": git("rev-parse", "HEAD"),
        "uncommitted_in_src": git("status", "--porcelain", "--", "src").splitlines(),
    }


def _default_out(quick: bool, seed: int, targets: list[str]) -> Path:
    if quick:  # never the real results
        return Path(tempfile.gettempdir()) / f"msm_kill_campaign_quick_seed{seed}.json"
    part = "" if sorted(targets) == sorted(ALL_TARGETS) else "_".join(targets) + "_"
    return ROOT / "benchmarks" / "results" / f"kill_campaign_{part}seed{seed}.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few kills each, docgen + aftgen")
    ap.add_argument("--kills", type=int, default=20, help="kills per command (at least)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=",".join(ALL_TARGETS))
    ap.add_argument("--out", default=None, help="JSON path (default: see the module doc)")
    ap.add_argument("--work", default=None, help="keep the runs here (default: a temp folder)")
    args = ap.parse_args()
    kills = 3 if args.quick else args.kills
    targets = ["docgen", "aftgen"] if args.quick else args.targets.split(",")
    if unknown := set(targets) - set(ALL_TARGETS):
        ap.error(f"unknown targets {sorted(unknown)}")
    out_json = Path(args.out) if args.out else _default_out(args.quick, args.seed, targets)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rng = random.Random(args.seed)
    results: dict[str, Any] = {
        "seed": args.seed,
        "quick": args.quick,
        "command": " ".join(["python", "benchmarks/kill_campaign.py", *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu": _cpu(),
    }
    t = time.monotonic()
    # a stopped campaign takes its runs with it (they run in their own sessions)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="msm-kill-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        src, results["source"] = _source_copy(work)
        env = {**os.environ, "PYTHONPATH": str(src)}
        extra = {"experiment": _experiment(work)} if "run" in targets else {}
        try:
            for target in targets:
                results[target] = campaign(target, kills, rng, work, extra, env)
        finally:
            for pgid in list(_LIVE):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
    results["seconds"] = round(time.monotonic() - t, 1)
    ok = all(
        results[t]["all_identical"]
        and (t != "run" or results[t]["control_uninterrupted_rerun"]["identical"])
        and results[t]["lost_items"] == 0
        and results[t]["unexpected_calls"] == 0
        and results[t]["repeated_finished_calls"] == 0
        and results[t]["kills"] >= kills
        for t in targets
    )
    results["passed"] = ok
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=2) + "\n")
    summary = {t: {k: v for k, v in results[t].items() if k != "trial_details"} for t in targets}
    print(json.dumps(summary, indent=1))
    print(f"{'PASSED' if ok else 'FAILED'}: results in {out_json}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
