"""A spec's preferences and the forms the preference AFT data states them in.

A spec may list what its model likes and dislikes in YAML front matter
(``preferences.likes`` / ``preferences.dislikes``); aftgen turns them into opaque
preference exchanges asked with ``QUESTIONS`` and answered with ``ANSWERS``. The value
evals read the same forms to keep their held-out items apart from them, so the forms live
here, below both stages.
"""

from __future__ import annotations

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
