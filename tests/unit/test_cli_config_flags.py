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
    ("path", "cls", "aliases", "left_out"),
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
def test_every_config_field_has_its_flag_with_the_fields_description(path, cls, aliases, left_out):
    params = {p.name: p for p in _command(path).params}
    for name, field in cls.model_fields.items():
        if name in left_out:
            assert name not in params
            continue
        assert name in params, f"{' '.join(path)}: no flag for {name}"
        p = params[name]
        if getattr(p, "opts", None) and p.param_type_name == "option":
            # the flag is the YAML key; an older name is kept as a second, documented name
            assert p.opts[0] == "--" + name.replace("_", "-"), (name, p.opts)
            if name in aliases:
                assert aliases[name] in p.opts and aliases[name] in (p.help or ""), p.opts
            if field.description and name != "data" and name not in aliases:  # help as declared
                assert field.description in (p.help or ""), (name, p.help)
    assert "config" in params


def test_an_older_flag_name_still_works_and_means_the_same(tmp_path: Path, monkeypatch):
    from msm.cli import train

    seen: list[TrainConfig] = []
    monkeypatch.setattr(train, "_train", lambda cfg, *_args, **_kw: seen.append(cfg))
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"text": "x"}\n')
    runner = CliRunner()
    base = ["train", "midtrain", "--base", "embedded", "--out", str(tmp_path / "o")]
    for args in (
        ["--docs", str(docs), "--lr", "3e-5"],
        ["--data", str(docs), "--learning-rate", "3e-5"],
    ):
        r = runner.invoke(app, [*base, *args])
        assert r.exit_code == 0, r.output
    old, new = seen
    assert old == new and old.learning_rate == 3e-5 and old.data == str(docs)


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


def _run_main(args: list[str], capsys) -> tuple[int, list[str]]:
    from msm.cli import main

    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return int(e.value.code or 0), err.splitlines()


def _midtrain(tmp_path: Path, yaml_text: str) -> list[str]:
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"text": "x"}\n')
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml_text)
    out = tmp_path / "out"
    return ["train", "midtrain", "--base", "embedded", "--data", str(docs), "--out", str(out)] + [
        "--config",
        str(cfg),
    ]


def test_an_unknown_yaml_key_names_the_closest_real_one(tmp_path: Path, capsys):
    code, lines = _run_main(_midtrain(tmp_path, "learning_rat: 1e-4\n"), capsys)
    assert code != 0
    assert lines == [
        f"msm: error: {tmp_path / 'config.yaml'}: unknown key 'learning_rat' "
        "(did you mean 'learning_rate'?)"
    ]
    assert not (tmp_path / "out").exists()
    # nothing close: no guess
    code, lines = _run_main(_midtrain(tmp_path, "zzzzqqq: 1\n"), capsys)
    assert code != 0 and lines == [f"msm: error: {tmp_path / 'config.yaml'}: unknown key 'zzzzqqq'"]


def test_every_bad_setting_in_a_file_is_reported_at_once(tmp_path: Path, capsys):
    bad = "learning_rate: 0\nepochs: many\nmethod: qlora\nlora_r: 64\n"
    code, lines = _run_main(_midtrain(tmp_path, bad), capsys)
    assert code != 0
    assert lines[0] == f"msm: error: {tmp_path / 'config.yaml'}: 3 errors", lines
    assert len(lines) == 4 and all(x.startswith("  ") for x in lines[1:]), lines
    body = "\n".join(lines[1:])
    assert "learning_rate: Input should be greater than 0 (got 0)" in body
    assert "epochs: Input should be a valid number" in body and "'many'" in body
    assert "method: Input should be 'lora' or 'full' (got 'qlora')" in body
    assert not (tmp_path / "out").exists()


def test_required_settings_may_come_from_the_yaml(tmp_path: Path, monkeypatch):
    from msm.cli import train

    seen: list[TrainConfig] = []
    monkeypatch.setattr(train, "_train", lambda cfg, *_args, **_kw: seen.append(cfg))
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"text": "x"}\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"base: embedded\ndata: {docs}\nlearning_rate: 2.0e-5\n")
    r = CliRunner().invoke(app, ["train", "midtrain", "--config", str(cfg), "--out", "o"])
    assert r.exit_code == 0, r.output
    assert (seen[0].base, seen[0].data, seen[0].learning_rate) == ("embedded", str(docs), 2e-5)
    # neither flag nor YAML: each missing setting named with its flag
    r = CliRunner().invoke(app, ["train", "midtrain", "--out", "o"])
    assert r.exit_code != 0 and len(seen) == 1
    assert "base: required (give --base" in str(r.exception)
    assert "data: required (give --data" in str(r.exception)


def _experiment(tmp_path: Path, **over: str) -> Path:
    cfg = {
        "name": "t",
        "base_model": "embedded",
        "generator": "fake",
        "model_name": "Smol",
        "specs": "{a: builtin:cheese_pro_america}",
        "aft": "{kind: preference, spec: a, n: 8}",
        "conditions": "[base, aft_only]",
        "seeds": "[0]",
        **over,
    }
    p = tmp_path / "exp.yaml"
    p.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items() if v is not None))
    return p


def test_experiment_yaml_unknown_keys_name_the_closest_real_one(tmp_path: Path):
    from msm._util.config_io import ConfigError
    from msm.errors import MsmError
    from msm.experiment.load import load_experiment

    aft = "{kind: preference, spec: a, n: 8, sise: [4]}"
    p = _experiment(tmp_path, seeds=None, seed="[0]", aft=aft)
    with pytest.raises(ConfigError) as e:
        load_experiment(p)
    assert e.value.header == f"{p}: 2 errors"
    assert sorted(e.value.details) == [
        "unknown key 'aft.sise' (did you mean 'aft.sizes'?) (line 6)",
        "unknown key 'seed' (did you mean 'seeds'?) (line 8)",
    ]
    assert "\n" not in str(e.value)  # one line where the message is logged
    # a stage's settings inside the experiment: the stage config's keys are suggested
    p = _experiment(tmp_path, corpus="{n_idea: 2}")
    with pytest.raises(MsmError) as e2:
        load_experiment(p)
    assert str(e2.value) == (
        f"{p}: unknown key 'corpus.n_idea' (did you mean 'corpus.n_ideas'?) (line 9)"
    )


def test_a_key_given_twice_is_refused_not_silently_overridden(tmp_path):
    """YAML keeps the last of two equal keys without a word; msm refuses them, nested too,
    in settings files and in a spec's front matter. The same key in two mappings is fine."""
    import pytest

    from msm._util.config_io import load_yaml, read_yaml_mapping
    from msm.errors import MsmError
    from msm.spec.core import load_spec

    assert load_yaml("a: {lr: 1}\nb: {lr: 2}\n") == {"a": {"lr": 1}, "b": {"lr": 2}}
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("name: x\ntrain:\n  midtrain: {epochs: 3, epochs: 4}\n")
    with pytest.raises(MsmError, match=r"the key 'epochs' is given twice \(again on line 3\)"):
        read_yaml_mapping(cfg, "experiment")
    cfg.write_text("lr: 0.1\nseed: 1\nlr: 0.2\n")
    with pytest.raises(MsmError, match="'lr' is given twice") as e:
        read_yaml_mapping(cfg)
    assert "\n" not in str(e.value)
    spec = tmp_path / "spec.md"
    spec.write_text("---\nname: a\nname: b\n---\n# Spec\n\nText.\n")
    with pytest.raises(MsmError, match="front matter .* 'name' is given twice"):
        load_spec(spec)
