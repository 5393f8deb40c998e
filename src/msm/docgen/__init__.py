"""Corpus generation.

spec -> domains -> subdomains -> assertions -> doc types -> ideas -> documents.

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "DocgenConfig": "msm.docgen.config",
    "DocgenResult": "msm.docgen.run",
    "NothingKept": "msm.docgen.run",
    "documents_file": "msm.docgen.outputs",
    "preview_docgen": "msm.docgen.run",
    "project_docgen": "msm.docgen.projection",
    "run_docgen": "msm.docgen.run",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
