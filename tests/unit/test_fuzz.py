"""Property-based tests of the parsers that meet untrusted input.

Spec files, YAML configs and model output are written by people and models we
don't control. Each loader or parser here either returns a value that keeps its
documented promises or raises its documented failure type (``MsmError``, or
``ParseError`` for model output), never a traceback-type exception.

Explicit ``@example`` inputs pin the edge cases that once escaped (bad YAML dates,
overlong integers, deep nesting, overlong file names, ``<think>`` tags rebuilt from
fragments), so those run on every invocation whatever hypothesis draws.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from msm._util.config_io import build_config
from msm.aftgen.config import AftgenConfig
from msm.aftgen.think import has_think, strip_think
from msm.docgen.config import DocgenConfig
from msm.errors import MsmError
from msm.experiment.load import load_experiment
from msm.llm import JsonParser, LineListParser, ParseError
from msm.spec.core import load_spec

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODEL = "M0DEL\u2603NAME"
PROVIDER = "PR0V\u2603NAME"

# ---------------------------------------------------------------- strategies

_SPEC_PIECES = [
    "{model_name}",
    "{provider_name}",
    "{{model_name}}",
    "{{provider_name}}",
    "{{{model_name}}}",
    "{user_name}",
    "{{x}}",
    "{",
    "}",
    "{}",
    "{#anchor}",
    '{"a": {"b": 1}}',
    "# Heading",
    "## Sub {#sub-id}",
    "###### Deep ###",
    "#NoSpace",
    "```",
    "~~~",
    "---",
    "...",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "\x00",
    "\ufeff",
    "\u2028",
    "\x0c",
    "caf\u00e9",
    "\U0001f9c0",
    "text",
]
_TRICKY_YAML = [
    "a: 2001-13-01",  # a timestamp PyYAML can't build (ValueError)
    "a: 2001-02-30",
    "a: 1" + "0" * 5000,  # over Python's int-string limit (ValueError)
    "a: " + "[" * 50 + "]" * 50,
    "&a [*a]",
    "a: &x {b: *x}",
    "? [a, b]\n: c",
    "!!python/object/apply:os.system ['true']",
    "a: !!binary 'abc'",
    "a: !!float nope",
    "{",
    "- a\nb: c",
    "a: b: c",
    "\t- x",
    "a: |\n  text\n b",
    "%YAML 9.9\n---\na: 1",
    "1: 2",
    "null: x",
    "~",
    "[]",
    "'a'",
]
# nesting past the recursion limit (RecursionError); slow to scan, so drawn alone
_DEEP_YAML = "a: " + "[" * 600


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids),
        max_leaves=15,
    )


def _yaml_texts(keys: list[str]) -> st.SearchStrategy[str]:
    """Arbitrary text, tricky scalars, and mappings of plausible keys to odd values."""
    values = _json_values() | st.dates() | st.floats(allow_nan=True)
    mappings = st.dictionaries(
        st.sampled_from(keys) | st.text(max_size=10), values, max_size=8
    ).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    tricky = st.sampled_from([*_TRICKY_YAML, _DEEP_YAML])
    return st.one_of(
        st.text(),
        tricky,
        mappings,
        st.tuples(mappings, tricky).map("\n".join),
        st.lists(st.sampled_from(_TRICKY_YAML + ["\n", ": ", "- ", "  "]), max_size=8).map("".join),
    )


def _spec_texts() -> st.SearchStrategy[str]:
    pieces = st.lists(st.sampled_from(_SPEC_PIECES) | st.text(max_size=12), max_size=40).map(
        "".join
    )
    front = st.tuples(
        _yaml_texts(["preferences", "title", "version"]), st.sampled_from(["---", "..."]), pieces
    ).map(lambda t: f"---\n{t[0]}\n{t[1]}\n{t[2]}")
    return st.one_of(st.text(), pieces, front)


def _file_payloads(texts: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Text as UTF-8 (with or without a BOM), or arbitrary bytes."""
    return st.one_of(
        texts.map(lambda t: t.encode("utf-8")),
        texts.map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")),
        st.binary(max_size=300),
        st.tuples(texts, st.binary(max_size=8)).map(lambda t: t[0].encode("utf-8") + t[1]),
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # module-scoped: hypothesis reruns the test body many times per function-scoped fixture
    return tmp_path_factory.mktemp("fuzz")


def _one_line(e: BaseException) -> None:
    assert "\n" not in str(e) and "\r" not in str(e), repr(str(e))
    assert str(e).strip(), "empty error message"


# ------------------------------------------------------------------ the spec


def _front_matter_lines(source: str) -> int:
    lines = source.split("\n")
    if lines[0].strip() != "---":
        return 0
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return i + 1
    raise AssertionError("front matter without an end was accepted")


def _substituted_count(source: str) -> int:
    """``{model_name}`` occurrences that are not the ``{{model_name}}`` escape."""
    n = 0
    for m in re.finditer(r"\{model_name\}", source):
        escaped = source[m.start() - 1 : m.start()] == "{" and source[m.end() : m.end() + 1] == "}"
        n += not escaped
    return n


def _check_spec(spec: Any) -> None:
    assert MODEL not in spec.source and PROVIDER not in spec.source  # (assumed by the caller)
    # every unescaped {model_name} became the model name, and nothing else did
    assert spec.text.count(MODEL) == _substituted_count(spec.source)
    assert spec.model_name == MODEL and spec.provider_name == PROVIDER
    # unknown placeholders are reported where they are, never substituted
    src_lines = spec.source.split("\n")
    for p in spec.unknown_placeholders:
        assert p.name not in ("model_name", "provider_name")
        assert 1 <= p.line <= len(src_lines)
        assert "{" + p.name + "}" in src_lines[p.line - 1]
    # sections: in order, contiguous, each exactly its lines, covering every
    # non-blank line after the front matter
    lines = spec.text.split("\n")
    assert len(lines) == len(src_lines)
    skip = _front_matter_lines(spec.source)
    covered: set[int] = set()
    prev_end = None
    for s in spec.sections:
        assert skip < s.start_line <= s.end_line <= len(lines), (s.start_line, s.end_line)
        if prev_end is not None:
            assert s.start_line == prev_end + 1
        prev_end = s.end_line
        assert s.text == "\n".join(lines[s.start_line - 1 : s.end_line]).rstrip("\n")
        assert s.tokens >= 0
        covered.update(range(s.start_line, s.end_line + 1))
    for i, line in enumerate(lines[skip:], start=skip + 1):
        if line.strip():
            assert i in covered, (i, line)
    ids = [s.id for s in spec.sections]
    assert len(ids) == len(set(ids)) and all(ids)


@FAST
@given(payload=_file_payloads(_spec_texts()))
@example(payload=b"---\nd: 2001-13-01\n---\n# A\nx")
@example(payload=b"---\nn: 1" + b"0" * 5000 + b"\n---\n# A\nx")
@example(payload=b"---\n" + b"[" * 1000 + b"\n---\n# A\nx")
@example(payload=b"---\n!!python/name:os.system\n---\nx")
@example(payload=b"---\n- a\n---\nx")
@example(payload=b"---\nno end")
@example(payload=b"\x00")
@example(payload=b"\xff\xfe")
@example(payload=b"\xef\xbb\xbf")
@example(payload=b"{model_name} {{model_name}} {{{model_name}}} {x} { } {{y}}")
def test_load_spec_returns_a_spec_or_raises_msm_error(scratch: Path, payload: bytes) -> None:
    p = scratch / "spec.md"
    p.write_bytes(payload)
    try:
        spec = load_spec(p, model_name=MODEL, provider_name=PROVIDER)
    except MsmError as e:
        _one_line(e)
        return
    if MODEL.encode() in payload or PROVIDER.encode() in payload:
        return
    _check_spec(spec)


_PLAIN = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="{}\r\x00\ufeff"),
    max_size=10,
).filter(lambda t: not re.search(r"\s", t))
_TOKENS = {
    "{model_name}": MODEL,
    "{provider_name}": PROVIDER,
    "{{model_name}}": "{model_name}",
    "{{provider_name}}": "{provider_name}",
    "{{other}}": "{{other}}",
    "{other}": "{other}",
    "{": "{",
    "}": "}",
    "{}": "{}",
}


@FAST
@given(
    words=st.lists(st.sampled_from(sorted(_TOKENS)) | _PLAIN, min_size=1, max_size=30),
    seps=st.lists(st.sampled_from([" ", "\n", "\t"]), min_size=30, max_size=30),
)
def test_placeholders_are_filled_exactly(scratch: Path, words: list[str], seps: list[str]) -> None:
    """Whitespace-separated tokens render independently: the output is predictable."""
    source = "".join(w + s for w, s in zip(words, seps, strict=False))
    if not source.strip() or source.split("\n")[0].strip() == "---":
        return
    p = scratch / "tokens.md"
    p.write_text(source, encoding="utf-8")
    spec = load_spec(p, model_name=MODEL, provider_name=PROVIDER)
    expected = "".join(_TOKENS.get(w, w) + s for w, s in zip(words, seps, strict=False))
    assert spec.text == expected
    assert [u.name for u in spec.unknown_placeholders] == ["other"] * words.count("{other}")
    _check_spec(spec)


@SLOW
@given(name=st.text(min_size=1, max_size=300))
@example(name="a" * 300)
@example(name="a\x00b")
@example(name="a/" * 200)
def test_odd_spec_and_config_paths_are_msm_errors(scratch: Path, name: str) -> None:
    for load in (
        lambda q: load_spec(q),
        lambda q: build_config(DocgenConfig, q, {"spec": "s"}, set()),
    ):
        with pytest.raises(MsmError) as info:
            load(scratch / f"missing-{name}")
        _one_line(info.value)


# ---------------------------------------------------------- model output


class _Item(BaseModel):
    title: str
    score: int
    tags: list[str]


_NO_JSON = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="[]{}`"),
    max_size=40,
)
_JSONISH = st.lists(
    st.sampled_from(
        ["{", "}", "[", "]", '"', ":", ",", "```json\n", "```\n", "1", "-", "e9", "null"]
        + ['"title"', '"score"', '"tags"', "\\", "\\u00", "NaN", "Infinity", " ", "\n"]
    )
    | st.text(max_size=5),
    max_size=60,
).map("".join)


@FAST
@given(text=st.one_of(st.text(), _JSONISH))
@example(text="[" * 1200)
@example(text="```json\n" + "[" * 1200 + "\n```")
@example(text='{"title": "t", "score": 1' + "0" * 5000 + ', "tags": []}')
@example(text="```json\n[" + "9" * 5000 + "]\n```")
def test_json_parser_raises_only_parse_error(text: str) -> None:
    parser = JsonParser(_Item)
    try:
        value = parser.parse(text)
    except ParseError as e:
        assert str(e)
        return
    assert isinstance(value, _Item)


@FAST
@given(
    item=st.builds(
        _Item, title=st.text(), score=st.integers(), tags=st.lists(st.text(), max_size=4)
    ),
    before=_NO_JSON,
    after=_NO_JSON,
    fenced=st.booleans(),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
)
def test_json_parser_round_trips_a_valid_object(
    item: _Item, before: str, after: str, fenced: bool, ascii_only: bool, indent: int | None
) -> None:
    body = json.dumps(item.model_dump(), ensure_ascii=ascii_only, indent=indent)
    if fenced:
        body = f"```json\n{body}\n```"
    assert JsonParser(_Item).parse(f"{before}\n{body}\n{after}") == item


@FAST
@given(
    text=st.one_of(
        st.text(),
        st.lists(
            st.sampled_from(["- ", "* ", "1. ", "(a) ", '"', "Here:", "\n", "\r\n", "\u2028"])
            | st.text(max_size=8),
            max_size=40,
        ).map("".join),
    ),
    min_items=st.integers(0, 5),
    max_items=st.integers(1, 10),
    max_chars=st.integers(1, 50),
)
@example(text="x" * 400, min_items=1, max_items=1, max_chars=300)
def test_line_list_parser_raises_only_parse_error(
    text: str, min_items: int, max_items: int, max_chars: int
) -> None:
    parser = LineListParser(min_items=min_items, max_items=max_items, max_chars=max_chars)
    try:
        items, rejected = parser.parse_counting(text)
    except ParseError as e:
        assert str(e)
        return
    assert rejected >= 0
    assert len(items) <= max_items
    assert len({x.casefold() for x in items}) == len(items)
    for x in items:
        assert x and x == x.strip() and len(x) <= max_chars and "\n" not in x


_WORD = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=12)
_CLEAN_ITEM = st.tuples(
    st.text(alphabet=st.characters(categories=["L"]), min_size=2, max_size=2),
    st.lists(_WORD, max_size=6),
).map(lambda t: " ".join([t[0] + (t[1][0] if t[1] else ""), *t[1][1:]]))


@FAST
@given(
    items=st.lists(_CLEAN_ITEM, min_size=1, max_size=20, unique_by=str.casefold),
    style=st.sampled_from(["plain", "dash", "star", "bullet", "dot", "paren", "bracket"]),
    heading=st.booleans(),
    blank_lines=st.booleans(),
)
def test_line_list_parser_round_trips_a_clean_list(
    items: list[str], style: str, heading: bool, blank_lines: bool
) -> None:
    marks = {
        "plain": "{}",
        "dash": "- {}",
        "star": "* {}",
        "bullet": "\u2022 {}",
        "dot": "{n}. {}",
        "paren": "{n}) {}",
        "bracket": "({n}) {}",
    }
    lines = [marks[style].format(x, n=i) for i, x in enumerate(items, 1)]
    text = ("Here are the items:\n" if heading else "") + ("\n\n" if blank_lines else "\n").join(
        lines
    )
    assert LineListParser(max_items=len(items)).parse(text) == items


# ------------------------------------------------------------------ <think>

_THINKISH = st.lists(
    st.sampled_from(
        ["<think>", "</think>", "<THINK>", "</Think>", "<thi", "nk>", "</", "think>", "<", ">"]
        + ["\n", "\n\n\n", " ", "a", "b"]
    )
    | st.text(max_size=6),
    max_size=30,
).map("".join)
_TAG = re.compile(r"</?think>", re.I)


@FAST
@given(text=st.one_of(st.text(), _THINKISH))
@example(text="<thi<think></think>nk>x</thi<think></think>nk>")
@example(text="<thi<think>a</think>nk>answer")
@example(text="<think><think>a</think>b</think>c")
@example(text="a</think>b<think>c")
def test_strip_think_leaves_no_block_and_is_idempotent(text: str) -> None:
    once = strip_think(text)
    assert not has_think(once), repr(once)
    assert strip_think(once) == once
    if not _TAG.search(text):
        assert once == re.sub(r"\n{3,}", "\n\n", text).strip()
        assert not has_think(text)


@FAST
@given(before=_NO_JSON, inner=_THINKISH, after=_NO_JSON)
def test_a_closed_block_is_removed(before: str, inner: str, after: str) -> None:
    if _TAG.search(before + after) or "<" in before + after:
        return
    text = f"{before}<think>{inner.replace('<', '')}</think>{after}"
    assert has_think(text)
    assert strip_think(text) == re.sub(r"\n{3,}", "\n\n", before + after).strip()


# ------------------------------------------------------------------ configs


@FAST
@given(
    payload=_file_payloads(_yaml_texts(list(DocgenConfig.model_fields))),
    cls=st.sampled_from([DocgenConfig, AftgenConfig]),
    flags=st.sampled_from([{}, {"spec": "s.md", "n": 4}, {"spec": "s.md", "n": 0}]),
)
@example(payload=b"n: 2001-13-01", cls=DocgenConfig, flags={})
@example(payload=b"n: 1" + b"0" * 5000, cls=DocgenConfig, flags={})
@example(payload=b"a: " + b"[" * 1000, cls=DocgenConfig, flags={})
def test_build_config_raises_only_msm_error(
    scratch: Path, payload: bytes, cls: type[BaseModel], flags: dict[str, Any]
) -> None:
    p = scratch / "config.yaml"
    p.write_bytes(payload)
    try:
        cfg = build_config(cls, p, dict(flags), set(flags))
    except MsmError as e:
        _one_line(e)
        return
    assert isinstance(cfg, cls)


_EXPERIMENT_KEYS = [
    "name",
    "base_model",
    "generator",
    "grader",
    "model_name",
    "specs",
    "corpus",
    "aft",
    "conditions",
    "seeds",
    "train",
    "eval",
    "report",
]


@SLOW
@given(payload=_file_payloads(_yaml_texts(_EXPERIMENT_KEYS)))
@example(payload=b"name: x\nwhen: 2001-13-01")
@example(payload=b"seeds: [1" + b"0" * 5000 + b"]")
@example(payload=b"a: " + b"[" * 1000)
@example(
    payload=b"name: x\nbase_model: fake\nconditions: [msm_only]\nspecs: {a: " + b"a" * 300 + b"}"
)
def test_load_experiment_raises_only_msm_error(scratch: Path, payload: bytes) -> None:
    p = scratch / "experiment.yaml"
    p.write_bytes(payload)
    try:
        load_experiment(p)
    except MsmError as e:
        _one_line(e)
