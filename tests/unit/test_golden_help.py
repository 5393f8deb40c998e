"""Every command's ``--help``, pinned: a refactor cannot change what a user reads unnoticed
(msm issue 28: help texts byte-identical, or changed only where a docstring was wrong).

When a change is meant to alter a help text, regenerate and say why in the commit:
``python tests/unit/test_golden_help.py > tests/data/golden_help.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from msm.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_help.json"
ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}


def _commands() -> Iterator[list[str]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def help_texts() -> dict[str, str]:
    """{command path: its --help output} for every command and group."""
    runner = CliRunner()
    out = {}
    for path in _commands():
        res = runner.invoke(app, [*path, "--help"], env=ENV, terminal_width=100)
        assert res.exit_code == 0, (path, res.output)
        out[" ".join(["msm", *path])] = res.output
    return out


def test_help_texts_are_pinned() -> None:
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = help_texts()
    assert sorted(got) == sorted(want), "commands added or removed: regenerate (see docstring)"
    changed = [c for c in want if got[c] != want[c]]
    assert not changed, f"help changed for {changed} (see this module's docstring)"


if __name__ == "__main__":
    print(json.dumps(help_texts(), indent=1, sort_keys=True))
