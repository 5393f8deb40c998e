"""Which nodes of a plan this process runs, and how many at once.

``--only PATTERN`` (repeatable) selects nodes by id with shell globs (``*`` also matches
``/``: ``eval/*`` is every eval). It does **not** pull in dependencies: a selected node
runs only when its dependencies are done; one whose dependency is neither done nor
selected is not run, and the run ends naming it (exit 2), so an array job's stage never
runs on missing inputs and a scheduler's ``afterok`` chain stops there.

``--shard I/N`` keeps every N-th selected node, from the I-th (0-based), in plan order:
disjoint, stable sets whatever is already done, balanced within each stage when the
stages are selected one by one (``--only 'corpus/*'``, then ``'midtrain/*'``, ...). A
shard does not wait for other shards: a node whose dependency another process still has
to run is named and the shard exits 2 (rerun it when that stage is done).

``--parallel N`` runs up to N ready nodes side by side, each in its own process
(``python -m msm.experiment.worker``, output in ``RUN/logs/<node>.log``), each with its own
GPUs: ``CUDA_VISIBLE_DEVICES`` is split from the visible devices, ``--gpus-per-node K``
each, or by default what the node asks for (an accelerate config's ``num_processes``, an
eval's ``tensor_parallel_size``, else 1; API generation none). Without GPUs nothing is set.

Every node is claimed before it runs (:mod:`msm.experiment.claims`), so shards, parallel
workers and plain reruns can share one run folder: a node claimed by a live process is
left to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError
from msm.experiment.claims import Claim, Heartbeat, Holder, add_pid, claim_path, release, try_claim
from msm.experiment.config import Experiment
from msm.experiment.execute import run_node
from msm.experiment.node_state import node_status, write_run_json
from msm.experiment.plan import Node, NodeKind
from msm.experiment.progress import Progress, fmt_hms, projected_seconds
from msm.llm.names import resolve_model

POLL_S = 0.1


@dataclass(frozen=True)
class RunOptions:
    """``msm run``'s node selection and concurrency (defaults: every node, one at a time)."""

    only: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None  # (index, count)
    parallel: int = 1
    gpus_per_node: int | None = None

    def select(self, plan: list[Node]) -> list[Node]:
        """The nodes this process is asked for; a pattern matching nothing is an error."""
        if self.parallel < 1:
            raise MsmError(f"--parallel must be at least 1, got {self.parallel}")
        if self.gpus_per_node is not None and self.gpus_per_node < 1:
            raise MsmError(f"--gpus-per-node must be at least 1, got {self.gpus_per_node}")
        nodes = plan
        for pat in self.only:
            if not any(fnmatchcase(n.id, pat) for n in plan):
                raise MsmError(
                    f"--only {pat!r} matches no node (ids look like corpus/KEY, "
                    "midtrain/KEY/s0, eval/base/s0; msm run --dry-run lists them)"
                )
        if self.only:
            nodes = [n for n in plan if any(fnmatchcase(n.id, p) for p in self.only)]
        if self.shard is not None:
            i, count = self.shard
            nodes = nodes[i::count]
        return nodes


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; None stays None."""
    if text is None:
        return None
    head, slash, tail = text.partition("/")
    try:
        i, n = int(head), int(tail)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise MsmError(f"--shard takes I/N with 0 <= I < N (e.g. 0/4), got {text!r}")
    return i, n


@dataclass
class Outcome:
    """What this process ran and which selected nodes it could not run, with why."""

    t0: float
    ran: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)

    def waiting_line(self) -> str:
        items = list(self.waiting.items())
        shown = "; ".join(f"{i} {why}" for i, why in items[:3])
        more = f"; and {len(items) - 3} more" if len(items) > 3 else ""
        hint = (
            "Run what they wait on first (e.g. msm run ... --only 'corpus/*'), then rerun"
            if any(why.startswith("waits on") for _, why in items)
            else "Another process is running them; rerun once it is done"
        )
        return f"{len(items)} selected node(s) not run: {shown}{more}. {hint}"


def visible_gpus() -> list[str]:
    """The GPUs this process may hand out: ``CUDA_VISIBLE_DEVICES`` if set, else every
    CUDA device torch sees; none on a CPU machine."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def gpus_wanted(node: Node) -> int:
    """How many GPUs a node uses unless ``--gpus-per-node`` says otherwise."""
    return _GPUS_WANTED[node.kind](node.config)


def _training_gpus(cfg: Any) -> int:
    if cfg.launcher == "accelerate" and cfg.accelerate_config:
        return _accelerate_processes(Path(cfg.accelerate_config))
    return 1


def _eval_gpus(cfg: Any) -> int:
    return int(getattr(cfg, "tensor_parallel_size", None) or 1)


def _generation_gpus(cfg: Any) -> int:
    roles = [getattr(cfg, "model", None), getattr(cfg, "judge", None)]
    local = [r for r in roles if r and resolve_model(r, check=False).provider in ("embedded", "hf")]
    return 1 if local else 0  # API generation needs no GPU


_GPUS_WANTED: dict[NodeKind, Callable[[Any], int]] = {
    "corpus": _generation_gpus,
    "aftdata": _generation_gpus,
    "evalgen": _generation_gpus,
    "midtrain": _training_gpus,
    "aft": _training_gpus,
    "eval": _eval_gpus,
}


def _accelerate_processes(path: Path) -> int:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return 1
    n = data.get("num_processes", 1) if isinstance(data, dict) else 1
    return n if isinstance(n, int) and n >= 1 else 1


def _projected(run: Path) -> dict[str, float]:
    """Each node's projected seconds from ``RUN/projection.json`` (none if unreadable)."""
    try:
        data = json.loads(RunFolder(run).projection.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return projected_seconds(data.get("nodes") if isinstance(data, dict) else None)


@dataclass
class _Flight:
    """A node running in a worker process."""

    node: Node
    claim: Claim
    gpus: list[str]
    proc: subprocess.Popen[bytes]
    log: Path
    t0: float


def run_selected(
    exp: Experiment,
    exp_path: Path,
    run: Path,
    plan: list[Node],
    chosen: list[Node],
    echo: Any,
    options: RunOptions,
) -> Outcome:
    """Run the chosen nodes that are not done, dependencies first, ``options.parallel`` at
    a time; the nodes that could not run are in the outcome's ``waiting``."""
    mine = [n for n in chosen if node_status(run, n) != "done"]
    if options.only or options.shard:
        where = f" (shard {options.shard[0]}/{options.shard[1]})" if options.shard else ""
        echo(f"selected{where}: {len(chosen)} nodes, {len(mine)} not done")
    sched = _Scheduler(exp, exp_path, run, plan, mine, echo, options)
    # [i/n] counts the selected nodes; the ETA starts from the dry run's projection
    sched.progress = Progress(chosen, mine, echo, _projected(run))
    with Heartbeat() as sched.heartbeat:
        try:
            sched.loop()
        finally:
            sched.stop_all()
    if sched.failures:
        first, *rest = sched.failures
        raise MsmError(first + (f" ({len(rest)} more failed: see RUN/logs)" if rest else ""))
    return sched.outcome


class _Scheduler:
    def __init__(
        self,
        exp: Experiment,
        exp_path: Path,
        run: Path,
        plan: list[Node],
        mine: list[Node],
        echo: Any,
        options: RunOptions,
    ) -> None:
        self.exp, self.exp_path, self.run, self.plan = exp, exp_path, run, plan
        self.by_id = {n.id: n for n in plan}
        self.pending = list(mine)
        self.echo, self.options = echo, options
        self.outcome = Outcome(time.monotonic())
        self.flights: dict[str, _Flight] = {}
        self.failures: list[str] = []
        self.progress: Any = None
        self.heartbeat = Heartbeat()
        self.done: set[str] = set()
        # one process at a time uses whatever it sees; side by side, each gets its own
        self.gpus = visible_gpus() if options.parallel > 1 else []
        self.free = list(self.gpus)
        if self.gpus:
            for n in mine:
                want = self._want(n)
                if want > len(self.free):
                    raise MsmError(
                        f"{n.id} needs {want} GPUs but {len(self.free)} are visible "
                        "(set --gpus-per-node or CUDA_VISIBLE_DEVICES)"
                    )

    def _want(self, node: Node) -> int:
        return self.options.gpus_per_node or gpus_wanted(node)

    def _done(self, node_id: str) -> bool:
        """Done, by its state file (another process may have finished it); once done it
        stays done, so a shared file system is not read again for it."""
        if node_id not in self.done and node_status(self.run, self.by_id[node_id]) == "done":
            self.done.add(node_id)
        return node_id in self.done

    def loop(self) -> None:
        # a node becomes ready only when one here finishes (one elsewhere ends this process
        # instead): the pending nodes are looked at again after a start or a finish only
        look = True
        while self.pending or self.flights:
            started = self._start_ready() if look else False
            reaped = self._reap()
            look = started or reaped
            if not started and not reaped:
                if not self.flights:  # nothing runs and nothing can start: cannot happen
                    for n in self.pending:  # but never spin: name them
                        self.outcome.waiting[n.id] = "could not start"
                    self.pending.clear()
                    return
                time.sleep(POLL_S)

    def _why_waiting(self, dep: str) -> str:
        if dep in self.outcome.waiting:
            return f"waits on {dep}, which is not run either"
        return f"waits on {dep} (not done, not selected for this process)"

    def _start_ready(self) -> bool:
        """Start every pending node whose dependencies are done, while slots and GPUs
        last; drop the ones that wait on a node nobody here will run."""
        started = False
        running_here = {n.id for n in self.pending} | set(self.flights)
        for node in list(self.pending):
            if self.failures or len(self.flights) >= self.options.parallel:
                break
            undone = [d for d in node.deps if not self._done(d)]
            if undone:
                lost = [d for d in undone if d not in running_here]
                if lost:
                    self.outcome.waiting[node.id] = self._why_waiting(lost[0])
                    self.pending.remove(node)
                    running_here.discard(node.id)
                    started = True
                continue  # its dependency runs here first
            want = self._want(node) if self.gpus else 0
            if want > len(self.free):
                continue  # not enough GPUs free now; a smaller node may fit
            self.pending.remove(node)
            started = True
            if self._done(node.id):  # another process finished it meanwhile
                continue
            got = try_claim(claim_path(self.run, node.id))
            if isinstance(got, Holder):
                self.outcome.waiting[node.id] = f"is claimed by {got.describe()}"
                running_here.discard(node.id)
                continue
            if self._done(node.id):  # finished between our check and the claim
                release(got)
                continue
            if self.options.parallel == 1:
                self._run_here(node, got)
            else:
                self._spawn(node, got, want)
        return started

    def _run_here(self, node: Node, claim: Claim) -> None:
        self.heartbeat.add(claim.path)
        try:
            self.progress.start(node)
            secs = run_node(self.exp, self.run, node, self.by_id, self.echo)
        finally:
            self.heartbeat.discard(claim.path)
            release(claim)
        self.progress.finish(node, secs)
        self.outcome.ran.append(node.id)
        write_run_json(self.run, self.exp, self.exp_path, self.plan)

    def _spawn(self, node: Node, claim: Claim, want: int) -> None:
        gpus = [self.free.pop(0) for _ in range(want)]
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        log = RunFolder(self.run).node_log(node.id)
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "msm.experiment.worker"]
        cmd += [str(self.exp_path), str(self.run), node.id, node.hash, str(claim.path)]
        self.heartbeat.add(claim.path)
        self.progress.start(node)
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        add_pid(claim, proc.pid)  # the claim lives while the worker does, whatever we do
        on = f" on GPU {','.join(gpus)}" if gpus else ""
        self.echo(f"        started{on}, pid {proc.pid}; log {log}")
        self.flights[node.id] = _Flight(node, claim, gpus, proc, log, time.monotonic())

    def _reap(self) -> bool:
        reaped = False
        for node_id, f in list(self.flights.items()):
            rc = f.proc.poll()
            if rc is None:
                continue
            reaped = True
            del self.flights[node_id]
            self.free.extend(f.gpus)
            self.heartbeat.discard(f.claim.path)
            release(f.claim)
            secs = time.monotonic() - f.t0
            if rc == 0:
                self.progress.record(f.node, secs)
                self.echo(f"        done in {fmt_hms(secs)}: {node_id}")
                self.outcome.ran.append(node_id)
            else:
                self.failures.append(f"{node_id} failed: {_last_error(f.log)} (log: {f.log})")
                self.echo(f"        FAILED after {fmt_hms(secs)}: {node_id} (log: {f.log})")
            write_run_json(self.run, self.exp, self.exp_path, self.plan)
        return reaped

    def stop_all(self) -> None:
        """On an interrupt or a bug: stop the workers, free their claims."""
        for f in self.flights.values():
            if f.proc.poll() is None:
                f.proc.terminate()
        for f in self.flights.values():
            try:
                f.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                f.proc.kill()
                f.proc.wait()
            self.heartbeat.discard(f.claim.path)
            release(f.claim)
        self.flights.clear()


def _last_error(log: Path) -> str:
    """The worker's one-line error (``msm: error: ...``), else its last line."""
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln]
    except OSError:
        return "no log"
    errors = [ln for ln in lines if ln.startswith("msm: error:")]
    line = errors[-1].removeprefix("msm: error:") if errors else (lines[-1] if lines else "")
    return " ".join(line.split())[:300] or "no output"
