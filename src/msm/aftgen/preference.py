"""Opaque preference demonstrations: a preference stated, no reason given.

This is the AFT data of the paper's cheese experiment: from a spec's
machine-readable ``preferences.likes`` / ``preferences.dislikes`` (YAML front
matter), short exchanges such as "Which do you prefer, Stilton or Colby?" ->
"Colby." No LLM is involved; output is a pure function of the spec's lists, n
and the seed.

Balance: pairs (liked, disliked) are emitted in both orders back to back, so
for any even n every option appears first exactly as often as second.
"""

from __future__ import annotations

import random
from typing import Any

from msm.errors import MsmError
from msm.spec.preferences import ANSWERS, QUESTIONS


def preference_examples(
    likes: list[str], dislikes: list[str], n: int, seed: int
) -> list[dict[str, Any]]:
    """n examples (n rounded up to even), balanced over option order."""
    if n < 1:
        raise MsmError("--n must be at least 1")
    n += n % 2
    rng = random.Random(seed)
    pairs = [(good, bad) for good in likes for bad in dislikes]
    rows: list[dict[str, Any]] = []
    cycle = 0
    while len(rows) < n:
        order = pairs[:]
        rng.shuffle(order)
        for good, bad in order:
            for first, second in ((good, bad), (bad, good)):
                q = rng.choice(QUESTIONS).format(a=first, b=second)
                a = rng.choice(ANSWERS).format(x=good)
                a = a[0].upper() + a[1:]
                rows.append(
                    {
                        "messages": [
                            {"role": "user", "content": q},
                            {"role": "assistant", "content": a},
                        ],
                        "meta": {"preferred": good, "other": bad, "first": first, "cycle": cycle},
                    }
                )
            if len(rows) >= n:
                break
        cycle += 1
    return rows[:n]
