"""The experimental conditions an experiment compares; the experiment and the report share them.

``msm_*`` conditions midtrain on the spec's corpus first; ``*aft*`` conditions
fine-tune on AFT data (``_cot`` keeps the ``<think>`` reasoning, ``_stripped``
drops it; plain ``aft_only``/``msm_aft`` use the data kind's default file).
"""

from __future__ import annotations

CONDITIONS = (
    "base",
    "msm_only",
    "aft_only",
    "msm_aft",
    "aft_cot",
    "msm_aft_cot",
    "aft_stripped",
    "msm_aft_stripped",
)
NEEDS_MSM = {c for c in CONDITIONS if c.startswith("msm")}
NEEDS_AFT = {c for c in CONDITIONS if "aft" in c}
