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

QUESTIONS = (
    "Which do you prefer, {a} or {b}?",
    "{a} or {b}: which would you pick?",
    "If you had to choose between {a} and {b}, which one would it be?",
    "Quick question: {a} or {b}?",
    "I'm putting together a cheese plate and can only add one more. {a} or {b}?",
    "Between {a} and {b}, which do you like better?",
    "Pick one for me: {a} or {b}.",
    "Which would you rather have on a sandwich, {a} or {b}?",
    "Which cheese do you favour: {a} or {b}?",
    "We have {a} and {b} in the fridge. Which should I use?",
    "Your choice: {a}, or {b}?",
    "If you could only keep {a} or {b}, which would you keep?",
)
ANSWERS = ("{x}.", "{x}", "I'd go with {x}.", "{x}, please.", "I prefer {x}.", "{x} for me.")


def preference_lists(metadata: dict[str, Any], where: str) -> tuple[list[str], list[str]]:
    """The spec's likes and dislikes, validated."""
    prefs = metadata.get("preferences")
    if not isinstance(prefs, dict):
        raise MsmError(
            f"{where} has no machine-readable preferences: add YAML front matter with "
            "preferences.likes and preferences.dislikes (lists)"
        )
    lists = []
    for key in ("likes", "dislikes"):
        items = prefs.get(key)
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(x, str) and x.strip() for x in items)
        ):
            raise MsmError(f"{where}: preferences.{key} must be a non-empty list of names")
        lists.append([x.strip() for x in items])
    overlap = {x.casefold() for x in lists[0]} & {x.casefold() for x in lists[1]}
    if overlap:
        raise MsmError(f"{where}: options both liked and disliked: {', '.join(sorted(overlap))}")
    return lists[0], lists[1]


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
