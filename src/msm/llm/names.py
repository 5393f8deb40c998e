"""Model names: ``provider/model`` strings resolved lazily to Inspect models.

==========================  ==============================================
``embedded``                bundled SmolLM2-135M-Instruct, local, batched
``fake`` / ``fake/FILE``    deterministic scripted model (tests, dry runs);
                            ``fake:faults=0.3`` injects faults into 30% of calls
``hf/<id-or-path>``         a local HF folder (or cached hub id), batched
``PATH`` (``/``, ``.``, ``~``)  a local HF folder, or an msm training checkpoint
                            (``msm train`` output: its merged ``model/``)
``anthropic/<model>``       needs ``ANTHROPIC_API_KEY`` and ``pip install anthropic``
``openai/<model>``          needs ``OPENAI_API_KEY`` and ``pip install openai``
``openai-api/<svc>/<model>`` any OpenAI-compatible server (vLLM, SGLang...):
                            ``<SVC>_BASE_URL`` (or ``base_url``) and ``<SVC>_API_KEY``
``vllm/<model>``            Inspect's vLLM provider (``VLLM_BASE_URL`` for a running server)
==========================  ==============================================

Other Inspect providers (``google/...``, ``mistral/...``, ``together/...``) are
passed through unchanged. Keys are read from the environment by the provider at
call time; msm only checks that they are present and never stores them. A base
URL may carry credentials (``http://user:pass@host/v1``, sent as Basic auth in
place of the key): :func:`redact_url_credentials_in_logs` keeps them out of
Inspect's HTTP log lines.

This module is the one resolver of model names: generation and evals call
:func:`resolve_model` (each ``prefix/`` dispatched through one table). Beside it, without
Inspect: training's ``--base`` (:mod:`msm.llm.bases`), ``vllm/`` names read as text
(:mod:`msm.llm.refs`) and tokenizer names (:mod:`msm.llm.bundled`), so no caller spells a
prefix itself.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msm.llm.local  # noqa: F401  (registers msm-local with Inspect)
from msm.artifacts.checkpoint import Checkpoint
from msm.errors import MsmError, warn_once
from msm.llm.bases import hub_config_file, model_folder
from msm.llm.bundled import EMBEDDED_NAME, embedded_model_dir
from msm.llm.fake import load_fake_script, parse_fake_options
from msm.llm.inspect_private import (
    http_logger_name,
    load_extensions_but_unused,
    provider_registered,
)
from msm.llm.prices import priced_lookalike

LOCAL_PROVIDER = "msm-local"
FAKE_PROVIDER = "msm-fake"

_API_PROVIDERS: dict[str, tuple[str, str, str]] = {
    # prefix: (env var, python package, pip extra)
    "anthropic": ("ANTHROPIC_API_KEY", "anthropic", "anthropic"),
    "openai": ("OPENAI_API_KEY", "openai", "openai"),
    "google": ("GOOGLE_API_KEY", "google.genai", "google-genai"),
    "mistral": ("MISTRAL_API_KEY", "mistralai", "mistralai"),
    "together": ("TOGETHER_API_KEY", "openai", "openai"),
    "groq": ("GROQ_API_KEY", "groq", "groq"),
    "openrouter": ("OPENROUTER_API_KEY", "openai", "openai"),
}


@dataclass(frozen=True)
class ResolvedModel:
    """What msm will ask Inspect for. Holds no secrets."""

    name: str  # the user's name, used in store keys and manifests
    inspect_name: str
    provider: str
    model_args: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    local: bool = False


_URL_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")


class _RedactUrlCredentials(logging.Filter):
    """Replaces a URL's ``user:password@`` in a log message with ``***@``."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "@" in msg:
            clean = _URL_USERINFO.sub("***@", msg)
            if clean != msg:
                record.msg, record.args = clean, ()
        return True


def redact_url_credentials_in_logs() -> None:
    """Keep base-URL credentials out of Inspect's HTTP log lines (idempotent).

    Inspect logs every provider response as ``POST <full URL> ...``; its trace
    file (under the user's data folder) and ``--log-level http`` would keep a
    password written into ``<SVC>_BASE_URL`` or ``VLLM_BASE_URL``.
    """
    log = logging.getLogger(http_logger_name())
    if not any(isinstance(f, _RedactUrlCredentials) for f in log.filters):
        log.addFilter(_RedactUrlCredentials())


def _need_package(module: str, pip_name: str, name: str) -> None:
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        raise MsmError(f"model {name!r} needs the {pip_name!r} package: pip install {pip_name}")


def _need_env(var: str, name: str) -> None:
    if not os.environ.get(var):
        raise MsmError(f"model {name!r} needs the environment variable {var} (an API key); set it")


def _resolve_embedded(name: str, check: bool) -> ResolvedModel:
    """``embedded``: the bundled model (converted on first use, so only when ``check``)."""
    return ResolvedModel(
        name,
        f"{LOCAL_PROVIDER}/embedded",
        "embedded",
        {"model_path": str(embedded_model_dir())} if check else {},
        local=True,
    )


def _resolve_fake(name: str) -> ResolvedModel:
    """``fake``, ``fake/SCRIPT`` and either with ``:key=value,...`` options (fault injection)."""
    base, options = name, ""
    head, colon, tail = name.rpartition(":")
    if colon and "=" in tail and (head == "fake" or head.startswith("fake/")):
        base, options = head, tail
    args: dict[str, Any] = {}
    if base != "fake":
        if not base.startswith("fake/"):
            raise MsmError(f"unknown model name {name!r}: use fake, fake/SCRIPT or fake:OPTIONS")
        args["script"] = load_fake_script(base[len("fake/") :])
    if options:
        args["faults"] = parse_fake_options(options, name).model_dump()
    return ResolvedModel(name, f"{FAKE_PROVIDER}/default", "fake", args, local=True)


def _resolve_folder(name: str, path_text: str, check: bool) -> ResolvedModel:
    path = Path(path_text).expanduser()
    folder = model_folder(path)
    if folder is not None:
        return ResolvedModel(
            name, f"{LOCAL_PROVIDER}/{folder.name}", "hf", {"model_path": str(folder)}, local=True
        )
    if check and Checkpoint(path).has_adapter():
        raise MsmError(
            f"{path} saved only its LoRA adapter (save: adapter): merge it first with "
            f"`msm train merge {path}`, or serve it as vllm/BASE:ADAPTER"
        )
    if check and path.is_dir():
        raise MsmError(
            f"{path} is not a Hugging Face model folder (no config.json) "
            "nor an msm training checkpoint with a model/ folder"
        )
    if check and path_text.startswith((".", "/", "~")):
        raise MsmError(f"model folder not found: {path_text}")
    if check and not path.exists() and hub_config_file(path_text) is None:
        raise MsmError(
            f"model {name!r}: {path_text!r} is neither a folder here nor a model in the local "
            f"Hugging Face cache (msm runs offline: download it first, e.g. "
            f"`huggingface-cli download {path_text}`, or give its folder)"
        )
    return ResolvedModel(
        name, f"{LOCAL_PROVIDER}/{path_text}", "hf", {"model_path": path_text}, local=True
    )


# --- one resolver per ``prefix/``: (name, rest after the prefix, base_url, check) ------------


def _resolve_hf(name: str, rest: str, base_url: str | None, check: bool) -> ResolvedModel:
    """``hf/<id-or-path>``: a local Hugging Face folder or a cached hub id."""
    return _resolve_folder(name, rest, check)


def _resolve_api(name: str, rest: str, base_url: str | None, check: bool) -> ResolvedModel:
    """A hosted provider's API: its package installed and its key set (with ``check``)."""
    prefix = name.partition("/")[0]
    var, module, pip_name = _API_PROVIDERS[prefix]
    like = priced_lookalike(name)
    if like:  # a new model may be unpriced: a warning, not an error
        warn_once(
            f"model {name!r} has no price in msm's price list; did you mean {like!r}? "
            "(a newer model: add its price with MSM_PRICES=FILE)"
        )
    if check:
        _need_package(module, pip_name, name)
        _need_env(var, name)
    return ResolvedModel(name, name, prefix)


def _resolve_openai_api(name: str, rest: str, base_url: str | None, check: bool) -> ResolvedModel:
    """``openai-api/<service>/<model>``: an OpenAI-compatible server, found by its URL."""
    service, _, model = rest.partition("/")
    if not model:
        raise MsmError(f"openai-api names are openai-api/<service>/<model>, got {name!r}")
    env = service.upper().replace("-", "_")
    if check:
        _need_package("openai", "openai", name)
        if not (base_url or os.environ.get(f"{env}_BASE_URL")):
            raise MsmError(
                f"model {name!r} needs a server address: set {env}_BASE_URL "
                "(e.g. http://localhost:8000/v1) or pass a base URL"
            )
        _need_env(f"{env}_API_KEY", name)
    return ResolvedModel(name, name, "openai-api")


def _resolve_vllm(name: str, rest: str, base_url: str | None, check: bool) -> ResolvedModel:
    """``vllm/<model>``: a running server (``VLLM_BASE_URL``) or one Inspect starts."""
    if check and not os.environ.get("VLLM_BASE_URL") and importlib.util.find_spec("vllm") is None:
        raise MsmError(
            f"model {name!r} needs a running vLLM server (set VLLM_BASE_URL) or the vllm "
            "package on this machine (pip install vllm, on a GPU machine)"
        )
    return ResolvedModel(name, name, "vllm")


def _resolve_other(name: str, rest: str, base_url: str | None, check: bool) -> ResolvedModel:
    """Any other provider Inspect has registered, passed through unchanged; else a bare hub
    id (``Qwen/Qwen3-32B``) as ``hf/`` would take it, as training's ``--base`` does."""
    prefix = name.partition("/")[0]
    if provider_registered(prefix):
        return ResolvedModel(name, name, prefix)
    if Path(name).expanduser().is_dir() or hub_config_file(name) is not None:
        return _resolve_folder(name, name, check)
    close = difflib.get_close_matches(prefix.lower(), KNOWN_PREFIXES, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]}/? " if close else ""
    raise MsmError(
        f"unknown model provider {prefix!r} in {name!r} ({hint}use embedded, fake, hf/, "
        "anthropic/, openai/, openai-api/, vllm/ or another Inspect provider; a Hugging Face "
        "model must be a folder or in the local cache)"
    )


_Resolver = Callable[[str, str, str | None, bool], ResolvedModel]
_PREFIXES: dict[str, _Resolver] = {
    "hf": _resolve_hf,
    "openai-api": _resolve_openai_api,
    "vllm": _resolve_vllm,
    **dict.fromkeys(_API_PROVIDERS, _resolve_api),
}


# the prefixes a misspelt one is compared with (Inspect registers more, passed through)
KNOWN_PREFIXES = ("embedded", "fake", *_PREFIXES)


def resolve_model(name: str, base_url: str | None = None, check: bool = True) -> ResolvedModel:
    """Map a user-facing model name to an Inspect model name and args.

    With ``check`` (default) missing keys, packages and folders are reported as
    one-line :class:`MsmError` now, before any work starts.
    """
    name = (name or "").strip()
    if not name:
        raise MsmError("empty model name")
    if name == EMBEDDED_NAME:
        return _resolve_embedded(name, check)
    if name == "fake" or name.startswith(("fake/", "fake:")):
        return _resolve_fake(name)
    if name.startswith(("/", "./", "../", "~")):
        return _resolve_folder(name, name, check)
    prefix, _, rest = name.partition("/")
    if not rest:
        raise MsmError(
            f"unknown model name {name!r}: use embedded, fake, hf/<path>, anthropic/<model>, "
            "openai/<model>, openai-api/<service>/<model> or vllm/<model>"
        )
    return _PREFIXES.get(prefix, _resolve_other)(name, rest, base_url, check)


def weights_folder(name: str) -> str | None:
    """The local folder a model name loads its weights from (``embedded``, ``hf/...``, a
    folder or an msm checkpoint), None for an API model or a name that does not resolve."""
    try:
        folder = resolve_model(name, check=False).model_args.get("model_path")
    except MsmError:
        return None
    return folder if isinstance(folder, str) else None


def get_inspect_model(
    name: str,
    config: Any = None,
    base_url: str | None = None,
    model_args: dict[str, Any] | None = None,
    check: bool = True,
) -> Any:
    """The Inspect ``Model`` for an msm model name: the one way the LLM client and the evals
    build one (msm's providers registered, URL credentials kept out of logs, one clear
    error when it cannot load)."""
    from inspect_ai.model import get_model

    r = resolve_model(name, base_url=base_url, check=check)
    redact_url_credentials_in_logs()
    load_extensions_but_unused()  # before Inspect imports every inspect_evals benchmark
    kwargs: dict[str, Any] = {**r.model_args, **(model_args or {})}
    if config is not None:
        kwargs["config"] = config
    try:
        # one Model per caller: Inspect's memo key drops unserialisable args (like a fake
        # script), which would share state between callers
        return get_model(r.inspect_name, base_url=base_url, memoize=False, **kwargs)
    except MsmError:
        raise
    except (OSError, ValueError, ImportError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MsmError(f"cannot load model {name!r}: {first}") from e
