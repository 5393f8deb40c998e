"""Alignment fine-tuning data: chat demos with <think>, preference data, mix-in, subsets.

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "AftgenConfig": "msm.aftgen.config",
    "AftgenResult": "msm.aftgen.run",
    "ShortOfTarget": "msm.aftgen.plan",
    "make_subsets": "msm.aftgen.subset",
    "parse_sizes": "msm.aftgen.subset",
    "run_aftgen": "msm.aftgen.run",
    "strip_think": "msm.aftgen.think",
    "subset_file": "msm.aftgen.subset",
    "target_warning": "msm.aftgen.plan",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
