"""Everything read from a Model Spec: its text and placeholders (``core``), its sections and
units (``units``), the context generation prompts show (``context``), lint (``lint``), and the
specs shipped with msm (``builtin``)."""

from msm.spec.core import Section, Spec, load_spec

__all__ = ["Section", "Spec", "load_spec"]
