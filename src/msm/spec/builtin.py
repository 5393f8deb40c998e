"""Specs shipped as package data, addressed as ``builtin:<name>``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from msm.errors import MsmError

PREFIX = "builtin:"


def builtin_specs() -> list[str]:
    """Names of the bundled example specs."""
    root = resources.files("msm").joinpath("data/specs")
    return sorted(p.name[:-3] for p in root.iterdir() if p.name.endswith(".md"))


def resolve_spec_path(spec: str) -> Path:
    """A file path (``~`` expanded), or ``builtin:<name>`` for a bundled spec."""
    if spec.startswith(PREFIX):
        name = spec[len(PREFIX) :]
        if name not in builtin_specs():
            raise MsmError(
                f"unknown builtin spec {name!r}; available: {', '.join(builtin_specs())}"
            )
        return Path(str(resources.files("msm").joinpath(f"data/specs/{name}.md")))
    try:
        return Path(spec).expanduser()
    except RuntimeError:  # "~user" with no such user: left as written (then not found)
        return Path(spec)
