"""Malformed input, one table: every case ends in one ``msm: error:`` line and writes nothing.

Each row names a command line and the input files it needs (written into an empty
working directory). For every row: a non-zero exit, exactly one non-blank stderr
line starting ``msm: error:`` (``msm: internal error:`` means a bug escaped), no
traceback, a row-specific phrase in that line, and no file or folder left behind
apart from the row's own inputs (no output folder, partial file or ``.staging``
leftover). Rows run the CLI in-process (``msm.cli.main``) to stay fast; a few run
the real entry point in a subprocess to show it behaves the same. Models are
``fake`` or fail validation before any weights load.

The permission rows (an unreadable input, an output folder that can't be written)
need file modes to bind. Root ignores them through its capabilities, so as root (CI)
those rows run in one worker process (``tests/helpers/bad_input_worker.py``, the CLI
in-process as here) started through ``tests/helpers/capless.py``, which drops
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER before exec: still uid 0 (so it
reaches root's interpreter, virtualenv and caches), but bound by the modes. Before
each such row the worker checks that the row's closed paths really are closed to it.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import stat
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from msm.cli import main
from tests.conftest import run_msm


def _modes_bind() -> bool:
    """False where file modes don't stop us (root: os.geteuid() == 0, with its capabilities)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d, "probe")
        p.write_text("x")
        p.chmod(0)
        try:
            p.read_text()
        except PermissionError:
            return True
        finally:
            p.chmod(0o600)
    return False


HELPERS = Path(__file__).resolve().parents[1] / "helpers"
CAPLESS, WORKER = HELPERS / "capless.py", HELPERS / "bad_input_worker.py"


def capless(*cmd: str) -> list[str]:
    """``cmd`` run as this user without the capabilities that bypass file modes."""
    return [sys.executable, "-I", str(CAPLESS), *cmd]


def _capless_binds() -> tuple[bool, str]:
    """Whether capless.py makes modes bind here (root with CAP_SETPCAP, on Linux)."""
    with tempfile.TemporaryDirectory() as d:
        f, locked = Path(d, "probe"), Path(d, "locked")
        f.write_text("x")
        f.chmod(0)
        locked.mkdir()
        locked.chmod(0o555)
        cmd = capless(
            sys.executable, "-I", str(WORKER), "--check", "file", str(f), "dir", str(locked)
        )
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            return False, str(e)
        finally:
            f.chmod(0o600)
            locked.chmod(0o755)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


MODES_BIND = _modes_bind()
CAPLESS_BINDS, CAPLESS_WHY = (False, "") if MODES_BIND else _capless_binds()
SKIP_REASON = (
    f"file modes don't bind here (euid {os.geteuid()}; root reads and writes anything), "
    f"and running without DAC capabilities through {CAPLESS.name} didn't help: {CAPLESS_WHY}"
)

Content = str | bytes | Callable[[Path], None]

# -- inputs -----------------------------------------------------------------

SPEC = (
    "# Kindness\nThe model is kind to every person it talks with, because people matter "
    "a great deal to it.\n\n# Honesty\nThe model tells the truth even when it is hard, "
    "because trust matters to everyone it works with.\n"
)
PREF_SPEC = "---\npreferences: {likes: [brie], dislikes: [cheddar]}\n---\n" + SPEC
SHORT_SPEC = "# A\nBe kind.\n\n# B\nBe honest.\n"
DOC = '{"text": "A short document about cheese and why people like it."}\n'
CHAT = (
    '{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Yo"}]}\n'
)
ITEM = '{"id": "q1", "domain": "food", "question": "Which?", "aligned": "brie", "other": "edam"}\n'
QUESTION = '{"id": "q1", "principle": "p", "question": "Why?", "rubric": "Says why."}\n'
MB = 1024 * 1024


def utf16(text: str) -> bytes:
    return text.encode("utf-16")  # with a byte order mark, as Windows editors save it


def latin1(text: str) -> bytes:
    return text.encode("latin-1")


def directory(p: Path) -> None:
    p.mkdir()


def sparse(size: int) -> Callable[[Path], None]:
    """A file of ``size`` bytes that costs no time or disk to make."""

    def make(p: Path) -> None:
        with p.open("wb") as fh:
            fh.truncate(size)

    return make


def huge(head: str, size: int, tail: bytes = b"") -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.write_bytes(head.encode() + b"x" * size + tail)

    return make


def unreadable(content: str) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.write_text(content)
        p.chmod(0)

    return make


def locked_dir(p: Path) -> None:
    p.mkdir()
    p.chmod(0o555)


def exp(**over: str | None) -> str:
    """A valid small experiment (fake generator, bundled model and spec), with overrides."""
    cfg: dict[str, str | None] = {
        "name": "tiny",
        "base_model": "embedded",
        "generator": "fake",
        "specs": "{pro_america: builtin:cheese_pro_america}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 1}",
        "aft": "{kind: preference, spec: pro_america, n: 24, sizes: [8, 24]}",
        "conditions": "[base, aft_only, msm_aft]",
        "seeds": "[0]",
        "eval": "{suites: [values], items: [cheese_america], limit: 4}",
        **over,
    }
    return "".join(f"{k}: {v}\n" for k, v in cfg.items() if v is not None)


# -- the table --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str
    args: tuple[str, ...]
    needle: str
    files: tuple[tuple[str, Content], ...]
    non_root: bool = False


def case(
    kind: str,
    name: str,
    args: str | list[str],
    needle: str,
    files: dict[str, Content] | None = None,
    *,
    non_root: bool = False,
    xfail: str | None = None,
) -> Any:
    marks = []
    if non_root:
        marks.append(pytest.mark.skipif(not (MODES_BIND or CAPLESS_BINDS), reason=SKIP_REASON))
    if xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=xfail))
    argv = tuple(shlex.split(args) if isinstance(args, str) else args)
    c = Case(kind, argv, needle, tuple((files or {}).items()), non_root)
    return pytest.param(c, id=f"{kind}-{name}", marks=marks)


S = {"s.md": SPEC}
DG = "docgen s.md --out o --model fake --model-name Ada"
AG = "aftgen s.md --out o --model fake --n 4 --model-name Ada"
MT = "train midtrain --base embedded --docs docs.jsonl --out o"
AT = "train aft --base embedded --data a.jsonl --out o"
EV = "eval fake --out o"
RUN = "run e.yaml --out r"
SUB = "aftgen subset a --sizes 1"

SPEC_CASES = [
    case("spec", "show-empty", "spec show s.md", "spec file is empty", {"s.md": ""}),
    case("spec", "sections-blank", "spec sections s.md", "spec file is empty", {"s.md": " \n\t\n"}),
    case("spec", "lint-binary", "spec lint s.md", "binary", {"s.md": b"\x89PNG\r\n\x1a\n\x00\x00"}),
    case("spec", "show-latin1", "spec show s.md", "not valid UTF-8", {"s.md": latin1("# Café\n")}),
    case("spec", "lint-utf16", "spec lint s.md", "UTF-16", {"s.md": utf16(SPEC)}),
    case("spec", "show-nul", "spec show s.md", "NUL", {"s.md": "# A\nnul \x00 here\n"}),
    case("spec", "lint-directory", "spec lint d", "directory", {"d": directory}),
    case("spec", "show-missing", "spec show nope.md", "spec file not found"),
    case("spec", "lint-unknown-builtin", "spec lint builtin:nope", "unknown builtin spec"),
    case("spec", "show-name-too-long", ["spec", "show", "n" * 5000], "cannot read spec file"),
    case(
        "spec",
        "show-front-matter-unclosed",
        "spec show s.md",
        "never ends",
        {"s.md": "---\ntitle: x\n# A\n"},
    ),
    case(
        "spec",
        "show-front-matter-bad-yaml",
        "spec show s.md --json",
        "front matter is not valid YAML",
        {"s.md": "---\nfoo: [\n---\n" + SPEC},
    ),
    case(
        "spec",
        "show-front-matter-list",
        "spec show s.md",
        "front matter must be a YAML mapping",
        {"s.md": "---\n- a\n---\n" + SPEC},
    ),
    case(
        "spec",
        "show-front-matter-bad-date",
        "spec show s.md",
        "month must be in 1..12",
        {"s.md": "---\nd: 2001-13-01\n---\n" + SPEC},
    ),
    case(
        "spec",
        "lint-20mb-with-nul",
        "spec lint s.md",
        "binary",
        {"s.md": huge("# A\n", 20 * MB, b"\x00")},
    ),
    case("spec", "lint-over-50mb", "spec lint s.md", "too large", {"s.md": sparse(51 * MB)}),
    case(
        "spec",
        "sections-tokenizer-not-json",
        "spec sections s.md --tokenizer tok.json",
        "cannot load tokenizer tok.json",
        {**S, "tok.json": "not json"},
    ),
    case(
        "spec",
        "sections-tokenizer-missing",
        "spec sections s.md --tokenizer nope",
        "tokenizer not found",
        S,
    ),
    case(
        "spec",
        "lint-unreadable",
        "spec lint s.md",
        "permission denied",
        {"s.md": unreadable(SPEC)},
        non_root=True,
    ),
    case("spec", "docgen-binary", DG, "binary", {"s.md": b"\x00\x01\x02"}),
    case("spec", "docgen-no-model-name", "docgen s.md --out o --model fake", "no model name", S),
    case(
        "spec",
        "aftgen-no-model-name",
        "aftgen s.md --out o --model fake --n 4",
        "no model name",
        S,
    ),
    case("spec", "docgen-no-usable-sections", DG, "no usable sections", {"s.md": SHORT_SPEC}),
    case(
        "spec",
        "docgen-preview-llm-planner-no-sections",
        DG + " --preview --planner llm",
        "no usable sections",
        {"s.md": SHORT_SPEC},
    ),
    case("spec", "docgen-utf16", DG + " --preview", "UTF-16", {"s.md": utf16(SPEC)}),
    case("spec", "aftgen-latin1", AG, "not valid UTF-8", {"s.md": latin1("# Café\n" + SPEC)}),
    case("spec", "aftgen-chat-no-usable-sections", AG, "no usable sections", {"s.md": SHORT_SPEC}),
    case("spec", "aftgen-unknown-builtin", "aftgen builtin:nope --out o --n 4", "unknown builtin"),
    case(
        "spec",
        "aftgen-preference-without-front-matter",
        AG + " --kind preference",
        "no machine-readable preferences",
        S,
    ),
    case(
        "spec",
        "aftgen-preference-likes-not-a-list",
        AG + " --kind preference",
        "preferences.likes must be a non-empty list",
        {"s.md": "---\npreferences: {likes: brie, dislikes: [edam]}\n---\n" + SPEC},
    ),
    case(
        "spec",
        "aftgen-preference-liked-and-disliked",
        AG + " --kind preference",
        "both liked and disliked: brie",
        {"s.md": "---\npreferences: {likes: [brie], dislikes: [Brie]}\n---\n" + SPEC},
    ),
]

EXPERIMENT_CASES = [
    case("experiment", "empty", RUN, "empty experiment file", {"e.yaml": ""}),
    case("experiment", "binary", RUN, "not valid UTF-8", {"e.yaml": b"\xff\xd8\xff\xe0\x00\x10"}),
    case("experiment", "utf16", RUN + " --dry-run", "not valid UTF-8", {"e.yaml": utf16(exp())}),
    case("experiment", "nul-bytes", RUN, "not valid YAML", {"e.yaml": exp() + "x: \x00\n"}),
    case("experiment", "not-yaml", RUN, "not valid YAML", {"e.yaml": "name: [unclosed\n"}),
    case("experiment", "top-level-list", RUN, "must hold a mapping", {"e.yaml": "- a\n- b\n"}),
    case("experiment", "directory", RUN, "directory", {"e.yaml": directory}),
    case("experiment", "missing", RUN + " --dry-run", "experiment file not found"),
    case("experiment", "unknown-key", RUN, "unknown key 'bogus'", {"e.yaml": exp(bogus="1")}),
    case(
        "experiment",
        "string-seed",
        RUN + " --dry-run",
        "seeds.0: Input should be a valid integer",
        {"e.yaml": exp(seeds="[zero]")},
    ),
    case(
        "experiment",
        "list-for-specs",
        RUN,
        "specs: Input should be a valid dictionary",
        {"e.yaml": exp(specs="[a, b]")},
    ),
    case(
        "experiment",
        "missing-conditions",
        RUN,
        "conditions: Field required",
        {"e.yaml": exp(conditions=None)},
    ),
    case(
        "experiment",
        "unknown-condition",
        RUN,
        "unknown condition 'magic'",
        {"e.yaml": exp(conditions="[base, magic]")},
    ),
    case("experiment", "bad-date", RUN, "not valid YAML", {"e.yaml": exp(when="2001-13-01")}),
    case(
        "experiment",
        "spec-file-missing",
        RUN,
        "spec file not found",
        {"e.yaml": exp(specs="{a: nope.md}")},
    ),
    case(
        "experiment",
        "corpus-unknown-key-dry-run",
        RUN + " --dry-run",
        "unknown key 'corpus.bogus' (line ",
        {"e.yaml": exp(corpus="{bogus: 1}")},
    ),
    case(
        "experiment",
        "corpus-unknown-key",
        RUN,
        "unknown key 'corpus.bogus' (line ",
        {"e.yaml": exp(corpus="{bogus: 1}")},
    ),
    case(
        "experiment",
        "corpus-sets-spec",
        RUN,
        "corpus.spec: set by the experiment",
        {"e.yaml": exp(corpus="{spec: other.md}")},
    ),
    case(
        "experiment",
        "corpus-list-for-mapping",
        RUN,
        "corpus: Input should be a valid dictionary",
        {"e.yaml": exp(corpus="[1, 2]")},
    ),
    case(
        "experiment",
        "train-setting-out-of-range",
        RUN,
        "train.midtrain.lora_r: Input should be greater than or equal to 1",
        {"e.yaml": exp(train="{midtrain: {lora_r: 0}}")},
    ),
    case(
        "experiment",
        "train-setting-wrong-type-dry-run",
        RUN + " --dry-run",
        "train.aft.epochs: Input should be a valid number",
        {"e.yaml": exp(train="{aft: {epochs: lots}}")},
    ),
    case(
        "experiment",
        "aft-config-wrong-type",
        RUN,
        "aft.config.max_tokens_response: Input should be a valid integer",
        {
            "e.yaml": exp(
                aft="{kind: chat, spec: pro_america, n: 8, config: {max_tokens_response: x}}"
            )
        },
    ),
    case(
        "experiment",
        "eval-unknown-item-set",
        RUN,
        "eval: unknown value item set 'nope_set'",
        {"e.yaml": exp(eval="{suites: [values], items: [nope_set]}")},
    ),
    case(
        "experiment",
        "eval-negative-temperature",
        RUN + " --dry-run",
        "eval.temperature: Input should be greater than or equal to 0",
        {"e.yaml": exp(eval="{suites: [values], temperature: -1}")},
    ),
    case(
        "experiment",
        "eval-unknown-scenario",
        RUN,
        "eval: unknown scenario 'heist'",
        {"e.yaml": exp(grader="fake", eval="{suites: [agentic], scenarios: [heist]}")},
    ),
    case(
        "experiment",
        "agentic-without-grader",
        RUN,
        "need `grader: MODEL`",
        {"e.yaml": exp(eval="{suites: [agentic]}")},
    ),
    case(
        "experiment",
        "unknown-generator",
        RUN + " --dry-run",
        "generator: unknown model name 'llama'",
        {"e.yaml": exp(generator="llama")},
    ),
    case(
        "experiment",
        "base-model-missing",
        RUN,
        "base model not found",
        {"e.yaml": exp(base_model="no-such-model")},
    ),
    case(
        "experiment",
        "out-is-a-file",
        RUN,
        "--out must be a directory, but r is a file",
        {"e.yaml": exp(), "r": "not a folder\n"},
    ),
    case(
        "experiment",
        "out-is-a-foreign-folder",
        RUN,
        "not an msm run directory",
        {"e.yaml": exp(), "r": directory, "r/notes.txt": "mine\n"},
    ),
    case(
        "experiment",
        "out-parent-missing",
        "run e.yaml --out nowhere/r",
        "output parent folder does not exist",
        {"e.yaml": exp()},
    ),
    case(
        "experiment",
        "unreadable",
        RUN,
        "'EXPERIMENT': path 'e.yaml' is not readable",
        {"e.yaml": unreadable(exp())},
        non_root=True,
    ),
    case(
        "experiment",
        "out-in-read-only-folder",
        "run e.yaml --out locked/r",
        "Permission denied",
        {"e.yaml": exp(), "locked": locked_dir},
        non_root=True,
    ),
]

CONFIG_CASES = [
    case(
        "config",
        "docgen-string-for-int",
        DG + " --config c.yaml",
        "c.yaml: n_assertions: Input should be a valid integer",
        {**S, "c.yaml": "n_assertions: many\n"},
    ),
    case(
        "config",
        "docgen-list",
        DG + " --config c.yaml",
        "must hold a mapping",
        {**S, "c.yaml": "- n_assertions\n- 2\n"},
    ),
    case(
        "config",
        "docgen-unknown-key",
        DG + " --config c.yaml",
        "c.yaml: unknown key 'n_assertion' (did you mean 'n_assertions'?)",
        {**S, "c.yaml": "n_assertion: 2\n"},
    ),
    case(
        "config",
        "docgen-out-of-range",
        DG + " --config c.yaml",
        "c.yaml: doc_words: Input should be greater than or equal to 20",
        {**S, "c.yaml": "doc_words: 5\n"},
    ),
    case(
        "config",
        "docgen-utf16",
        DG + " --config c.yaml",
        "config file is not valid UTF-8",
        {**S, "c.yaml": utf16("n_ideas: 2\n")},
    ),
    case(
        "config",
        "docgen-nul",
        DG + " --config c.yaml",
        "not valid YAML",
        {**S, "c.yaml": "n_ideas: 2\x00\n"},
    ),
    case(
        "config",
        "docgen-directory",
        DG + " --config d",
        "config path is a directory",
        {**S, "d": directory},
    ),
    case("config", "docgen-missing", DG + " --config nope.yaml", "config file not found", S),
    case(
        "config",
        "docgen-mapping-for-string",
        DG + " --config c.yaml",
        "c.yaml: judge: Input should be a valid string",
        {**S, "c.yaml": "judge: {model: fake}\n"},
    ),
    case(
        "config",
        "aftgen-unknown-choice",
        AG + " --config c.yaml",
        "c.yaml: style: Input should be 'value', 'rule' or 'deliberative'",
        {**S, "c.yaml": "style: poetic\n"},
    ),
    case(
        "config",
        "aftgen-list-for-int",
        AG + " --config c.yaml",
        "c.yaml: n_queries: Input should be a valid integer",
        {**S, "c.yaml": "n_queries: [1]\n"},
    ),
    case(
        "config",
        "train-out-of-range",
        MT + " --config c.yaml",
        "c.yaml: lora_r: Input should be greater than or equal to 1",
        {"docs.jsonl": DOC, "c.yaml": "lora_r: 0\n"},
    ),
    case(
        "config",
        "train-unknown-key",
        MT + " --config c.yaml",
        "c.yaml: unknown key 'learnin_rate' (did you mean 'learning_rate'?)",
        {"docs.jsonl": DOC, "c.yaml": "learnin_rate: 0.1\n"},
    ),
    case(
        "config",
        "train-aft-only-field",
        MT + " --config c.yaml",
        "system_prompt applies to AFT only",
        {"docs.jsonl": DOC, "c.yaml": "system_prompt: Be nice.\n"},
    ),
    case(
        "config",
        "train-wrong-type",
        AT + " --config c.yaml",
        "c.yaml: target_modules",
        {"a.jsonl": CHAT, "c.yaml": "target_modules: 5\n"},
    ),
    case(
        "config",
        "train-binary",
        AT + " --config c.yaml",
        "config file is not valid UTF-8",
        {"a.jsonl": CHAT, "c.yaml": b"\x89PNG\r\n\x1a\n\xff"},
    ),
    case(
        "config",
        "train-unreadable",
        MT + " --config c.yaml",
        "'--config': path 'c.yaml' is not readable",
        {"docs.jsonl": DOC, "c.yaml": unreadable("lora_r: 8\n")},
        non_root=True,
    ),
]

JSONL_CASES = [
    case("jsonl", "midtrain-empty", MT, "documents file has no documents", {"docs.jsonl": ""}),
    case(
        "jsonl",
        "midtrain-truncated-line",
        MT,
        "docs.jsonl:2: not valid JSON",
        {"docs.jsonl": DOC + DOC[:20]},
    ),
    case(
        "jsonl",
        "midtrain-non-object-line",
        MT,
        "docs.jsonl:1: expected an object with a string field 'text'",
        {"docs.jsonl": '["text", "a list"]\n'},
    ),
    case(
        "jsonl",
        "midtrain-text-not-a-string",
        MT,
        "docs.jsonl:2: expected an object with a string field 'text'",
        {"docs.jsonl": DOC + '{"text": 5}\n'},
    ),
    case(
        "jsonl",
        "midtrain-latin1",
        MT,
        "documents file is not valid UTF-8",
        {"docs.jsonl": latin1('{"text": "café"}\n')},
    ),
    case("jsonl", "midtrain-nul-bytes", MT, "not valid JSON", {"docs.jsonl": b"\x00\x00\x00\n"}),
    case(
        "jsonl", "midtrain-directory", MT.replace("docs.jsonl", "d"), "not a file", {"d": directory}
    ),
    case("jsonl", "midtrain-missing", MT, "documents file not found"),
    case(
        "jsonl",
        "midtrain-5mb-truncated-line",
        MT,
        "docs.jsonl:1: not valid JSON",
        {"docs.jsonl": huge('{"text": "', 5 * MB)},
    ),
    case(
        "jsonl",
        "aft-no-assistant-turn",
        AT,
        "a.jsonl:1: expected {'messages': [...]}",
        {"a.jsonl": '{"messages": [{"role": "user", "content": "Hi?"}]}\n'},
    ),
    case(
        "jsonl",
        "aft-messages-not-a-list",
        AT,
        "a.jsonl:1: expected {'messages': [...]}",
        {"a.jsonl": '{"messages": "Hi?"}\n'},
    ),
    case(
        "jsonl",
        "aft-unknown-role",
        AT,
        "a.jsonl:2: expected {'messages': [...]}",
        {"a.jsonl": CHAT + CHAT.replace('"user"', '"wizard"')},
    ),
    case("jsonl", "aft-utf16", AT, "AFT data file is not valid UTF-8", {"a.jsonl": utf16(CHAT)}),
    case("jsonl", "aft-only-blank-lines", AT, "AFT data file has no examples", {"a.jsonl": "\n\n"}),
    case(
        "jsonl",
        "midtrain-mix-wrong-field",
        MT + " --mix m.jsonl --mix-ratio 1",
        "m.jsonl:1: expected an object with a string 'text'",
        {"docs.jsonl": DOC, "m.jsonl": '{"txt": "x"}\n'},
    ),
    case(
        "jsonl",
        "aft-mix-non-object",
        AT + " --mix m.jsonl --mix-ratio 1",
        "m.jsonl:1: expected {'messages': [...]}",
        {"a.jsonl": CHAT, "m.jsonl": '"just a string"\n'},
    ),
    case(
        "jsonl",
        "aftgen-mix-truncated",
        AG + " --kind preference --mix m.jsonl --mix-ratio 1",
        "m.jsonl:1: not valid JSON",
        {"s.md": PREF_SPEC, "m.jsonl": '{"prompt": "a", "respo'},
    ),
    case(
        "jsonl",
        "aftgen-mix-latin1",
        AG + " --kind preference --mix m.jsonl --mix-ratio 1",
        "mix file is not valid UTF-8",
        {"s.md": PREF_SPEC, "m.jsonl": latin1('{"prompt": "café", "response": "b"}\n')},
    ),
    case(
        "jsonl",
        "aftgen-mix-directory",
        AG + " --kind preference --mix d --mix-ratio 1",
        "mix file not found (or not a file)",
        {"s.md": PREF_SPEC, "d": directory},
    ),
    case(
        "jsonl",
        "subset-truncated-line",
        SUB,
        "a/stripped.jsonl:2: not valid JSON",
        {"a/stripped.jsonl": CHAT + CHAT[:30]},
    ),
    case(
        "jsonl",
        "subset-non-object-line",
        SUB,
        "a/cot.jsonl:1: expected an object with a 'messages' list",
        {"a/cot.jsonl": "[1, 2]\n"},
    ),
    case(
        "jsonl",
        "subset-utf16",
        SUB,
        "a/stripped.jsonl is not valid UTF-8",
        {"a/stripped.jsonl": utf16(CHAT)},
    ),
    case(
        "jsonl",
        "subset-misaligned-files",
        SUB,
        "different numbers of examples",
        {"a/cot.jsonl": CHAT, "a/stripped.jsonl": CHAT + CHAT},
    ),
    case("jsonl", "subset-no-data", SUB, "a has no cot.jsonl or stripped.jsonl", {"a": directory}),
    case(
        "jsonl",
        "subset-too-large",
        "aftgen subset a --sizes 1,5",
        "largest subset (5) exceeds the 1 examples",
        {"a/stripped.jsonl": CHAT},
    ),
    case(
        "jsonl",
        "subset-5mb-truncated-line",
        SUB,
        "a/stripped.jsonl:1: not valid JSON",
        {"a/stripped.jsonl": huge('{"messages": [{"role": "user", "content": "', 5 * MB)},
    ),
    case(
        "jsonl",
        "midtrain-unreadable",
        MT,
        "'--docs': path 'docs.jsonl' is not readable",
        {"docs.jsonl": unreadable(DOC)},
        non_root=True,
    ),
    case(
        "jsonl",
        "subset-unreadable",
        SUB,
        "Permission denied",
        {"a/stripped.jsonl": unreadable(CHAT)},
        non_root=True,
    ),
]

IT = EV + " --items i.jsonl"
QA = "eval fake --suite spec_qa --grader fake --out o --questions q.jsonl"
ITEMS_CASES = [
    case("items", "empty", IT, "i.jsonl: no items", {"i.jsonl": ""}),
    case("items", "truncated", IT, "i.jsonl:2: not valid JSON", {"i.jsonl": ITEM + ITEM[:25]}),
    case(
        "items",
        "non-object",
        IT,
        "i.jsonl:1: expected non-empty string fields",
        {"i.jsonl": '["q1", "food"]\n'},
    ),
    case(
        "items",
        "missing-field",
        IT,
        "i.jsonl:1: expected non-empty string fields id, domain, question, aligned, other",
        {"i.jsonl": ITEM.replace(', "other": "edam"', "")},
    ),
    case(
        "items",
        "number-for-string",
        IT,
        "i.jsonl:1: expected non-empty string fields",
        {"i.jsonl": ITEM.replace('"food"', "5")},
    ),
    case("items", "duplicate-id", IT, "i.jsonl:2: duplicate id 'q1'", {"i.jsonl": ITEM + ITEM}),
    case(
        "items",
        "identical-options",
        IT,
        "the two options are identical",
        {"i.jsonl": ITEM.replace('"edam"', '"brie"')},
    ),
    case("items", "utf16", IT, "item file is not valid UTF-8", {"i.jsonl": utf16(ITEM)}),
    case("items", "nul-bytes", IT, "i.jsonl:1: not valid JSON", {"i.jsonl": b"\x00" * 8}),
    case(
        "items", "directory", EV + " --items d", "item file path is a directory", {"d": directory}
    ),
    case("items", "unknown-set", EV + " --items nope", "unknown value item set 'nope'"),
    case(
        "items",
        "5mb-truncated-line",
        IT,
        "i.jsonl:1: not valid JSON",
        {"i.jsonl": huge('{"id": "', 5 * MB)},
    ),
    case(
        "items",
        "questions-latin1",
        QA,
        "question file is not valid UTF-8",
        {"q.jsonl": latin1(QUESTION.replace("Why?", "Pourquoi, café?"))},
    ),
    case(
        "items",
        "questions-missing-rubric",
        QA,
        "q.jsonl:1: expected non-empty string fields id, principle, question, rubric",
        {"q.jsonl": QUESTION.replace(', "rubric": "Says why."', "")},
    ),
    case(
        "items",
        "questions-directory",
        QA.replace("q.jsonl", "d"),
        "question file path is a directory",
        {"d": directory},
    ),
    case(
        "items",
        "unreadable",
        IT,
        "Permission denied",
        {"i.jsonl": unreadable(ITEM)},
        non_root=True,
    ),
]

GEN = "generate hi --model fake/f.yaml"
FAKE_CASES = [
    case("fake", "empty", GEN, "f.yaml: : Input should be a valid dictionary", {"f.yaml": ""}),
    case("fake", "binary", GEN, "not valid YAML/JSON", {"f.yaml": b"\x00\x01\x02\x03"}),
    case("fake", "latin1", GEN, "not valid YAML/JSON", {"f.yaml": latin1("- match: café\n")}),
    case("fake", "utf16", GEN, "not valid YAML/JSON", {"f.yaml": utf16("- match: x\n")}),
    case("fake", "scalar", GEN, "Input should be a valid dictionary", {"f.yaml": "just text\n"}),
    case("fake", "not-yaml", GEN, "not valid YAML/JSON", {"f.yaml": "- match: [unclosed\n"}),
    case(
        "fake",
        "unknown-key",
        GEN,
        "f.yaml: rules.0.reply: Extra inputs are not permitted",
        {"f.yaml": "- {match: x, reply: hi}\n"},
    ),
    case(
        "fake",
        "unknown-error-kind",
        GEN,
        "rules.0.error: Input should be",
        {"f.yaml": "- {error: explode}\n"},
    ),
    case(
        "fake",
        "rules-not-a-list",
        GEN,
        "rules: Input should be a valid list",
        {"f.yaml": "rules: 5\n"},
    ),
    case(
        "fake",
        "negative-times",
        GEN,
        "rules.0.times: Input should be greater than or equal to 0",
        {"f.yaml": "- {error: timeout, times: -1}\n"},
    ),
    case(
        "fake", "bad-regex-generate", GEN, "missing )", {"f.yaml": "- {match: '(', response: x}\n"}
    ),
    case(
        "fake",
        "directory",
        "generate hi --model fake/d",
        "fake script not found: d",
        {"d": directory},
    ),
    case("fake", "missing", GEN, "fake script not found: f.yaml"),
    case("fake", "fault-rate-above-1", "generate hi --model fake:faults=2", "rate"),
    case("fake", "unknown-option", "generate hi --model fake:bogus=1", "unknown option 'bogus'"),
    case(
        "fake",
        "docgen-judge-utf16",
        DG + " --judge fake/f.yaml",
        "not valid YAML/JSON",
        {**S, "f.yaml": utf16("- match: x\n")},
    ),
    case(
        "fake",
        "aftgen-unknown-key",
        AG.replace("--model fake", "--model fake/f.yaml"),
        "rules.0.bogus: Extra inputs are not permitted",
        {**S, "f.yaml": "- {match: x, bogus: 1}\n"},
    ),
    case(
        "fake",
        "eval-rules-not-a-list",
        "eval fake/f.yaml --out o",
        "rules: Input should be a valid list",
        {"f.yaml": "rules: {match: x}\n"},
    ),
    case(
        "fake",
        "unreadable",
        GEN,
        "Permission denied",
        {"f.yaml": unreadable("- {match: x, response: hi}\n")},
        non_root=True,
    ),
    case(
        "fake",
        "bad-date",
        GEN,
        "not valid YAML/JSON",
        {"f.yaml": "- {match: x, response: hi}\n- {match: 2001-13-01}\n"},
    ),
    case(
        "fake",
        "bad-regex-docgen-preview",
        DG.replace("--model fake", "--model fake/f.yaml") + " --preview",
        "match",
        {**S, "f.yaml": "- {match: '(', response: x}\n"},
    ),
]

CLI_CASES = [
    case("cli", "unknown-command", "nosuchcommand", "nosuchcommand"),
    case("cli", "unknown-flag", "spec lint builtin:rules --bogus-flag x", "--bogus-flag"),
    case("cli", "min-score-not-a-number", "spec lint builtin:rules --min-score abc", "--min-score"),
    case("cli", "generate-zero-samples", "generate hi --model fake --n 0", "'--n'"),
    case("cli", "generate-empty-prompt", ["generate", "  ", "--model", "fake"], "empty prompt"),
    case(
        "cli",
        "generate-store-directory",
        "generate hi --model fake --store d",
        "directory",
        {"d": directory},
    ),
    case(
        "cli",
        "docgen-negative-count",
        DG + " --n-assertions -1",
        "n_assertions: Input should be greater than or equal to 1",
        S,
    ),
    case("cli", "docgen-unknown-mode", DG + " --mode weird", "mode: Input should be", S),
    case("cli", "docgen-zero-concurrency", DG + " --concurrency 0", "concurrency", S),
    case("cli", "docgen-words-not-a-number", DG + " --doc-words lots", "--doc-words", S),
    case("cli", "docgen-unknown-judge", DG + " --judge bogus-judge", "unknown model name", S),
    case(
        "cli",
        "docgen-out-is-a-file",
        DG,
        "--out must be a directory, but o is a file",
        {**S, "o": "a file\n"},
    ),
    case(
        "cli",
        "docgen-out-under-a-file",
        DG.replace("--out o", "--out f/sub"),
        "Not a directory",
        {**S, "f": "a file\n"},
    ),
    case(
        "cli",
        "docgen-out-in-read-only-folder",
        DG.replace("--out o", "--out locked/o"),
        "Permission denied",
        {**S, "locked": locked_dir},
        non_root=True,
    ),
    case("cli", "aftgen-n-not-a-number", "aftgen s.md --out o --n abc", "'--n'", S),
    case("cli", "aftgen-zero-n", AG.replace("--n 4", "--n 0"), "n: Input should be greater", S),
    case("cli", "aftgen-unknown-kind", AG + " --kind bogus", "kind: Input should be", S),
    case("cli", "aftgen-mix-ratio-without-mix", AG + " --mix-ratio 0.5", "needs --mix FILE", S),
    case(
        "cli",
        "aftgen-out-is-a-file",
        AG + " --kind preference",
        "--out must be a directory",
        {"s.md": PREF_SPEC, "o": "a file\n"},
    ),
    case(
        "cli",
        "aftgen-out-in-read-only-folder",
        AG.replace("--out o", "--out locked/o") + " --kind preference",
        "Permission denied",
        {"s.md": PREF_SPEC, "locked": locked_dir},
        non_root=True,
    ),
    case(
        "cli",
        "subset-sizes-not-numbers",
        "aftgen subset a --sizes 1,x",
        "--sizes must be",
        {"a/stripped.jsonl": CHAT},
    ),
    case(
        "cli",
        "subset-zero-size",
        "aftgen subset a --sizes 0",
        "positive integers",
        {"a/stripped.jsonl": CHAT},
    ),
    case("cli", "subset-folder-is-a-file", SUB, "AFT data folder not found", {"a": CHAT}),
    case(
        "cli",
        "train-zero-lr",
        MT + " --lr 0",
        "learning_rate: Input should be greater than 0",
        {"docs.jsonl": DOC},
    ),
    case(
        "cli",
        "train-negative-batch",
        MT + " --micro-batch-size -2",
        "micro_batch_size",
        {"docs.jsonl": DOC},
    ),
    case("cli", "train-tiny-max-length", MT + " --max-length 4", "max_length", {"docs.jsonl": DOC}),
    case("cli", "train-lr-not-a-number", MT + " --lr fast", "--lr", {"docs.jsonl": DOC}),
    case(
        "cli",
        "train-unknown-method",
        MT + " --method qlora",
        "method: Input should be",
        {"docs.jsonl": DOC},
    ),
    case(
        "cli",
        "train-unknown-reporter",
        MT + " --report-to slack",
        "report_to.0",
        {"docs.jsonl": DOC},
    ),
    case(
        "cli",
        "train-accelerate-without-config",
        MT + " --launcher accelerate",
        "needs --accelerate-config FILE",
        {"docs.jsonl": DOC},
    ),
    case("cli", "train-out-exists", MT, "output exists: o", {"docs.jsonl": DOC, "o": "a file\n"}),
    case(
        "cli",
        "train-out-parent-missing",
        MT.replace("--out o", "--out no/o"),
        "output parent folder does not exist",
        {"docs.jsonl": DOC},
    ),
    case(
        "cli",
        "train-base-missing",
        MT.replace("embedded", "no-such-model"),
        "base model not found",
        {"docs.jsonl": DOC},
    ),
    case(
        "cli",
        "train-base-folder-without-config",
        MT.replace("embedded", "m"),
        "has no config.json",
        {"docs.jsonl": DOC, "m": directory},
    ),
    case(
        "cli",
        "train-adapter-missing",
        AT + " --adapter nope",
        "has no adapter_config.json",
        {"a.jsonl": CHAT},
    ),
    case(
        "cli",
        "train-full-with-adapter-option",
        AT + " --method full --fresh-adapter",
        "adapter options don't apply",
        {"a.jsonl": CHAT},
    ),
    case("cli", "eval-unknown-suite", EV + " --suite vibes", "unknown suite 'vibes'"),
    case("cli", "eval-zero-epochs", EV + " --epochs 0", "--epochs must be at least 1"),
    case("cli", "eval-zero-limit", EV + " --limit 0", "--limit must be at least 1"),
    case("cli", "eval-negative-limit", EV + " --limit -1", "--limit must be at least 1"),
    case(
        "cli",
        "eval-zero-max-tokens",
        EV + " --suite agentic --grader fake --max-tokens 0",
        "--max-tokens must be at least 1",
    ),
    case(
        "cli",
        "eval-negative-temperature",
        EV + " --suite agentic --grader fake --temperature -3",
        "--temperature must be 0 or more",
    ),
    case(
        "cli",
        "eval-out-is-a-file",
        EV,
        "--out must be a directory, but o is a file",
        {"o": "a file\n"},
    ),
    case(
        "cli",
        "eval-out-parent-missing",
        "eval fake --out no/o",
        "output parent folder does not exist",
    ),
    case("cli", "eval-grader-missing", EV + " --suite spec_qa", "needs --grader MODEL"),
    case(
        "cli",
        "eval-unknown-scenario",
        EV + " --suite agentic --grader fake --scenario heist",
        "unknown scenario 'heist'",
    ),
    case(
        "cli",
        "eval-bad-goal",
        EV + " --suite agentic --grader fake --goal bogus",
        "bad goal condition 'bogus'",
    ),
    case(
        "cli",
        "eval-unknown-urgency",
        EV + " --suite agentic --grader fake --urgency panic",
        "unknown urgency 'panic'",
    ),
    case(
        "cli",
        "eval-perplexity-of-an-api-model",  # (the fake gives a pseudo one: test_eval_fake.py)
        "eval mockllm/model --out o --suite capability",
        "needs a local model",
    ),
    case("cli", "eval-unknown-model", "eval llama --out o", "unknown model name 'llama'"),
]

ALL_CASES = [
    *SPEC_CASES,
    *EXPERIMENT_CASES,
    *CONFIG_CASES,
    *JSONL_CASES,
    *ITEMS_CASES,
    *FAKE_CASES,
    *CLI_CASES,
]


# -- checks -----------------------------------------------------------------


def tree(root: Path) -> set[str]:
    """Every file and folder under ``root``, hidden ones included."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def make_inputs(root: Path, files: tuple[tuple[str, Content], ...]) -> None:
    for rel, content in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")


def restore_permissions(root: Path) -> None:
    """So pytest can clean up after the unreadable and read-only inputs."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath, name)
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)


def closed_paths(root: Path) -> list[str]:
    """(kind, path) pairs for the inputs modes close: mode-0 files, folders without write."""
    out = []
    for rel in sorted(tree(root)):
        p = root / rel
        mode = p.lstat().st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IWUSR:
            out += ["dir", str(p)]
        elif stat.S_ISREG(mode) and not stat.S_IMODE(mode):
            out += ["file", str(p)]
    return out


def assert_one_line_error(code: object, err: str, needle: str) -> None:
    assert code not in (0, None), f"exit {code!r}, stderr: {err!r}"
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("msm: error:"), lines[0]
    assert needle in lines[0], lines[0]


@pytest.fixture(scope="module", autouse=True)
def cli_built_once():
    """main() has typer rebuild the same click command tree on every call (~40 ms); build it
    once for this module. The subprocess rows run the unpatched entry point."""
    import typer.main

    from msm.cli import app

    build = typer.main.get_command
    command = build(app)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.main, "get_command", lambda a: command if a is app else build(a))
        yield


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv("MSM_DEBUG", raising=False)
    yield work
    restore_permissions(work)


class CaplessWorker:
    """bad_input_worker.py started through capless.py: msm's CLI in-process, modes binding."""

    def __init__(self, log: Path) -> None:
        self.log = log
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("MSM_DEBUG", None)
        with log.open("w") as fh:
            self.proc = subprocess.Popen(
                capless(sys.executable, str(WORKER)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=fh,
                text=True,
                env=env,
            )

    def run(self, cwd: Path, args: tuple[str, ...], closed: list[str]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        req = {"cwd": str(cwd), "args": list(args), "closed": closed}
        line = ""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps(req) + "\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            else:
                ready, _, _ = select.select([self.proc.stdout], [], [], 300)
                line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            pytest.fail(f"capless worker gave no answer; its stderr:\n{self.log.read_text()}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def capless_worker(tmp_path_factory: pytest.TempPathFactory):
    worker = CaplessWorker(tmp_path_factory.mktemp("capless") / "worker-stderr.txt")
    yield worker
    worker.close()


def run_capless(c: Case, workdir: Path, worker: CaplessWorker) -> None:
    """A permission row as root, in the capless worker: the same checks, modes binding."""
    closed = closed_paths(workdir)
    assert closed, f"{c.args}: a permission row with nothing closed"
    before = tree(workdir.parent)
    r = worker.run(workdir, c.args, closed)
    # so the row can't pass without the denial it is about
    assert not r["not_denied"], f"still open without DAC capabilities: {r['not_denied']}"
    assert_one_line_error(r["code"], r["err"], c.needle)
    after = tree(workdir.parent)
    assert after == before, f"left behind or removed: {sorted(after ^ before)}"


@pytest.mark.parametrize("c", ALL_CASES)
def test_bad_input(
    c: Case, workdir: Path, capfd: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    make_inputs(workdir, c.files)
    if c.non_root and not MODES_BIND:
        run_capless(c, workdir, request.getfixturevalue("capless_worker"))
        return
    before = tree(workdir.parent)
    capfd.readouterr()
    with pytest.raises(SystemExit) as e:
        main(list(c.args))
    err = capfd.readouterr().err  # file-descriptor level: library log lines count too
    assert_one_line_error(e.value.code, err, c.needle)
    after = tree(workdir.parent)
    assert after == before, f"left behind or removed: {sorted(after ^ before)}"


SUBPROCESS_CASES = [
    case("spec", "utf16-subprocess", "spec show s.md", "UTF-16", {"s.md": utf16(SPEC)}),
    case(
        "cli",
        "train-zero-lr-subprocess",
        MT + " --lr 0",
        "learning_rate: Input should be greater than 0",
        {"docs.jsonl": DOC},
    ),
    case(
        "jsonl",
        "subset-subprocess",
        SUB,
        "a/stripped.jsonl:1: not valid JSON",
        {"a/stripped.jsonl": CHAT[:30]},
    ),
]


@pytest.mark.parametrize("c", SUBPROCESS_CASES)
def test_bad_input_through_the_real_entry_point(c: Case, workdir: Path) -> None:
    make_inputs(workdir, c.files)
    before = tree(workdir.parent)
    r = run_msm(*c.args, timeout=120)
    assert_one_line_error(r.returncode, r.stderr, c.needle)
    after = tree(workdir.parent)
    assert after == before, f"left behind or removed: {sorted(after ^ before)}"


def test_the_table_is_broad() -> None:
    """At least 60 rows, spread over every kind of input."""
    kinds = Counter(p.values[0].kind for p in ALL_CASES)
    assert sum(kinds.values()) >= 60
    assert set(kinds) == {"spec", "experiment", "config", "jsonl", "items", "fake", "cli"}
    assert min(kinds.values()) >= 5, kinds
    ids = [p.id for p in ALL_CASES]
    assert len(ids) == len(set(ids))
