"""Alignment fine-tuning data: chat demos with <think>, preference data, mix-in, subsets.

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.aftgen.config import AftgenConfig as AftgenConfig
    from msm.aftgen.plan import ShortOfTarget as ShortOfTarget
    from msm.aftgen.plan import target_warning as target_warning
    from msm.aftgen.run import AftgenResult as AftgenResult
    from msm.aftgen.run import run_aftgen as run_aftgen
    from msm.aftgen.subset import make_subsets as make_subsets
    from msm.aftgen.subset import parse_sizes as parse_sizes
    from msm.aftgen.subset import subset_file as subset_file
    from msm.aftgen.think import strip_think as strip_think

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
