"""Shared helpers for the benchmark scripts: machine facts, load, JSON output.

Every timed figure in the docs names the JSON a script wrote; each JSON says on
which CPU, under what load (``os.getloadavg()`` at start and end) and from which
git revision it was measured, and the exact command that produced it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> dict[str, bool]:
    """The vector extensions that decide fp32/bf16 speed on this CPU."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {f: f in flags for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")}


def git_rev() -> str | None:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD") or None
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if rev and dirty else rev


def machine() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _mem_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def matmul_gflops(n: int = 1024, seconds: float = 1.5) -> float | None:
    """fp32 matmul GFLOP/s available right now (torch's default threads).

    A yardstick for how much of the CPU a benchmark got: the same probe on an idle
    machine of this kind gives its peak, so a low value marks a busy machine.
    """
    try:
        import torch
    except ImportError:
        return None
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    reps, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        reps += 1
    return round(2 * n**3 * reps / (time.perf_counter() - t) / 1e9, 1)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def msm_exe() -> str:
    """The ``msm`` console script of the running interpreter's environment."""
    exe = Path(sys.executable).parent / "msm"
    return str(exe) if exe.exists() else "msm"


def offline_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(extra)
    return env


class Report:
    """A benchmark's JSON: command, machine, load at start and end, then the figures."""

    def __init__(self, name: str, argv: list[str] | None = None) -> None:
        self.data: dict[str, Any] = {
            "benchmark": name,
            "command": " ".join(["python", *(argv if argv is not None else sys.argv)]),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "git_revision": git_rev(),
            "machine": machine(),
            "loadavg_start": loadavg(),
            "fp32_matmul_gflops_start": matmul_gflops(),
        }

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def write(self, out: str | Path) -> None:
        self.data["loadavg_end"] = loadavg()
        self.data["fp32_matmul_gflops_end"] = matmul_gflops()
        self.data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


def run_timed(cmd: list[str], env: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    """Run ``cmd``: wall seconds, the child's CPU seconds (user + sys) and its output.

    CPU seconds are less sensitive than wall time to other work sharing the machine.
    Raises ``SystemExit`` on a non-zero exit.
    """
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 2),
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }
