"""Alignment fine-tuning data: preference demonstrations, mix-in, nested subsets."""

from msm.aftgen.run import AftgenConfig, run_aftgen
from msm.aftgen.subset import make_subsets, parse_sizes
from msm.aftgen.think import strip_think

__all__ = ["AftgenConfig", "make_subsets", "parse_sizes", "run_aftgen", "strip_think"]
