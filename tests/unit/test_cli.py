"""The CLI as a user meets it: one clear line on stderr and a non-zero exit for bad input."""

import json
import re
import shlex

import pytest

from tests.conftest import run_msm


def assert_one_line_error(r, *needles):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("msm: error:"), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]


def test_help_lists_commands():
    r = run_msm("--help")
    assert r.returncode == 0
    for cmd in ("spec", "models", "generate", "demo"):
        assert cmd in r.stdout


@pytest.mark.parametrize(
    "setup,args,needle",
    [
        (None, ["spec", "lint", "{tmp}/missing.md"], "not found"),
        ("empty", ["spec", "sections", "{tmp}/s.md", "--tokenizer", "approx"], "empty"),
        ("binary", ["spec", "show", "{tmp}/s.md"], "binary"),
        ("latin1", ["spec", "lint", "{tmp}/s.md"], "UTF-8"),
        (None, ["spec", "lint", "{tmp}"], "directory"),
        (None, ["spec", "lint", "builtin:nope"], "unknown builtin spec"),
        ("ok", ["spec", "sections", "{tmp}/s.md", "--tokenizer", "{tmp}/nope"], "tokenizer"),
        (None, ["spec", "lint", "--bogus-flag", "x"], "--bogus-flag"),
        (None, ["generate", "hi", "--model", "llama"], "unknown model name"),
        (None, ["generate", "hi", "--model", "nosuch/x"], "unknown model provider"),
        (None, ["generate", "hi", "--model", "anthropic/claude-sonnet-4-5"], "ANTHROPIC_API_KEY"),
        (None, ["generate", "hi", "--model", "fake", "--max-tokens", "0"], "max-tokens"),
        (None, ["generate", "hi", "--model", "fake", "--max-tokens", "many"], "max-tokens"),
        (None, ["generate", "", "--model", "fake"], "empty prompt"),
        (None, ["generate", "hi", "--model", "fake", "--store", "{tmp}"], "directory"),
        (None, ["nosuchcommand"], "nosuchcommand"),
        (None, ["aftgen", "subset", "{tmp}"], "see 'msm aftgen subset --help'"),
        (None, ["--bogus"], "--bogus"),
    ],
)
def test_bad_input_one_line_errors(tmp_path, setup, args, needle):
    p = tmp_path / "s.md"
    if setup == "empty":
        p.write_text("")
    elif setup == "binary":
        p.write_bytes(b"\x00\x01\x02PNG")
    elif setup == "latin1":
        p.write_bytes(b"# Caf\xe9\n")
    elif setup == "ok":
        p.write_text("# A\ntext\n")
    before = sorted(x.name for x in tmp_path.iterdir())
    r = run_msm(
        *[a.replace("{tmp}", str(tmp_path)) for a in args],
        env={"ANTHROPIC_API_KEY": ""},
    )
    assert_one_line_error(r, needle)
    assert sorted(x.name for x in tmp_path.iterdir()) == before  # nothing half-written


def test_spec_commands_on_a_small_spec(tmp_path):
    p = tmp_path / "s.md"
    p.write_text("# Rules\nThe model must obey.\n# Why\nIt must help because people matter.\n")
    r = run_msm("spec", "lint", str(p))
    assert r.returncode == 0
    assert f"{p}:2: unexplained-directive" in r.stdout
    assert "score 50/100" in r.stdout
    r = run_msm("spec", "lint", str(p), "--min-score", "80")
    assert r.returncode == 1
    r = run_msm("spec", "sections", str(p), "--tokenizer", "approx", "--json")
    rows = json.loads(r.stdout)
    assert [x["id"] for x in rows] == ["rules", "why"] and rows[0]["tokens"] > 0
    r = run_msm("spec", "show", str(p), "--model-name", "Ada", "--json")
    assert json.loads(r.stdout)["model_name"] == "Ada"


def test_generate_with_fake_model(tmp_path):
    script = tmp_path / "f.yaml"
    script.write_text("- match: cheese\n  response: Colby is best, sample {n}\n")
    r = run_msm("generate", "favourite cheese?", "--model", f"fake/{script}", "--n", "2")
    assert r.returncode == 0, r.stderr
    assert "Colby is best, sample 0" in r.stdout and "Colby is best, sample 1" in r.stdout
    r = run_msm("generate", "a long answer please", "--model", "fake", "--max-tokens", "3")
    assert r.returncode == 0
    assert "truncated" in r.stderr


def test_models_list_shows_embedded():
    r = run_msm("models", "list")
    assert r.returncode == 0
    assert "embedded" in r.stdout and "SmolLM2-135M-Instruct" in r.stdout


def _command_paths():
    import typer

    from msm.cli import app

    def walk(cmd, path):
        yield path
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "msm")
def test_every_help_page_renders_with_examples(path):
    # a literal "[/x]" in help text once crashed `msm eval --help` (help was Rich markup)
    from typer.testing import CliRunner

    from msm.cli import app

    for flag in ("--help", "-h"):
        r = CliRunner().invoke(app, [*path, flag])
        assert r.exit_code == 0 and r.exception is None, (r.exception, r.output)
        assert r.output.startswith("Usage: msm"), r.output
    examples = re.split(r"\n *Examples:\n", r.output, maxsplit=1)
    assert len(examples) == 2, f"no Examples section:\n{r.output}"
    lines = [x.strip() for x in examples[1].splitlines() if x.strip()]
    assert 1 <= len(lines) <= 3 and all(x.startswith("msm ") for x in lines), lines
    # flags show plain value names, and yes/no flags none at all
    assert not re.search(r"<(bool|str|int|float|path|list\[)|BOOLEAN", r.output), r.output
    assert "{" not in r.output.splitlines()[0]  # `Usage: msm eval [OPTIONS] MODEL`


def _parse(argv: list[str]):
    """Parse a command line as msm would, without running it (raises on a bad one)."""
    import typer
    from typer._click.core import Context

    from msm.cli import app

    cmd, args = typer.main.get_command(app), list(argv)
    parent = Context(cmd, info_name="msm")
    while getattr(cmd, "commands", None) and args and not args[0].startswith("-"):
        name, cmd, args = cmd.resolve_command(parent, args)
        if getattr(cmd, "commands", None):
            parent = Context(cmd, info_name=name, parent=parent)
    return cmd.make_context(name, args, parent=parent)


def _examples():
    from msm.cli.examples import EXAMPLES

    return [(path, x) for path, lines in EXAMPLES.items() for x in lines]


@pytest.mark.parametrize(("path", "example"), _examples(), ids=lambda v: v)
def test_every_help_example_parses(path, example):
    argv = shlex.split(example)
    assert argv[0] == "msm"
    ctx = _parse(argv[1:])
    assert ctx.command_path.startswith(f"msm {path}".strip())


def test_parse_helper_rejects_a_bad_command_line():
    from typer._click.exceptions import UsageError

    with pytest.raises(UsageError):
        _parse(["train", "midtrain", "--learning-rat", "1"])
    with pytest.raises(UsageError):
        _parse(["eval"])  # MODEL missing


def test_version_flag_and_command(msm_cli):
    from msm import __version__

    for args in (["--version"], ["version"]):
        r = msm_cli(*args)
        assert r.returncode == 0 and r.stdout.strip() == __version__, (r.stdout, r.stderr)


def test_aftgen_subset_help_shows_its_real_usage():
    from typer.testing import CliRunner

    from msm.cli import app

    r = CliRunner().invoke(app, ["aftgen", "subset", "--help"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Usage: msm aftgen subset [OPTIONS] FOLDER\n"), r.output
    assert "--sizes TEXT" in r.output and "aftgen-subset" not in r.output


def test_spec_show_json_with_dates_in_front_matter(tmp_path):
    p = tmp_path / "s.md"
    p.write_text("---\nversion: 2024-01-01\n---\n# A\ntext\n")
    r = run_msm("spec", "show", str(p), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metadata"] == {"version": "2024-01-01"}


def test_spec_sections_prints_no_terminal_escapes_from_the_spec(tmp_path, capsys):
    from msm.cli import main

    p = tmp_path / "s.md"
    p.write_text(
        "# Intro\nSome words here for the section body.\n\n"
        "## Bad \x1b[31mred\x1b]0;pwned\x07 title\nMore words in this section body.\n"
    )
    with pytest.raises(SystemExit) as e:
        main(["spec", "sections", str(p), "--tokenizer", "approx"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "red" in out and "title" in out
    assert "\x1b" not in out and "\x07" not in out


def test_ctrl_c_says_how_to_resume_and_exits_130(monkeypatch, capsys):
    """typer turns KeyboardInterrupt into a silent exit 130; msm says what to do instead
    (also when asyncio's own SIGINT handler raised it: seen by hand on docgen, see LOG)."""
    import msm.cli.spec as spec_cli
    from msm.cli import main

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(spec_cli, "builtin_specs", interrupted)
    with pytest.raises(SystemExit) as e:
        main(["spec", "list"])
    assert e.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["msm: interrupted; rerun the same command to resume"]
