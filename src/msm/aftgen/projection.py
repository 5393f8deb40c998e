"""What a chat aftgen run will call, projected from its settings alone: no call, no file.

Counts: aftgen answers what is missing over the keep rate (+5%), so about
``1.05 n / keep`` responses, with an assumed keep rate (0.7 with a judge, 0.9 without);
situation lists and query lists of 30 items each feed them; one judge verdict per
response. Tokens: words x ``TOKENS_PER_WORD`` of each prompt as rendered (its system
part, the spec context included, and its user part with a typical section, situation
and query), and the expected length of each answer. The system part of each template is
the same on every call: :func:`project_aftgen` gives it per role as ``prefixes``
([calls, tokens]) so the cost can price it as a cache read after the first call.
"""

from __future__ import annotations

import math
from typing import Any

from msm.aftgen.config import AftgenConfig
from msm.gen.listgen import ROUND
from msm.gen.prompts import split_prompt
from msm.spec.context import spec_context
from msm.spec.core import Spec
from msm.spec.units import structure_units

TOKENS_PER_WORD = 1.35
LIST_OUTPUT_TOKENS = 150
JUDGE_OUTPUT_TOKENS = 60  # a short JSON verdict
ITEM_WORDS = 25  # a situation or a user message
LIST_ITEMS = 30  # items a situation or query list yields before a new one starts
EXPECTED_ROUNDS = 3  # backfill rounds most runs need ("two or three": AftgenConfig)


def keep_rate(cfg: AftgenConfig) -> float:
    """The keep rate the projection assumes: judges and dedup drop more."""
    return 0.7 if cfg.judge else 0.9


def project_aftgen(cfg: AftgenConfig, spec: Spec) -> dict[str, Any]:
    """Calls, tokens and shared prefixes per role (``generator``, ``judge`` or None) of a
    chat aftgen run of ``cfg`` on ``spec``, plus ``answers``, ``response_tokens`` and
    ``batch_rounds`` (rounds of calls that wait on each other)."""

    units = structure_units(spec, cfg.max_section_tokens)[0]
    context = len(spec_context(spec, cfg.context_tokens).text.split())
    excerpt = sum(len(u.excerpt.split()) for u in units) / max(1, len(units))

    def words(text: str | None) -> int:
        return 0 if text is None else len(text.split()) + (context if "$context" in text else 0)

    def tokens(template: str, *extra: float) -> tuple[int, int]:
        """(whole prompt, system part) tokens of one call of ``template``."""
        system, user = split_prompt("aftgen", template)
        whole = (words(system) + words(user) + sum(extra)) * TOKENS_PER_WORD
        return int(whole), int(words(system) * TOKENS_PER_WORD)

    resp_out = int(cfg.max_tokens_response * 0.6)
    answers = int(cfg.n * 1.05 / keep_rate(cfg))
    lists = -(-answers // LIST_ITEMS)  # situation lists, and as many query lists
    r_in, r_pre = tokens(f"response_{cfg.style}", excerpt, ITEM_WORDS)
    s_in, s_pre = tokens("situations", excerpt, ROUND * ITEM_WORDS)
    q_in, _ = tokens("queries", ITEM_WORDS, ROUND * ITEM_WORDS)
    generator = {
        "calls": answers + 2 * lists,
        "input_tokens": answers * r_in + lists * (s_in + q_in),
        "output_tokens": answers * resp_out + 2 * lists * LIST_OUTPUT_TOKENS,
        "prefixes": [p for p in ([answers, r_pre], [lists, s_pre]) if p[1]],
    }
    judge = None
    if cfg.judge:
        j_in, j_pre = tokens("judge", excerpt, ITEM_WORDS, resp_out / TOKENS_PER_WORD)
        judge = {
            "calls": answers,
            "input_tokens": answers * j_in,
            "output_tokens": answers * JUDGE_OUTPUT_TOKENS,
            "prefixes": [[answers, j_pre]] if j_pre else [],
        }
    # each round: the situation list's rounds, the query list's, the answers, the verdicts
    per_round = (
        math.ceil(LIST_ITEMS / ROUND) + math.ceil(cfg.n_queries / ROUND) + 1 + bool(cfg.judge)
    )
    return {
        "generator": generator,
        "judge": judge,
        "answers": answers,
        "response_tokens": resp_out,
        "keep_rate": keep_rate(cfg),
        "batch_rounds": per_round * min(EXPECTED_ROUNDS, cfg.max_rounds),
    }
