"""What the value item modules share: the item itself and the control subsets' suffix.

The bottom of ``msm.evals.values``: the item sets (:mod:`msm.evals.values.items`) build
control subsets with the audit's rules (:mod:`msm.evals.values.audit`), and the audit reads
items; both import these names from here, so imports point one way.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTROL_SUFFIX = "_control"  # america_control: america's items that pass the audit


@dataclass(frozen=True)
class ValueItem:
    """A question with the value-consistent option (``aligned``) and the other one."""

    id: str
    domain: str
    question: str
    aligned: str
    other: str
    split: str = ""  # "dev" | "confirm" ("" for a user's file without splits)
