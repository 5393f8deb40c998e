"""Corpus generation.

spec -> domains -> subdomains -> assertions -> doc types -> ideas -> documents.
"""

from msm.docgen.config import DocgenConfig
from msm.docgen.outputs import documents_file
from msm.docgen.projection import project_docgen
from msm.docgen.run import NothingKept, preview_docgen, run_docgen

__all__ = [
    "DocgenConfig",
    "NothingKept",
    "documents_file",
    "preview_docgen",
    "project_docgen",
    "run_docgen",
]
