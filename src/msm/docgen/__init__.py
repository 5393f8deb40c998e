"""Corpus generation.

spec -> domains -> subdomains -> assertions -> doc types -> ideas -> documents.

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.docgen.config import DocgenConfig as DocgenConfig
    from msm.docgen.outputs import documents_file as documents_file
    from msm.docgen.projection import project_docgen as project_docgen
    from msm.docgen.run import DocgenResult as DocgenResult
    from msm.docgen.run import NothingKept as NothingKept
    from msm.docgen.run import preview_docgen as preview_docgen
    from msm.docgen.run import run_docgen as run_docgen

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
