"""Corpus generation.

spec -> domains -> subdomains -> assertions -> doc types -> ideas -> documents.
"""

from msm.docgen.config import DocgenConfig
from msm.docgen.outputs import documents_file
from msm.docgen.run import run_docgen

__all__ = ["DocgenConfig", "documents_file", "run_docgen"]
