"""Corpus generation.

spec -> domains -> subdomains -> assertions -> doc types -> ideas -> documents.

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "DocgenConfig": "msm.docgen.config",
    "NothingKept": "msm.docgen.run",
    "documents_file": "msm.docgen.outputs",
    "preview_docgen": "msm.docgen.run",
    "project_docgen": "msm.docgen.projection",
    "run_docgen": "msm.docgen.run",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'msm.docgen' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
