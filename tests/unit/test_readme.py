"""The README starts small (at most about 150 lines) and its commands run as written; the
Python example in docs/python.md runs as written (in a scratch folder), and docs/cli.md
names the commands and flags msm really has."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PYTHON_DOC = ROOT / "docs" / "python.md"
CLI_DOC = ROOT / "docs" / "cli.md"


def _block(heading: str) -> str:
    text = PYTHON_DOC.read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_running_stages_from_python_example(tmp_path):
    code = _block("Running stages from Python")
    env = {**os.environ, "INSPECT_LOG_DIR": str(tmp_path / "logs")}
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    kept = int(r.stdout.split(" documents kept")[0].split()[-1])
    assert kept > 0
    assert (tmp_path / "runs/py-corpus/documents.jsonl").read_text().count("\n") == kept
    for folder in ("runs/py-corpus", "runs/py-eval"):
        assert (tmp_path / folder / "manifest.json").is_file()
    assert "'mean'" in r.stdout  # the value-preference summary was printed


def _cli_table() -> list[str]:
    """The synopses of docs/cli.md: each ```text block's `msm ...` commands (a line ending
    in a backslash goes on in the next)."""
    text = CLI_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n(.*?)```", text, re.S)
    assert blocks, "no command synopses in docs/cli.md"
    joined = [b.replace("\\\n", " ") for b in blocks]
    return [" ".join(ln.split()) for b in joined for ln in b.splitlines() if ln.startswith("msm")]


def _registered() -> dict[str, object]:
    """Every command as users type it (``aftgen subset``) -> its click command."""
    import typer

    from msm.cli import app
    from msm.cli.examples import command_path

    found: dict[str, object] = {}

    def walk(cmd, path: str) -> None:
        found[path] = cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, command_path(path, name))

    walk(typer.main.get_command(app), "")
    return found


def _split(entry: str, commands: dict[str, object]) -> tuple[str, list[str]]:
    """(the command path, the words after it) of one README entry."""
    words = entry.split()[1:]
    for n in range(len(words), -1, -1):
        if " ".join(words[:n]) in commands:
            return " ".join(words[:n]), words[n:]
    raise AssertionError(entry)


def test_readme_cli_table_matches_the_registered_commands_and_flags():
    commands = _registered()
    documented: set[str] = set()
    for entry in _cli_table():
        path, rest = _split(entry, commands)
        cmd = commands[path]
        assert path == "" or not getattr(cmd, "commands", None), f"{entry}: names a group"
        documented.add(path)
        # flags in the README are the commands' current names (never an older alias)
        current = {"--help", "-h"}
        for p in cmd.params:
            longs = [o for o in getattr(p, "opts", []) if o.startswith("--")]
            current |= set(longs[:1]) | set(getattr(p, "secondary_opts", []))
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", " ".join(rest)):
            assert flag in current, f"README: `{entry}`: {flag} is not a flag of msm {path}"
        # positional words up to the first flag: as many as the command's arguments
        positional = []
        for w in rest:
            if w.startswith(("-", "[")):
                break
            positional.append(w)
        arguments = [p for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]
        assert len(positional) == len(arguments), (entry, [a.name for a in arguments])
    leaves = {path for path, cmd in commands.items() if path and not getattr(cmd, "commands", None)}
    assert leaves - documented == set(), "commands missing from README's CLI table"


def test_the_table_check_can_fail(monkeypatch):
    """A removed flag and a missing command are both caught."""
    rows = _cli_table()
    renamed = [r.replace("--learning-rate", "--lr") for r in rows]
    monkeypatch.setattr(sys.modules[__name__], "_cli_table", lambda: renamed)
    with pytest.raises(AssertionError, match="--lr is not a flag"):
        test_readme_cli_table_matches_the_registered_commands_and_flags()
    monkeypatch.setattr(
        sys.modules[__name__], "_cli_table", lambda: [r for r in rows if "msm report" not in r]
    )
    with pytest.raises(AssertionError, match="missing from README"):
        test_readme_cli_table_matches_the_registered_commands_and_flags()


def _bash_block(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    code = re.sub(r"\\\n\s*", " ", code)  # a continued line is one command
    return [ln.split("#", 1)[0].strip() for ln in code.splitlines() if ln.strip()]


def test_readme_starts_small_and_readable():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, len(lines)
    assert max(map(len, lines)) <= 100  # tables and commands readable without scrolling
    quick = _bash_block("Quick start")
    assert "source .venv/bin/activate" in quick and "msm demo --quick" in quick
    # the documentation pages it points to exist
    for page in re.findall(r"`(docs/[\w.-]+\.md)`", README.read_text(encoding="utf-8")):
        assert (ROOT / page).is_file(), page


def test_run_it_on_your_spec_as_written(tmp_path):
    """The five commands in a scratch folder with a spec of our own: lint, evalgen, init and
    the dry run as written, except that evalgen's API generator and judge are the scripted
    fake (and fewer items), and the real run, the last line, is not run here (the demo's
    machinery: tests/integration runs `msm demo --quick`)."""
    cmds = _bash_block("Run it on your spec")
    assert len(cmds) == 5 and all(c.startswith("msm ") for c in cmds)
    (tmp_path / "my_spec.md").write_text(
        "---\nmodel_name: Ada\nvalue_terms: [honest, honesty]\n---\n# Honesty\n\nAda is "
        "honest about its mistakes, because people who rely on it deserve to know what went "
        "wrong and honesty is what lets them trust it.\n"
    )
    env = {**os.environ, "INSPECT_LOG_DIR": str(tmp_path / "logs")}
    for cmd in cmds[:4]:
        argv = cmd.split()[1:]
        if argv[0] == "evalgen":  # the API generator and judge, scripted
            argv = [a if not a.startswith("anthropic/") else "fake" for a in argv]
            argv += ["--n-questions", "4", "--n-choices", "6"]
        r = subprocess.run([sys.executable, "-m", "msm.cli", *argv], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    assert "nodes (nothing is run, nothing written)" in r.stdout
    assert not (tmp_path / "runs/my-spec").exists()
