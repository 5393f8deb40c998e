"""Every use msm makes of Inspect AI's private modules (``inspect_ai._*``,
``inspect_ai.model._*``), one function each.

Inspect may change these between releases without notice; keeping them here means an
upgrade has one file to re-check. ``tests/unit/test_inspect_private.py`` pins the Inspect
version they were checked on (``constraints.txt``), so an upgrade fails there first.
Each function imports lazily: Inspect's batch and provider modules are heavy.
"""

from __future__ import annotations

from typing import Any


def provider_registered(prefix: str) -> bool:
    """Whether Inspect knows a model provider named ``prefix`` (its registry of model APIs)."""
    from inspect_ai._util.registry import registry_find

    return bool(
        registry_find(lambda info: info.type == "modelapi" and info.name.split("/")[-1] == prefix)
    )


def http_logger_name() -> str:
    """The logger Inspect writes its provider HTTP lines to (``POST <full URL> ...``)."""
    from inspect_ai.model._providers.util.hooks import HttpxHooks

    return HttpxHooks.__module__


def batch_admin_retry_config(api: Any, config: Any) -> Any:
    """The retry settings Inspect's batchers use for batch administration calls."""
    from inspect_ai.model._retry import batch_admin_retry_config as retry_config

    return retry_config(
        api.model_name,
        config,
        api.should_retry,
        qualified_model_name=api.qualified_model_name,
    )


def openai_batcher() -> type:
    """Inspect's OpenAI Files + Batches batcher class."""
    from inspect_ai.model._providers._openai_batch import OpenAIBatcher

    return OpenAIBatcher


def anthropic_batcher() -> type:
    """Inspect's Anthropic Message Batches batcher class."""
    from inspect_ai.model._providers._anthropic_batch import AnthropicBatcher

    return AnthropicBatcher


def batch_check_result(
    completed_count: int, failed_count: int, created_at: int, completion_info: Any
) -> Any:
    """Inspect's record of one batch status check."""
    from inspect_ai.model._providers.util.batch import BatchCheckResult

    return BatchCheckResult(
        completed_count=completed_count,
        failed_count=failed_count,
        created_at=created_at,
        completion_info=completion_info,
    )


def anthropic_result(line: Any) -> Any:
    """One Anthropic batch result line as Inspect reads it (an answer or an error)."""
    from inspect_ai.model._providers._anthropic_batch import _get_individual_result

    return _get_individual_result(line)


# installed Inspect extensions whose entry point only registers tasks msm never looks up by
# name: inspect_evals' imports every one of its ~200 benchmarks (2.8 s a process on 2
# cores); msm imports the one it runs (agentic_misalignment) directly
UNUSED_EXTENSIONS = frozenset({"inspect_evals"})


def load_extensions_but_unused() -> list[str]:
    """Load every installed Inspect extension's entry point except ``UNUSED_EXTENSIONS``,
    and mark them all loaded, before Inspect loads them all itself (the first time it
    looks for hooks or a provider). Hooks and providers of every other extension (msm's
    own, a user's telemetry) load as before. Returns the names loaded; nothing (and no
    harm) when Inspect has already loaded them or its internals have moved."""
    from importlib.metadata import entry_points

    try:
        from inspect_ai._util import entrypoints as eps
    except ImportError:
        return []
    if getattr(eps, "_inspect_ai_eps_loaded_all", True):
        return []
    loaded = []
    for ep in entry_points(group="inspect_ai"):
        if ep.name in UNUSED_EXTENSIONS:
            continue
        ep.load()
        loaded.append(ep.name)
    eps._inspect_ai_eps_loaded_all = True
    return loaded
