"""The one resolver of model names (``msm.llm.names``): each prefix goes to its resolver by
the table, with the messages users have always seen; tokenizer names and ``vllm/`` names
are parsed there too."""

from __future__ import annotations

from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.llm.bundled import tokenizer_file
from msm.llm.names import resolve_model
from msm.llm.refs import served_by_vllm, vllm_served_name


@pytest.mark.parametrize(
    ("name", "provider", "inspect_name"),
    [
        ("fake", "fake", "msm-fake/default"),
        ("hf/some/model", "hf", "msm-local/some/model"),
        ("anthropic/claude-x", "anthropic", "anthropic/claude-x"),
        ("openai-api/svc/m", "openai-api", "openai-api/svc/m"),
        ("vllm/org/m", "vllm", "vllm/org/m"),
    ],
)
def test_each_prefix_reaches_its_resolver(name: str, provider: str, inspect_name: str) -> None:
    r = resolve_model(name, check=False)
    assert (r.provider, r.inspect_name) == (provider, inspect_name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty model name"),
        ("gpt4", "unknown model name 'gpt4': use embedded, fake, hf/<path>"),
        ("nosuch/m", "unknown model provider 'nosuch' in 'nosuch/m'"),
        ("openai-api/svc", "openai-api names are openai-api/<service>/<model>"),
        ("fakeish", "unknown model name 'fakeish'"),
    ],
)
def test_bad_names_keep_their_messages(name: str, message: str) -> None:
    with pytest.raises(MsmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_model(name, check=False)


def test_a_missing_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MsmError, match="needs the environment variable OPENAI_API_KEY|pip install"):
        resolve_model("openai/gpt-4o-mini")


def test_tokenizer_names(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    assert tokenizer_file(str(tmp_path)) == tmp_path / "tokenizer.json"
    assert tokenizer_file(str(tmp_path / "tokenizer.json")) == tmp_path / "tokenizer.json"
    with pytest.raises(MsmError, match=r"tokenizer not found: .*nope \(need a tokenizer.json\)"):
        tokenizer_file(str(tmp_path / "nope"))


def test_vllm_names() -> None:
    assert served_by_vllm("vllm/org/m") and not served_by_vllm("hf/vllm/x")
    assert vllm_served_name("vllm/org/m:/ad") == "org/m:/ad"
