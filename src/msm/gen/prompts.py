"""Prompt templates shipped as package data (``msm/data/prompts/<stage>/<name>.txt``).

Templates use ``$name`` placeholders (``string.Template``), so spec text full of
braces can be inserted verbatim; values are substituted once and never
re-expanded. Each template's sha256 goes into the manifest of the stage that
used it, so editing a prompt is visible and redoes the affected work.

A template may open with a system part, ended by a line ``=== user message ===``
(:data:`USER_MARK`): what every call of a stage shares (the spec context, the role, the
fixed instructions). It goes first, as a system message identical byte for byte across
the stage's calls, so providers' prompt caching applies to it; the varying part
(assertion, idea, focus section) is the user message after it. The system part is filled
from the shared values only, so a per-call placeholder there is an error, not a silent
cache miss.
"""

from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from importlib import resources

from msm.errors import MsmError

USER_MARK = "=== user message ==="


@lru_cache(maxsize=64)
def load_prompt(stage: str, name: str) -> str:
    """The text of one template."""
    try:
        return (
            resources.files("msm").joinpath(f"data/prompts/{stage}/{name}.txt").read_text("utf-8")
        )
    except FileNotFoundError as e:
        raise MsmError(f"missing prompt template {stage}/{name}") from e


def prompt_hash(stage: str, name: str) -> str:
    """sha256 of a template's text."""
    return hashlib.sha256(load_prompt(stage, name).encode("utf-8")).hexdigest()


def split_prompt(stage: str, name: str) -> tuple[str | None, str]:
    """(system part or None, user part) of a template."""
    text = load_prompt(stage, name)
    head, mark, tail = text.partition(f"\n{USER_MARK}\n")
    return (head, tail) if mark else (None, text)


def _fill(stage: str, name: str, text: str, values: dict[str, object]) -> str:
    try:
        return string.Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as e:
        raise KeyError(f"prompt {stage}/{name} needs a value for {e}") from e


def render(stage: str, name: str, **values: object) -> str:
    """Fill a template (both parts, as one text); every placeholder must be given."""
    system, user = render_parts(stage, name, values, {})
    return user if system is None else f"{system}\n\n{user}"


def render_parts(
    stage: str, name: str, shared: dict[str, object], values: dict[str, object]
) -> tuple[str | None, str]:
    """(system, user) texts: the system part filled from ``shared`` alone (what every call
    of the stage shares), the user part from ``shared`` and ``values``."""
    system, user = split_prompt(stage, name)
    sys_text = None if system is None else _fill(stage, name, system, shared)
    return sys_text, _fill(stage, name, user, {**shared, **values})
