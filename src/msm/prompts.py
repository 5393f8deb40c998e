"""Prompt templates shipped as package data (``msm/data/prompts/<stage>/<name>.txt``).

Templates use ``$name`` placeholders (``string.Template``), so spec text full of
braces can be inserted verbatim; values are substituted once and never
re-expanded. Each template's sha256 goes into the manifest of the stage that
used it, so editing a prompt is visible and redoes the affected work.
"""

from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from importlib import resources

from msm.errors import MsmError


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


def render(stage: str, name: str, **values: object) -> str:
    """Fill a template; every placeholder must be given (a missing one is a bug)."""
    tpl = string.Template(load_prompt(stage, name))
    try:
        return tpl.substitute({k: str(v) for k, v in values.items()})
    except KeyError as e:
        raise KeyError(f"prompt {stage}/{name} needs a value for {e}") from e
