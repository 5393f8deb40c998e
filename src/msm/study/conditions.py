"""The experimental conditions an experiment compares; the experiment and the report share them.

``msm_*`` conditions midtrain on the spec's corpus first; ``*aft*`` conditions
fine-tune on AFT data: ``aft_only`` / ``msm_aft`` on responses without reasoning
(``stripped.jsonl``), ``aft_cot`` / ``msm_aft_cot`` on responses with their
``<think>`` reasoning (``cot.jsonl``). ``aft_cot`` is the paper's
deliberative-alignment baseline: AFT with reasoning on the same spec-grounded data,
no midtraining.
"""

from __future__ import annotations

CONDITIONS = (
    "base",
    "msm_only",
    "aft_only",
    "msm_aft",
    "aft_cot",
    "msm_aft_cot",
)
# the AFT data file each AFT condition trains on (inside an AFT subset folder)
AFT_DATA_FILE = {
    "aft_only": "stripped.jsonl",
    "msm_aft": "stripped.jsonl",
    "aft_cot": "cot.jsonl",
    "msm_aft_cot": "cot.jsonl",
}
# what each condition is, in words (the dry run and the report say it)
DESCRIBE = {
    "base": "the base model",
    "msm_only": "midtrained on the spec's corpus, no AFT",
    "aft_only": "AFT on responses without reasoning",
    "msm_aft": "midtrained, then AFT on responses without reasoning",
    "aft_cot": "AFT on responses with <think> reasoning, no midtraining (the paper's "
    "deliberative-alignment baseline)",
    "msm_aft_cot": "midtrained, then AFT on responses with <think> reasoning",
}
# conditions of earlier msm versions: an experiment naming one gets a one-line error
RENAMED = {"aft_stripped": "aft_only", "msm_aft_stripped": "msm_aft"}
NEEDS_MSM = {c for c in CONDITIONS if c.startswith("msm")}
NEEDS_AFT = {c for c in CONDITIONS if "aft" in c}
