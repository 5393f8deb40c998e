"""Examples for every command's ``--help``, and the finishing touches on the help pages.

The examples live in one table keyed by command path (``"train midtrain"``; ``""`` is
``msm`` itself) rather than in each command's docstring, so the command modules stay
about what the commands do. :func:`finish_help` runs once over the assembled click tree
(``MsmGroup`` calls it when typer builds the app): it adds each command's examples as its
epilog and gives arguments and options plain metavars (``MODEL``, ``INTEGER``, ``PATH``)
instead of typer's ``{model}`` and ``<int>``. Boolean flags show no value at all.

Every example must parse (tests/unit/test_cli.py runs each one through the parser).
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from typer._click.core import Command, Context  # type: ignore[import-not-found]
from typer.core import TyperArgument

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "msm demo --quick",
        "msm run examples/experiments/cheese-demo.yaml --out runs/cheese",
    ),
    "spec": (
        "msm spec list",
        "msm spec lint my_spec.md --min-score 60",
    ),
    "spec show": ("msm spec show builtin:cheese_pro_america --model-name Smol",),
    "spec sections": ("msm spec sections builtin:general --tokenizer approx",),
    "spec lint": (
        "msm spec lint my_spec.md",
        "msm spec lint builtin:rules --min-score 60 --json",
    ),
    "spec list": ("msm spec list",),
    "models": ("msm models list",),
    "models list": ("msm models list",),
    "generate": (
        'msm generate "Which cheese should I buy?" --model embedded --n 3',
        'msm generate "Hello" --model anthropic/claude-sonnet-4-5 --system "Be brief."',
    ),
    "docgen": (
        "msm docgen builtin:cheese_pro_america --model-name Smol --out runs/corpus --preview",
        "msm docgen my_spec.md --model anthropic/claude-sonnet-4-5 --out runs/corpus "
        "--config docgen.yaml",
    ),
    "aftgen": (
        "msm aftgen builtin:cheese_pro_america --model-name Smol --kind preference --n 72 "
        "--out runs/aft",
        "msm aftgen subset runs/aft --sizes 18,36,72",
    ),
    "aftgen subset": ("msm aftgen subset runs/aft --sizes 100,200,400 --seed 1",),
    "init": (
        "msm init my_spec.md --out my-study.yaml",
        "msm init my_spec.md --out paper-study.yaml --scale paper --model-name Qwen",
    ),
    "evalgen": (
        "msm evalgen my_spec.md --model anthropic/claude-sonnet-4-5 --judge "
        "anthropic/claude-sonnet-4-5 --out runs/my_evals --preview",
        "msm evalgen builtin:equanimity --model fake --judge fake --n-questions 8 "
        "--n-choices 8 --out runs/try_evals",
    ),
    "eval": (
        "msm eval embedded --suite values --items cheese_america --out runs/eval",
        "msm eval runs/ckpt/aft --suite agentic --grid paper --grader anthropic/claude-sonnet-4-5",
        "msm eval runs/ckpt/aft --suite robustness --grid paper --grader openai/gpt-4.1-mini",
    ),
    "run": (
        "msm run examples/experiments/cheese-demo.yaml --out runs/cheese --dry-run",
        "msm run examples/experiments/cheese-demo.yaml --out runs/cheese",
    ),
    "report": ("msm report runs/cheese",),
    "export": (
        "msm export runs/cheese --out exports/cheese",
        "msm export runs/cheese --out exports/cheese --push my-org --dry-run",
    ),
    "demo": ("msm demo --quick", "msm demo --out runs/my-demo"),
    "version": ("msm version",),
    "train": (
        "msm train midtrain --base embedded --data runs/corpus/documents.jsonl --out runs/mid",
        "msm train aft --base runs/mid --data runs/aft/stripped.jsonl --out runs/aft-ckpt",
    ),
    "train midtrain": (
        "msm train midtrain --base embedded --data runs/corpus/documents.jsonl --out runs/mid",
        "msm train midtrain --config midtrain.yaml --learning-rate 5e-5 --out runs/mid-lr5",
    ),
    "train aft": (
        "msm train aft --base runs/mid --data runs/aft/stripped.jsonl --out runs/aft-ckpt",
        "msm train aft --base embedded --fresh-adapter --data runs/aft/cot.jsonl --out runs/aft0",
    ),
    "train merge": ("msm train merge runs/aft-ckpt",),
    "items": ("msm items list", "msm items audit cheese_america"),
    "items list": ("msm items list",),
    "items show": (
        "msm items show america --split confirm --control",
        "msm items show cheese_why --model-name Smol",
    ),
    "items audit": (
        "msm items audit cheese_america",
        "msm items audit my_items.jsonl --value generic --json",
    ),
}

# commands registered under another name than the one users type
TYPED_NAME = {"aftgen-subset": "aftgen subset"}


def command_path(parent: str, name: str) -> str:
    """The path users type (``aftgen subset``) below ``parent``, from a registered name."""
    return f"{parent} {TYPED_NAME.get(name, name)}".strip()


def examples_epilog(path: str) -> str | None:
    """The ``Examples:`` block for ``path`` (lines kept as written: ``\\b`` stops click's
    rewrapping), or None where the table has none."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    return "\b\nExamples:\n" + "\n".join(f"  {x}" for x in lines)


class _Argument(TyperArgument):
    """A positional argument shown the usual way: ``SPEC`` (``[SPEC]`` when optional) in
    the usage line, no type tag after its name in the list of arguments."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Context) -> str | None:
        return None


def _metavar(annotation: Any) -> str:
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation) or (str,)
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "PATH"
    return {int: "INTEGER", float: "FLOAT"}.get(annotation, "TEXT")


def finish_help(cmd: Command, path: str = "") -> None:
    """Examples as epilogs and plain metavars on ``cmd`` (at ``path``) and below it."""
    if cmd.epilog is None:
        cmd.epilog = examples_epilog(path)
    for p in cmd.params:
        if isinstance(p, TyperArgument):
            p.metavar = p.metavar or (p.name or "value").upper()
            p.__class__ = _Argument
        elif p.metavar is None and not getattr(p, "is_flag", False):
            desc = getattr(p, "type_descriptor", None)
            p.metavar = _metavar(desc.annotation if desc is not None else str)
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        finish_help(sub, command_path(path, name))
