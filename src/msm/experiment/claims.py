"""Claims: which process runs a node of a run folder that several processes share.

``msm run --shard I/N`` array jobs, ``--parallel`` and plain reruns may all work on one
run folder at once. Before a process runs a node it creates ``RUN/state/<node>.claim``,
whole, by hard-linking a private file to that name (``O_CREAT | O_EXCL`` where links are not
supported); both are atomic on local file systems and on NFSv3+: exactly one process
succeeds. The claim holds the owner's host, process ids and a random token; its
modification time is a heartbeat, refreshed every ``MSM_CLAIM_HEARTBEAT_S`` seconds
(default 30) while the node runs.

A claim is stale, and taken over, when every process it names is dead on this host, or
when its heartbeat is older than ``MSM_CLAIM_STALE_S`` seconds (default 300: another
host's claim, whose processes cannot be asked). A takeover happens under a short lock of
its own (``<claim>.takeover``) and checks again that the claim it removes is the stale one
it saw, so two processes never both take over one claim.

The same mechanism is the lock (:func:`locked`) around writes that read every state file
first (``run.json``, the report): the last writer then holds the newest view.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json
from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError

TAKEOVER_LOCK_STALE_S = 60.0  # a takeover lock is held for microseconds


def stale_after_s() -> float:
    return float(os.environ.get("MSM_CLAIM_STALE_S", "300"))


def heartbeat_s() -> float:
    return float(os.environ.get("MSM_CLAIM_HEARTBEAT_S", "30"))


@dataclass(frozen=True)
class Claim:
    """A claim this process holds."""

    path: Path
    token: str


@dataclass(frozen=True)
class Holder:
    """Who holds a claim this process could not take."""

    host: str
    pids: list[int]
    age_s: float

    def describe(self) -> str:
        pids = ",".join(str(p) for p in self.pids) or "?"
        return f"pid {pids} on {self.host or '?'}, heartbeat {self.age_s:.0f}s ago"


def claim_path(run: Path, node_id: str) -> Path:
    return RunFolder(run).node_claim(node_id)


def _read(path: Path) -> tuple[dict[str, Any] | None, os.stat_result] | None:
    """The claim's content (None while it is being written) and its stat; None: no claim."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    return (data if isinstance(data, dict) else None), st


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


def _pids(data: dict[str, Any] | None) -> list[int]:
    raw = (data or {}).get("pids")
    return [p for p in raw if isinstance(p, int) and p > 0] if isinstance(raw, list) else []


def is_stale(data: dict[str, Any] | None, mtime: float, stale_s: float | None = None) -> bool:
    """Dead on this host (every process it names), or no heartbeat for ``stale_s``."""
    limit = stale_after_s() if stale_s is None else stale_s
    if time.time() - mtime > limit:
        return True
    pids = _pids(data)
    if data is not None and data.get("host") == socket.gethostname() and pids:
        return not any(_alive(p) for p in pids)
    return False


def _create(path: Path, pids: list[int]) -> Claim | None:
    """Create the claim whole or not at all: its content goes to a private file first, then
    ``os.link`` gives it the claim's name, failing if the name exists (a process killed at
    any moment leaves no empty claim). Where hard links are not supported: ``O_EXCL``."""
    token = secrets.token_hex(8)
    body = {"host": socket.gethostname(), "pids": pids, "token": token, "started": time.time()}
    tmp = path.with_name(f".{path.name}.{token}.tmp")
    try:
        tmp.write_text(json.dumps(body), encoding="utf-8")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return None
        except OSError:  # no hard links here
            return _create_excl(path, body)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise MsmError(f"cannot create {path}: {e.strerror or e}") from e
    return Claim(path, token)


def _create_excl(path: Path, body: dict[str, Any]) -> Claim | None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(body))
        fh.flush()
        os.fsync(fh.fileno())
    return Claim(path, str(body["token"]))


def _same(a: tuple[dict[str, Any] | None, os.stat_result], b: Any) -> bool:
    if b is None:
        return False
    (da, sa), (db, sb) = a, b
    if da is not None or db is not None:
        return (da or {}).get("token") == (db or {}).get("token")
    return bool(sa.st_ino == sb.st_ino)  # both still being written: the same file


def try_claim(path: Path, stale_s: float | None = None) -> Claim | Holder:
    """Take ``path`` for this process, taking over a stale claim; else say who holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        got = _create(path, [os.getpid()])
        if got is not None:
            return got
        seen = _read(path)
        if seen is None:
            continue  # released in between: try again
        data, st = seen
        if not is_stale(data, st.st_mtime, stale_s):
            return Holder(str((data or {}).get("host", "")), _pids(data), time.time() - st.st_mtime)
        with _takeover_lock(path) as ours:
            if not ours:
                continue
            again = _read(path)
            if _same(seen, again):  # still the stale claim we saw, not a new owner's
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    seen = _read(path)  # others keep taking it over: leave it to them
    if seen is None:
        return Holder("", [], 0.0)
    return Holder(
        str((seen[0] or {}).get("host", "")), _pids(seen[0]), time.time() - seen[1].st_mtime
    )


@contextlib.contextmanager
def _takeover_lock(path: Path) -> Iterator[bool]:
    lock = path.with_name(path.name + ".takeover")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        with contextlib.suppress(OSError):
            if time.time() - lock.stat().st_mtime > TAKEOVER_LOCK_STALE_S:
                lock.unlink()  # its owner died mid-takeover
        yield False
        return
    os.close(fd)
    try:
        yield True
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def add_pid(claim: Claim, pid: int) -> None:
    """Name another live process (a worker running the node) in the claim, so that the
    claim stays alive while it runs even if this process dies."""
    seen = _read(claim.path)
    if seen is None or seen[0] is None or seen[0].get("token") != claim.token:
        return
    data = dict(seen[0])
    data["pids"] = [*_pids(data), pid]

    atomic_write_json(claim.path, data)


def release(claim: Claim) -> None:
    """Remove the claim if it is still ours (a takeover may have replaced it)."""
    seen = _read(claim.path)
    if seen is not None and seen[0] is not None and seen[0].get("token") == claim.token:
        with contextlib.suppress(FileNotFoundError):
            claim.path.unlink()


class Heartbeat:
    """A daemon thread refreshing the modification time of the claims held."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self.paths: set[Path] = set(paths)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="msm-claims", daemon=True)

    def add(self, path: Path) -> None:
        with self._lock:
            self.paths.add(path)

    def discard(self, path: Path) -> None:
        with self._lock:
            self.paths.discard(path)

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_s()):
            with self._lock:
                paths = list(self.paths)
            for p in paths:
                with contextlib.suppress(OSError):
                    os.utime(p)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def locked(path: Path, wait_s: float = 120.0) -> Iterator[None]:
    """Hold ``path`` as a lock (a claim that goes stale after 60 s) while the body runs."""
    deadline = time.monotonic() + wait_s
    while True:
        got = try_claim(path, stale_s=60.0)
        if isinstance(got, Claim):
            break
        if time.monotonic() > deadline:
            raise MsmError(f"{path} is locked by {got.describe()}; remove it if that is wrong")
        time.sleep(0.05)
    try:
        yield
    finally:
        release(got)
