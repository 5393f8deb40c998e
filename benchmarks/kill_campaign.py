"""Seeded kill campaign: ``kill -9`` msm docgen / aftgen / run at random moments, rerun,
compare with an uninterrupted run.

For each command an uninterrupted reference run is made first. Then trials start from
an empty output folder, kill the command one or more times and finally rerun it to
completion. A kill is triggered either at a random wall-clock moment (start-up, model
calls, dedup, writing outputs...) or once a random number of model calls has been
stored (mid-generation). Every trial checks:

* the outputs equal the reference byte for byte (``stats.json`` and ``manifest.json``
  record for record, without their timing and usage fields; for ``msm run`` the
  corpus, the AFT data and every number in ``report.json``);
* zero lost items: the set of stored model calls equals the reference's;
* zero repeated finished calls: no call whose answer was already stored is made again.

Calls that were in flight at a kill (begun, not yet stored) are paid again by the
rerun; they are counted and reported, not hidden. The model is the deterministic
``fake``, so any difference is msm's doing.

Run: ``python benchmarks/kill_campaign.py`` (20+ kills per command, several minutes;
writes ``benchmarks/results/kill_campaign.json``) or ``--quick`` (a few kills, for CI).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "kill_worker.py"
VOLATILE = {"seconds", "timings", "usage", "written_at", "created", "finished_at", "duration_s"}


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
            "30",
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


def _snapshot(target: str, out: Path) -> dict[str, Any]:
    """What must not change: file bytes, or records without timing/usage fields."""
    snap: dict[str, Any] = {}
    if target == "run":
        rep = json.loads((out / "report" / "report.json").read_text())
        snap["report.aggregates"] = sorted(
            (a["label"], a["aft_size"], round(a["mean"], 10)) for a in rep["aggregates"]
        )
        for p in sorted((out / "nodes").rglob("*.jsonl")):
            if ".msm" not in p.parts and not any(x.startswith(".") for x in p.parts):
                snap[str(p.relative_to(out))] = p.read_bytes().hex()
        states = [json.loads(p.read_text()) for p in sorted((out / "state").glob("*.json"))]
        snap["states"] = sorted(s["status"] for s in states)
        return snap
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if not p.is_file() or rel.parts[0] == ".msm":
            continue
        if p.name in ("stats.json", "manifest.json"):
            snap[str(rel)] = _strip(json.loads(p.read_text()))
        else:
            snap[str(rel)] = p.read_bytes().hex()
    return snap


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


def _spawn(cmd: list[str], ledger: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(ledger), *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=ROOT,
    )


def _finish(cmd: list[str], ledger: Path) -> float:
    t = time.monotonic()
    proc = _spawn(cmd, ledger)
    _, err = proc.communicate(timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {err.decode()[-2000:]}")
    return time.monotonic() - t


def _running_nodes(out: Path) -> list[str]:
    """For ``msm run``: the kinds of the nodes that were running (e.g. ``train``)."""
    kinds = []
    for p in sorted((out / "state").glob("*.json")):
        try:
            if json.loads(p.read_text()).get("status") == "running":
                kinds.append(p.stem.split("__")[0])
        except (OSError, ValueError):
            continue
    return kinds


def _kill_at(cmd: list[str], ledger: Path, trigger: str, value: float, out: Path) -> dict[str, Any]:
    """Start the command and kill -9 it when the trigger fires (unless it ends first)."""
    t0 = time.monotonic()
    proc = _spawn(cmd, ledger)
    while proc.poll() is None:
        now = time.monotonic() - t0
        if trigger == "time" and now >= value:
            break
        if trigger == "calls" and sum(_calls(ledger).values()) >= value:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        proc.communicate()
        return {"trigger": trigger, "value": round(value, 3), "killed": False}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    at = round(time.monotonic() - t0, 3)
    ev = {"trigger": trigger, "value": round(value, 3), "killed": True, "at_s": at}
    if (out / "state").is_dir():
        ev["running"] = _running_nodes(out)  # msm run: the stage the kill landed in
    return ev


def campaign(
    target: str, kills: int, rng: random.Random, work: Path, extra: dict[str, Path]
) -> dict[str, Any]:
    ref = work / f"{target}-ref"
    ref_ledger = work / f"{target}-ref.ledger"
    ref_s = _finish(_command(target, ref, extra), ref_ledger)
    ref_snap = _snapshot(target, ref)
    ref_keys = _stored(ref)
    n_calls = len(ref_keys)
    trials: list[dict[str, Any]] = []
    total_kills = 0
    # ``msm run`` is slow to start (torch): one long trial whose progress accumulates
    per_trial = (kills, kills) if target == "run" else (1, 3)
    while total_kills < kills:
        i = len(trials)
        out = work / f"{target}-{i}"
        cmd = _command(target, out, extra)
        events: list[dict[str, Any]] = []
        repeated = in_flight = made = 0
        n_kills = rng.randint(*per_trial)
        for seg in range(n_kills + 1):
            final_seg = seg == n_kills
            before = _stored(out)
            ledger = work / f"{target}-{i}-{seg}.ledger"
            if final_seg:
                _finish(cmd, ledger)
            else:
                left = n_calls - len(before)
                if target != "run" and left > 1 and rng.random() < 0.5:
                    ev = _kill_at(cmd, ledger, "calls", rng.randint(1, left - 1), out)
                else:
                    # msm run: short enough that each of its many segments still
                    # gets past start-up and makes progress
                    latest = min(ref_s, 20.0) if target == "run" else ref_s
                    ev = _kill_at(cmd, ledger, "time", rng.uniform(0.2, latest), out)
                events.append(ev)
            calls = _calls(ledger)
            after = _stored(out)
            made += sum(calls.values())
            # a call whose answer was already stored, or the same call twice: paid twice
            repeated += sum(n if k in before else n - 1 for k, n in calls.items())
            # begun but never stored: in flight when the kill came, paid again by the rerun
            in_flight += sum(1 for k in calls if k not in after)
            if not final_seg and not events[-1]["killed"]:
                break  # it finished before the kill came: the trial is complete
        n_killed = sum(e["killed"] for e in events)
        total_kills += n_killed
        final = _stored(out)
        snap = _snapshot(target, out)
        diff = sorted(k for k in set(snap) | set(ref_snap) if snap.get(k) != ref_snap.get(k))
        trial = {
            "kills": n_killed,
            "events": events,
            "identical": not diff,
            "differences": diff,
            # small values (report numbers) are shown side by side; file contents are not
            "difference_detail": {
                k: {"reference": ref_snap.get(k), "after_kills": snap.get(k)}
                for k in diff
                if not isinstance(ref_snap.get(k), str)
            },
            "lost_items": len(ref_keys - final),
            "unexpected_calls": len(final - ref_keys),
            "repeated_finished_calls": repeated,
            "in_flight_at_kill_paid_again": in_flight,
            "calls_made": made,
        }
        trials.append(trial)
        print(
            f"{target} trial {i}: kills={trial['kills']} identical={trial['identical']} "
            f"lost={trial['lost_items']} repeated={trial['repeated_finished_calls']} "
            f"in_flight_repaid={trial['in_flight_at_kill_paid_again']}",
            flush=True,
        )
        if target != "run":
            shutil.rmtree(out, ignore_errors=True)
    return {
        "reference_seconds": round(ref_s, 2),
        "reference_calls": n_calls,
        "trials": len(trials),
        "kills": total_kills,
        "kills_by_trigger": dict(
            Counter(e["trigger"] for t in trials for e in t["events"] if e["killed"])
        ),
        # msm run: which stage each kill landed in ("none": start-up, between nodes, report)
        "kills_by_running_stage": dict(
            Counter(
                "+".join(sorted(set(e["running"]))) or "none"
                for t in trials
                for e in t["events"]
                if e["killed"] and "running" in e
            )
        ),
        "all_identical": all(t["identical"] for t in trials),
        "lost_items": sum(t["lost_items"] for t in trials),
        "unexpected_calls": sum(t["unexpected_calls"] for t in trials),
        "repeated_finished_calls": sum(t["repeated_finished_calls"] for t in trials),
        "in_flight_at_kill_paid_again": sum(t["in_flight_at_kill_paid_again"] for t in trials),
        "trial_details": trials,
    }


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few kills each, docgen + aftgen")
    ap.add_argument("--kills", type=int, default=20, help="kills per command (at least)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default="docgen,aftgen,run")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/kill_campaign.json"))
    args = ap.parse_args()
    kills = 3 if args.quick else args.kills
    targets = ["docgen", "aftgen"] if args.quick else args.targets.split(",")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rng = random.Random(args.seed)
    results: dict[str, Any] = {
        "seed": args.seed,
        "quick": args.quick,
        "command": " ".join(["python", "benchmarks/kill_campaign.py", *sys.argv[1:]]),
    }
    t = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="msm-kill-") as tmp:
        work = Path(tmp)
        extra = {"experiment": _experiment(work)} if "run" in targets else {}
        for target in targets:
            results[target] = campaign(target, kills, rng, work, extra)
    results["seconds"] = round(time.monotonic() - t, 1)
    ok = all(
        results[t]["all_identical"]
        and results[t]["lost_items"] == 0
        and results[t]["unexpected_calls"] == 0
        and results[t]["repeated_finished_calls"] == 0
        and results[t]["kills"] >= kills
        for t in targets
    )
    results["passed"] = ok
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    summary = {t: {k: v for k, v in results[t].items() if k != "trial_details"} for t in targets}
    print(json.dumps(summary, indent=1))
    print(f"{'PASSED' if ok else 'FAILED'}: results in {args.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
