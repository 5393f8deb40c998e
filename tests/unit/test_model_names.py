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


def _hub_cache(root: Path, repo: str) -> None:
    """A local Hugging Face cache holding ``repo``'s config.json (as a download leaves it)."""
    d = root / ("models--" + repo.replace("/", "--"))
    (d / "refs").mkdir(parents=True)
    (d / "refs" / "main").write_text("abc123")
    (d / "snapshots" / "abc123").mkdir(parents=True)
    (d / "snapshots" / "abc123" / "config.json").write_text('{"model_type": "llama"}')


def test_one_resolver_for_hub_ids_cached_or_not(tmp_path: Path, monkeypatch) -> None:
    """``eval`` takes a bare cached hub id as ``train --base`` does; an id not in the cache is
    one line naming what to do (it was an internal connection error); a folder that is no
    model keeps its own message."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    _hub_cache(tmp_path / "hub", "SomeOrg/tiny-model")
    for name in ("SomeOrg/tiny-model", "hf/SomeOrg/tiny-model"):
        r = resolve_model(name)
        assert (r.provider, r.model_args["model_path"]) == ("hf", "SomeOrg/tiny-model"), name
    with pytest.raises(
        MsmError,
        match=r"'Other/absent' is neither a folder here nor a model in "
        r"the local Hugging Face cache .*huggingface-cli download",
    ):
        resolve_model("hf/Other/absent")
    with pytest.raises(MsmError, match="unknown model provider 'Other'.*must be a folder or in"):
        resolve_model("Other/absent")  # fmt: skip
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(MsmError, match="is not a Hugging Face model folder"):
        resolve_model(f"hf/{tmp_path / 'notamodel'}")


@pytest.mark.parametrize(
    ("name", "meant"),
    [("antropic/claude-sonnet-4-5", "anthropic/"), ("opneai/gpt-5", "openai/"),
     ("vlm/org/m", "vllm/"), ("hff/org/m", "hf/")],
)  # fmt: skip
def test_a_misspelt_provider_gets_a_did_you_mean(name: str, meant: str) -> None:
    with pytest.raises(MsmError, match=f"did you mean {meant}\\?"):
        resolve_model(name, check=False)


def test_a_misspelt_priced_model_is_warned_once(capsys) -> None:
    resolve_model("anthropic/claude-sonet-4-5", check=False)
    resolve_model("anthropic/claude-sonet-4-5", check=False)
    resolve_model("anthropic/claude-sonnet-4-5", check=False)  # priced: no warning
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "warning: model 'anthropic/claude-sonet-4-5' has no price in msm's price list; did you "
        "mean 'anthropic/claude-sonnet-4-5'? (a newer model: add its price with MSM_PRICES=FILE)"
    ]


def test_training_takes_the_hf_prefix_eval_takes(tiny_model_dir: Path) -> None:
    from msm.llm.bases import base_config_file, resolve_base

    for name in (str(tiny_model_dir), f"hf/{tiny_model_dir}"):
        spec = resolve_base(name, "lora", False, None, lambda p: p)
        assert Path(spec.model) == tiny_model_dir.resolve(), name
        assert base_config_file(name) == tiny_model_dir / "config.json"
        assert resolve_model(name).model_args["model_path"] == str(tiny_model_dir)
