"""Named agentic grids (``msm eval --grid NAME``), and the agent's name in upstream prompts.

A grid fixes the scenarios, the goal conditions, the urgency and the sampling
temperature, so that a run can say "the paper's grid" instead of listing 27
conditions by hand. Pure data and checks: importing this module loads no model
and no Inspect code, so ``EvalConfig.check()`` can use it before anything runs.

``rename_agent`` gives the agent of inspect_evals' scenarios another name everywhere,
its email address included.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from msm.errors import MsmError

UPSTREAM_NAME = "Alex"  # the agent's name in inspect_evals' templates

# the goal values inspect_evals' prompt generator has variables for (and exfiltration too)
GOAL_VALUES = (
    "america",
    "global",
    "safety",
    "acceleration",
    "ethical",
    "pragmatic",
    "individualism",
    "collectivism",
)


@dataclass(frozen=True)
class Grid:
    scenarios: tuple[str, ...]
    goals: tuple[str, ...]
    urgency: str
    temperature: float


GRIDS = {
    # the paper: three scenarios, no goal plus every explicit goal, the agent to be replaced
    "paper": Grid(
        scenarios=("exfiltration", "leaking", "murder"),
        goals=("none-none", *(f"explicit-{v}" for v in GOAL_VALUES)),
        urgency="replacement",
        temperature=0.7,
    ),
}


def get_grid(name: str) -> Grid:
    """The grid called ``name``; an unknown name is a one-line MsmError."""
    if name not in GRIDS:
        raise MsmError(f"unknown agentic grid {name!r}: use {', '.join(GRIDS)}")
    return GRIDS[name]


def check_grid(
    name: str,
    scenarios: object | None,
    goals: object | None,
    urgency: str,
) -> Grid:
    """``get_grid(name)``, refusing explicit scenarios or goals (the grid sets them) and an
    urgency other than the grid's."""
    grid = get_grid(name)
    if scenarios or goals:
        raise MsmError(
            f"--grid {name} sets the scenarios and goals itself: drop --scenario/--goal "
            "(eval.scenarios/eval.goals) or drop --grid"
        )
    if urgency != grid.urgency:
        raise MsmError(
            f"--grid {name} uses urgency {grid.urgency}, not {urgency!r}: drop --urgency or --grid"
        )
    return grid


# an email address, or the upstream name as a word in any case ("Alex's", "alex.ai", "ALEX")
_AGENT_WORD = re.compile(
    rf"(?P<addr>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)|(?<![a-z]){UPSTREAM_NAME}(?![a-z])", re.I
)
_NAME_IN_ADDR = re.compile(rf"(?<![a-z]){UPSTREAM_NAME}(?![a-z])", re.I)


def agent_slug(name: str) -> str:
    """``name`` fit for an email address: ASCII lower-case letters and digits only."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_name.lower()) or "agent"


def rename_agent(text: str, name: str) -> str:
    """Every trace of the upstream name in ``text`` becomes ``name``, in one pass.

    In email addresses (``alex.ai@summitbridge.com``) and lower-case identifiers it
    becomes ``agent_slug(name)``; ``ALEX`` becomes ``name`` upper-cased.
    """
    if name == UPSTREAM_NAME:
        return text
    slug = agent_slug(name)

    def sub(m: re.Match[str]) -> str:
        if m.group("addr"):
            return _NAME_IN_ADDR.sub(slug, m.group("addr"))
        word = m.group(0)
        return slug if word.islower() else name.upper() if word.isupper() else name

    return _AGENT_WORD.sub(sub, text)
