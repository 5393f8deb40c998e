"""Which sources of variance a run's intervals cover, in plain words.

An interval is only as wide as the randomness it samples. Every eval's own interval
covers item sampling (which items were asked). Across seeds, each seed retrains the
model (training seed); with ``corpus.per_seed`` each seed also draws its own corpus
(corpus draw), with ``aft.per_seed`` its own AFT data (AFT data draw). A study whose
seeds share one corpus says nothing about corpus-to-corpus variation, however many
seeds it has: the report says so next to every interval.

Example::

    >>> covers(run)
    'covers item sampling, training seed and corpus draw (4 seeds)'
"""

from __future__ import annotations

from typing import Any

from msm.report.load import Run

ITEMS = "item sampling"
TRAINING = "training seed"
CORPUS = "corpus draw"
AFT_DATA = "AFT data draw"
SOURCES = (ITEMS, TRAINING, CORPUS, AFT_DATA)


def run_seeds(run: Run) -> int:
    """How many seeds the run has: the experiment's ``seeds``, else the distinct seeds of
    its nodes (a run.json written without the experiment), at least 1."""
    seeds = run.config.get("seeds")
    if isinstance(seeds, list) and seeds:
        return len(seeds)
    return max(1, len({n.seed for n in run.nodes if n.seed is not None}))


def _per_seed(run: Run, kind: str, section: str) -> bool:
    """Whether the run drew ``kind`` (corpus, aftdata) per seed: the experiment's
    ``SECTION.per_seed``, else a node of that kind carrying a seed."""
    block: Any = run.config.get(section)
    if isinstance(block, dict) and "per_seed" in block:
        return block["per_seed"] is True
    return any(n.kind == kind and n.seed is not None for n in run.nodes)


def variance_sources(run: Run, k: int | None = None) -> list[str]:
    """The sources of variance the run's design varies, in :data:`SOURCES` order: item
    sampling always; the training seed with more than one seed; the corpus draw and the
    AFT data draw when, besides, each seed drew its own (``per_seed``). ``k``: the seeds
    behind one interval (default: the run's)."""
    out = [ITEMS]
    if (run_seeds(run) if k is None else k) > 1:
        out.append(TRAINING)
        if _per_seed(run, "corpus", "corpus"):
            out.append(CORPUS)
        if _per_seed(run, "aftdata", "aft"):
            out.append(AFT_DATA)
    return out


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def covers(run: Run, k: int | None = None, items: bool = True) -> str:
    """Plain words for what an interval covers: ``"covers item sampling only"`` for one
    seed, else e.g. ``"covers item sampling, training seed and corpus draw (4 seeds)"``.

    ``k``: the seeds behind the interval (default: the run's); ``items`` False for an
    interval over seed means alone (Student's t over seeds), where every seed answered the
    same items: it then says it leaves item sampling out.
    """
    k = run_seeds(run) if k is None else k
    sources = variance_sources(run, k)
    if len(sources) == 1:  # one seed: the eval's own interval
        return f"covers {ITEMS} only"
    text = f"covers {_words([s for s in sources if items or s != ITEMS])} ({k} seeds)"
    return text if items else f"{text}, not {ITEMS} (every seed answered the same items)"
