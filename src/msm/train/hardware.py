"""What training runs on: the precision to use, and the hardware recorded in manifests."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path
from typing import Any


def cpu_threads(local_world: int) -> int:
    """Threads for training on the CPU: this process's share of the cores, and no more than
    ``OMP_NUM_THREADS`` where that is set (a machine shared with other work)."""
    share = max(1, (os.cpu_count() or 1) // max(1, local_world))
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return min(share, int(cap)) if cap.isdigit() and int(cap) > 0 else share


def pick_precision(requested: str, cuda: bool) -> str:
    """``auto``: bf16 where the hardware runs it fast (measured on CPU), else fp32."""
    import torch

    if requested != "auto":
        return requested
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if bf16_speedup() >= 1.5 else "fp32"


def bf16_speedup(n: int = 384, reps: int = 3) -> float:
    """How much faster a bf16 matmul runs than fp32 on this CPU (AMX: ~6x; AVX2: ~0.01x)."""
    import torch

    def best(dtype: Any) -> float:
        a = torch.randn(n, n, dtype=dtype)
        b = torch.randn(n, n, dtype=dtype)
        a @ b
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
            if times[-1] > 0.5:  # emulated bf16 is very slow; one rep says enough
                break
        return min(times)

    return best(torch.float32) / max(best(torch.bfloat16), 1e-9)


def hardware(precision: str, world: int, threads: int, distributed: str = "NO") -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "processes": world,
        "distributed_type": distributed,
        "threads_per_process": threads,
        "precision": precision,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def asked_distributed_type() -> str | None:
    """FSDP or DEEPSPEED when ``accelerate launch`` was given such a config, else None."""
    for env, name in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DEEPSPEED")):
        if os.environ.get(env, "").lower() == "true":
            return name
    return None
