"""``manifest.json``: what an artifact was made from, by what, and at what cost.

Written last, atomically, so its presence means the artifact is complete. Holds
no secrets: configs carry model names, never keys.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from msm import __version__
from msm._util.fsutil import atomic_write_json
from msm.errors import MsmError


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The msm source checkout's commit, when running from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest in ``folder``, or None if absent or unreadable."""
    p = Path(folder) / "manifest.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def retract_manifest(folder: str | Path) -> None:
    """Remove ``folder/manifest.json`` before an artifact's files are rewritten.

    Otherwise a rewrite that fails half-way (disk full) would leave the previous
    run's manifest vouching for a mix of old and new files.
    """
    p = Path(folder) / "manifest.json"
    try:
        p.unlink(missing_ok=True)
    except OSError as e:
        raise MsmError(f"cannot remove {p}: {e.strerror or e}") from e


def write_manifest(folder: str | Path, stage: str, **fields: Any) -> dict[str, Any]:
    """Write ``folder/manifest.json`` with the standard header plus ``fields``."""
    manifest = {
        "stage": stage,
        "msm_version": __version__,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **fields,
    }
    atomic_write_json(Path(folder) / "manifest.json", manifest)
    return manifest
