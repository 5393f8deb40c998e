"""How much chat aftgen asks for: rounds sized by what is still missing, within a budget.

Pure functions (no model, no files), shared by the run and by projections:

* each round answers what is still missing, divided by the keep rate measured in
  earlier rounds, with a little spare (``OVERSHOOT``): a small request costs little
  more than it asks for, and a large one is not capped by the spec's section count;
* new situations are asked only when the queue of unanswered queries is too short,
  in proportion to the queries one situation has yielded so far;
* responses are bounded by ``max_responses_factor`` x n (the cost when few pass the
  checks), rounds by ``max_rounds``;
* :func:`target_warning` says when a target looks out of reach of the spec's size.
"""

from __future__ import annotations

import math
from typing import Any

from msm.errors import MsmError
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import load_spec
from msm.spec.units import structure_units

OVERSHOOT = 1.05  # spare answers per missing example: a round rarely falls just short
MIN_KEEP_RATE = 0.05  # below this the budget, not the estimate, decides
MIN_QUERIES_PER_SITUATION = 0.5  # so a round never asks more than 2 situations per query
BUDGET_SLACK = 5  # tiny targets get a few tries even when the first answers fail
STALL_ANSWERS = 20  # answers with nothing kept after which a run stops (something is broken)
SITUATION_CHAIN = 30  # situations per "don't repeat" list before a new chain (sample) starts
# Heuristic: distinct user messages one spec section grounds before most new ones are
# near-duplicates of earlier ones (and are dropped). Beyond it a target looks unreachable.
QUERIES_PER_UNIT = 2000

STOP_REASONS = {
    "max_rounds": "the round limit was reached",
    "response_budget": "the response budget was spent",
    "no_new_situations": "the model gave no new situations",
    "no_new_queries": "no new user message survived (none given, or all near-duplicates)",
    "nothing_kept": f"none of the first {STALL_ANSWERS}+ answers passed the checks",
}
HINTS = {
    "max_rounds": "raise --max-rounds or lower --n",
    "response_budget": "raise --max-responses-factor or lower --n",
    "no_new_situations": "lower --n or use a spec with more sections",
    "no_new_queries": "lower --n or use a spec with more sections",
    "nothing_kept": "see the drop counts in stats.json",
}


def response_budget(n: int, factor: float) -> int:
    """Responses a run may generate at most."""
    return math.ceil(n * factor) + BUDGET_SLACK


def answers_to_ask(missing: int, answered: int, kept: int) -> int:
    """Answers to generate in the next round for ``missing`` more examples, from the keep
    rate of the ``answered`` so far (1 before anything is measured)."""
    if missing <= 0:
        return 0
    rate = max(kept / answered if answered else 1.0, MIN_KEEP_RATE)
    return math.ceil(missing * OVERSHOOT / rate)


def situations_to_ask(queries: int, situations: int, survivors: int, n_queries: int) -> int:
    """New situations for ``queries`` more unanswered queries, from the queries per situation
    that survived deduplication so far (``n_queries`` before anything is measured)."""
    if queries <= 0:
        return 0
    per = survivors / situations if situations else float(n_queries)
    return math.ceil(queries / max(per, MIN_QUERIES_PER_SITUATION))


def target_warning(cfg: Any, n_units: int) -> str | None:
    """Why ``cfg`` (an AftgenConfig) looks unable to reach its target from a spec with
    ``n_units`` planning units, or None. A heuristic for projections: the run itself
    reports the real outcome."""
    if getattr(cfg, "kind", "chat") != "chat":
        return None
    if n_units < 1:
        return "the spec yields no usable sections, so no chat examples can be made"
    per_unit = cfg.n / n_units
    if per_unit > QUERIES_PER_UNIT:
        return (
            f"{cfg.n:,} chat examples from {n_units} spec section(s) is ~{per_unit:,.0f} per "
            f"section; beyond ~{QUERIES_PER_UNIT:,} per section new user messages mostly "
            "near-duplicate earlier ones and are dropped, so the run will likely end short "
            "(lower n or use a larger spec)"
        )
    return None


def spec_target_warning(cfg: Any, empty: bool = True) -> str | None:
    """:func:`target_warning` for ``cfg``'s own spec (loaded and split as aftgen does);
    ``empty=False`` leaves out a spec without sections (``msm aftgen`` refuses it itself,
    in one line)."""
    if getattr(cfg, "kind", "chat") != "chat":
        return None

    spec = load_spec(
        resolve_spec_path(cfg.spec), cfg.model_name, cfg.provider_name,
        literal_name=cfg.literal_name,
    )  # fmt: skip
    units = len(structure_units(spec, cfg.max_section_tokens)[0])
    return target_warning(cfg, units) if units or empty else None


class ShortOfTarget(MsmError):
    """A generation run that ended with fewer examples than requested (exit status 1:
    what was kept is written, the manifest is not). ``stats`` holds the run's stats."""

    exit_code = 1

    def __init__(self, message: str, stats: dict[str, Any]) -> None:
        super().__init__(message)
        self.stats = stats


def shortfall_message(
    kept: int, requested: int, stop: str | None, drops: dict[str, int], failed_calls: int
) -> str:
    """The one line a short run ends with: how short, why it stopped, what was dropped
    most, and what to do."""
    top = sorted(
        ((k, v) for k, v in drops.items() if not k.startswith("backfill:")),
        key=lambda kv: (-kv[1], kv[0]),
    )[:6]
    why = STOP_REASONS.get(stop or "", "it stopped")
    hint = HINTS.get(stop or "", "lower --n")
    if failed_calls:
        hint = f"rerun to retry the {failed_calls} failed call(s), or {hint}"
    dropped = ", ".join(f"{k}={v}" for k, v in top) or "none"
    return (
        f"aftgen: kept {kept} of {requested} requested (short by {requested - kept}): {why}; "
        f"drops: {dropped}; {hint} (a rerun reuses every stored call; another --n needs "
        "--overwrite); "
        "what was kept is written without a manifest"
    )
