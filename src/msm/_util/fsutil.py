"""Crash-safe file writing.

A write goes to a temporary file in the same directory, is flushed and fsynced,
then renamed over the target. A kill at any moment leaves either the old file or
the new one, never a torn one, so a rerun can trust whatever it finds.

A failed write (disk full, read-only file system, no permission) leaves no
temporary file behind and raises :class:`MsmError` naming the file, so the CLI
reports it as one clear line rather than as an internal error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msm.errors import MsmError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _write_error(path: Path, e: OSError) -> MsmError:
    return MsmError(f"cannot write {path}: {e.strerror or e}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename).

    Raises MsmError ("cannot write PATH: No space left on device") when the
    file system refuses; the old file, if any, is then left as it was.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise _write_error(target, e) from e
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give files the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_error(target, e) from e
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON (sorted keys, indented, trailing newline) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def staging_dir(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory under a temporary name, then rename it into place.

    If the body raises (or the process dies) the final path is never created;
    stale staging folders from killed runs carry a ``.staging-`` prefix and are
    ignored by readers.
    """
    target = Path(final)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=target.parent))
    except OSError as e:
        raise _write_error(target, e) from e
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise _write_error(target, e) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_user_file(path: str | os.PathLike[str], what: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a file the user named, or one line saying why not: the one readability
    check for every input file (spec, settings, items). ``what`` names it in the message
    ("spec" -> "spec file not found: PATH")."""
    p = Path(path)
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as e:  # e.g. a name too long for the file system
        raise MsmError(f"cannot read {what} file: {p}: {e.strerror or e}") from e
    if not exists:
        raise MsmError(f"{what} file not found: {p}")
    if is_dir:
        raise MsmError(f"{what} path is a directory, not a file: {p}")
    try:
        size = p.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise MsmError(f"{what} file is too large ({size} bytes > {max_bytes}): {p}")
        return p.read_bytes()
    except PermissionError as e:
        raise MsmError(f"cannot read {what} file (permission denied): {p}") from e
    except OSError as e:
        raise MsmError(f"cannot read {what} file: {p}: {e.strerror or e}") from e
