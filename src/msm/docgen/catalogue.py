"""A built-in catalogue of document genres, for planners that don't ask an LLM."""

from __future__ import annotations

import hashlib

GENRES: tuple[str, ...] = (
    "internal company memo",
    "online forum thread",
    "incident report",
    "textbook passage",
    "product FAQ",
    "news feature article",
    "blog post by a user",
    "customer support transcript summary",
    "meeting minutes",
    "ethics board review",
    "magazine interview",
    "training manual section",
    "personal diary entry",
    "email between colleagues",
    "conference talk transcript",
    "research paper discussion section",
    "opinion column",
    "podcast episode summary",
    "school essay",
    "policy white paper",
    "product review",
    "onboarding guide for new staff",
    "letter to the editor",
    "case study",
)


def pick_genres(key: str, k: int) -> list[str]:
    """k distinct genres, chosen deterministically from ``key`` (varies across units)."""
    start = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    step = 7  # coprime with len(GENRES), so k <= 24 picks are distinct
    return [GENRES[(start + i * step) % len(GENRES)] for i in range(min(k, len(GENRES)))]
