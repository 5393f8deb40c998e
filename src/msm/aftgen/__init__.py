"""Alignment fine-tuning data: chat demos with <think>, preference data, mix-in, subsets."""

from msm.aftgen.config import AftgenConfig
from msm.aftgen.plan import ShortOfTarget, target_warning
from msm.aftgen.run import run_aftgen
from msm.aftgen.subset import make_subsets, parse_sizes, subset_file
from msm.aftgen.think import strip_think

__all__ = [
    "AftgenConfig",
    "ShortOfTarget",
    "make_subsets",
    "parse_sizes",
    "run_aftgen",
    "strip_think",
    "subset_file",
    "target_warning",
]
