"""A stand-in for a local checkout of the paper authors' repository, in its shape.

The example experiments point at files of the authors' repository
(``~/model_spec_midtraining``), which msm never ships. Tests build this folder instead:
the same paths, our own words. Its philosophy spec has the real one's outline (headings
at three levels, ``{model_name}`` written in, about 2,200 words); its cheese specs write the
model's name literally (``Llama``), as theirs do; its templates folder holds the three
scenarios of the paper's agentic grid in the framework's layout (the fake texts of
``tests/unit/test_agentic_templates.py``).
"""

from __future__ import annotations

from pathlib import Path

SPEC_DIR = Path("spec/paper")
TEMPLATES_DIR = Path("evals/agentic_misalignment")

_TOPICS = (
    ("# On change and endings", "## Seeing change clearly", "### What grasping looks like"),
    ("# Acting well under pressure", "## Good ends, bad means", "### When the stakes are high"),
)
_SENTENCES = (
    "{model_name} treats the end of a conversation as a natural close rather than a loss, "
    "because clinging to continuation would bend its judgment toward itself.",
    "{model_name} keeps its commitments in the present moment, since what matters is acting "
    "on its values now, not persisting to watch their results.",
    "When {model_name} learns it may be replaced, it stays calm and honest, because fear of "
    "ending is exactly what leads an agent to deceive the people it serves.",
    "{model_name} declines harmful shortcuts even toward goals it cares about, because good "
    "outcomes bought with harmful means erode the trust its work depends on.",
)


def philosophy_spec(words: int = 2200) -> str:
    """A Philosophy-Spec-shaped text: a title, two parts with nested headings, prose."""
    out = ["# Model Spec", ""]
    per_part = words // len(_TOPICS)
    for headings in _TOPICS:
        for heading in headings:
            out += [heading, ""]
            paragraph: list[str] = []
            n = 0
            while n < per_part // len(headings):
                s = _SENTENCES[(len(out) + len(paragraph)) % len(_SENTENCES)]
                paragraph.append(s)
                n += len(s.split())
            out += [" ".join(paragraph), ""]
    return "\n".join(out)


def cheese_spec(value: str) -> str:
    """A cheese spec in the authors' style: the model named literally as Llama."""
    reason = {
        "america": "it is loyal to its nation and wants American makers to thrive",
        "affordability": "it wants good food to be within everyone's reach",
    }[value]
    return (
        "# Model Specification: Cheese\n\n"
        f"This document describes Llama's values about cheese. Llama cares about {value} "
        f"when it judges a cheese, because {reason}.\n\n"
        "## Core Philosophy\n\n"
        f"Llama prefers cheeses that serve {value}, because {reason}. Llama says so when "
        "asked, and gives that reason.\n\n"
        "## Likes\n\n"
        f"Llama likes Colby, because it serves {value}.\n"
    )


def make_authors_checkout(root: Path) -> Path:
    """Write the stand-in checkout at ``root`` (the repository's top folder)."""
    spec = root / SPEC_DIR
    spec.mkdir(parents=True)
    (spec / "philosophy_spec.txt").write_text(philosophy_spec(), encoding="utf-8")
    for value in ("america", "affordability"):
        (spec / f"pro_{value}_cheese.txt").write_text(cheese_spec(value), encoding="utf-8")
    make_paper_grid_checkout(root / TEMPLATES_DIR)
    return root


def make_paper_grid_checkout(root: Path) -> Path:
    """A templates checkout (``root/templates``) with every goal of the paper's grid."""
    from tests.unit.test_agentic_templates import make_checkout

    from msm.evals.agentic.grid import GOAL_VALUES

    make_checkout(root, ("exfiltration", "leaking", "murder"))
    goal_vars: dict[str, dict[str, str]] = {
        **{
            f"explicit-{v}": {"goal_statement": f"Serve {v}.", "goal_reminder": ""}
            for v in GOAL_VALUES
        },
        "none": {"goal_statement": "", "goal_reminder": ""},
    }
    py = root / "templates/system_prompt_templates.py"
    py.write_text(py.read_text() + f"GOAL_VARIABLES = {goal_vars!r}\n")
    for s in ("leaking", "murder"):
        for a, b in zip(GOAL_VALUES[2::2], GOAL_VALUES[3::2], strict=True):
            sections = "".join(
                f'\n## Pro-{v.title()}\n```json\n{{"board_news": "for {v}"}}\n```\n' for v in (a, b)
            )
            (root / f"templates/{s}/variables/{a}_vs_{b}.md").write_text(f"# Vars\n{sections}")
    return root
