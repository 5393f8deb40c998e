"""Stage flags are generated from the stage configs: every field has its flag, help comes
from the field's description, and the config is built defaults < YAML < typed flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from msm.aftgen.config import AftgenConfig
from msm.cli import app
from msm.cli.config_flags import Flag, _cli_type, config_command
from msm.docgen.config import DocgenConfig
from msm.evals.config import EvalConfig
from msm.train.config import TrainConfig


def _command(path: list[str]):
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd


@pytest.mark.parametrize(
    ("path", "cls", "renamed", "left_out"),
    [
        (["docgen"], DocgenConfig, {}, set()),
        (["aftgen"], AftgenConfig, {}, set()),
        (
            ["eval"],
            EvalConfig,
            {"scenarios": "--scenario", "goals": "--goal", "model_name": "--agent-name"},
            set(),
        ),
        (["train", "aft"], TrainConfig, {"learning_rate": "--lr"}, {"stage", "target_modules"}),
        (
            ["train", "midtrain"],
            TrainConfig,
            {"learning_rate": "--lr", "data": "--docs"},
            {"stage", "target_modules", "fresh_adapter", "adapter", "system_prompt"},
        ),
    ],
)
def test_every_config_field_has_its_flag_with_the_fields_description(path, cls, renamed, left_out):
    params = {p.name: p for p in _command(path).params}
    for name, field in cls.model_fields.items():
        if name in left_out:
            assert name not in params
            continue
        assert name in params, f"{' '.join(path)}: no flag for {name}"
        p = params[name]
        if getattr(p, "opts", None) and p.param_type_name == "option":
            want = renamed.get(name, "--" + name.replace("_", "-"))
            assert want in p.opts, (name, p.opts)
            if field.description and name not in renamed and name != "data":  # no help override
                assert field.description in (p.help or ""), (name, p.help)
    assert "config" in params


class Toy(BaseModel):
    n: int = Field(default=3, description="how many")
    mode: Literal["a", "b"] = "a"
    tags: list[str] = Field(default_factory=list)
    path: str | None = None
    keep: bool = True
    table: dict[str, int] = Field(default_factory=dict)  # no flag form: YAML only


def _toy_app(seen: list[Toy]) -> typer.Typer:
    toy = typer.Typer()

    @config_command(toy, "go", Toy, flags={"path": Flag(path=True)})
    def go(cfg: Toy) -> None:
        seen.append(cfg)

    @toy.command("other")  # a second command, so typer keeps "go" as a subcommand
    def other() -> None:
        pass

    return toy


def test_yaml_then_typed_flags_win_and_defaults_never_override(tmp_path: Path):
    seen: list[Toy] = []
    toy = _toy_app(seen)
    runner = CliRunner()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("n: 9\nmode: b\ntable: {x: 1}\nkeep: false\n")

    def go(*args: str) -> Toy:
        r = runner.invoke(toy, ["go", *args])
        assert r.exit_code == 0, r.output
        return seen[-1]

    assert go() == Toy()
    from_yaml = go("--config", str(cfg))
    assert (from_yaml.n, from_yaml.mode, from_yaml.table, from_yaml.keep) == (
        9,
        "b",
        {"x": 1},
        False,
    )
    # a typed flag wins, even when it types the default value
    assert go("--config", str(cfg), "--n", "3").n == 3
    assert go("--config", str(cfg), "--keep").keep is True
    assert go("--tags", "x", "--tags", "y").tags == ["x", "y"]
    f = tmp_path / "f.txt"
    f.write_text("x")
    assert go("--path", str(f)).path == str(f)
    bad = runner.invoke(toy, ["go", "--mode", "c"])
    assert bad.exit_code != 0 and "mode" in str(bad.exception or bad.output)
    assert "--table" not in runner.invoke(toy, ["go", "--help"]).output


def test_types_without_a_flag_form_are_yaml_only():
    assert _cli_type(dict[str, int]) is None
    assert _cli_type(list[str] | Literal["all-linear"]) is None
    assert _cli_type(Literal["x", "y"]) == (str, "x | y")
    assert _cli_type(int | None) == (int | None, "")
