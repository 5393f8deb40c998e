"""Every default a help text states is the code's default (msm issue 27, item 10).

Typer prints ``[default: X]`` from the option itself, which cannot drift; this test reads the
defaults written *in words* in help texts ("default: X", "(default X)"), usually for an option
whose value is None until the code resolves it, and compares each with the code that
resolves it. A new help text that states a default fails here until a check is added below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer

from msm.cli import app

DEFAULT = re.compile(r"\bdefault\b:?\s*(?P<value>[^,;()]+)", re.IGNORECASE)


def _options() -> Iterator[tuple[str, Any]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            for p in cmd.params:
                yield " ".join([*path, p.opts[0] if p.opts else p.name]), p

    yield from walk(typer.main.get_command(app), [])


def _stated(help_text: str) -> str:
    m = DEFAULT.search(help_text)
    assert m, help_text
    return m.group("value").strip().rstrip(".")


def _number(stated: str) -> float:
    m = re.match(r"~?\s*([0-9.]+)\s*(h\b)?", stated)
    assert m, f"no number in {stated!r}"
    return float(m.group(1)) * (3600 if m.group(2) else 1)


def _none_resolved(opt: Any) -> None:
    """A default in words (resolved at run time): the option itself must be unset."""
    assert opt.default is None, f"{opt.name}: the help states a default in words, got {opt.default}"


def _items(opt: Any, stated: str) -> None:
    from msm.evals.config import DEFAULT_VALUE_SETS

    _none_resolved(opt)
    # what runs without --items (run_eval: cfg.items or DEFAULT_VALUE_SETS)
    named = [s.strip() for s in re.split(r"[,\s]+", opt.help.split("default:")[1]) if s.strip()]
    assert tuple(named[: len(DEFAULT_VALUE_SETS)]) == DEFAULT_VALUE_SETS, (named, stated)


def _beliefs(opt: Any, stated: str) -> None:
    from msm.evals.belief.items import BUNDLED
    from msm.evals.config import DEFAULT_BELIEF_SETS

    _none_resolved(opt)
    # what runs without --beliefs (belief_sets: cfg.beliefs or every bundled set)
    named = [s.strip() for s in re.split(r"[,\s]+", opt.help.split("default:")[1]) if s.strip()]
    n = len(DEFAULT_BELIEF_SETS)  # the help adds "(repeatable)" after them
    assert tuple(named[:n]) == DEFAULT_BELIEF_SETS == tuple(BUNDLED), (named, stated)


def _pressures(opt: Any, stated: str) -> None:
    from msm.evals.agentic.pressure import PRESSURES, check_pressures

    _none_resolved(opt)
    # what runs without --pressures: every variant (standard always runs)
    assert stated == "all" and check_pressures(None) == list(PRESSURES)


def _scenarios(opt: Any, stated: str) -> None:
    from msm.evals.agentic.scenarios import SCENARIOS
    from msm.evals.agentic.task import agentic

    _none_resolved(opt)
    assert stated == "all"
    assert {s.metadata["scenario"] for s in agentic().dataset} == set(SCENARIOS)


def _temperature(opt: Any, stated: str) -> None:
    from msm.evals.agentic.task import DEFAULT_TEMPERATURE, agentic

    _none_resolved(opt)
    assert _number(stated) == DEFAULT_TEMPERATURE
    assert agentic().config.temperature == DEFAULT_TEMPERATURE


def _max_tokens(opt: Any, stated: str) -> None:
    from msm.evals.answer_length import (
        AGENTIC_MAX_TOKENS,
        BUNDLED_MAX_TOKENS,
        agentic_max_tokens,
    )

    _none_resolved(opt)
    assert _number(stated) == AGENTIC_MAX_TOKENS == agentic_max_tokens("openai/x", None)
    assert f"{BUNDLED_MAX_TOKENS} for the bundled" in opt.help
    assert agentic_max_tokens("embedded", None) == BUNDLED_MAX_TOKENS


def _batch_wait(opt: Any, stated: str) -> None:
    assert _number(stated) == opt.default  # "3 h" is 10800 s


def _max_cost(opt: Any, stated: str) -> None:
    from msm.experiment.spend import DEFAULT_MAX_COST_USD

    _none_resolved(opt)
    assert _number(stated) == DEFAULT_MAX_COST_USD


def _provider_name(opt: Any, stated: str) -> None:
    from msm.spec.core import DEFAULT_PROVIDER_NAME

    _none_resolved(opt)
    assert f"else '{DEFAULT_PROVIDER_NAME}'" in opt.help


def _audit_value(opt: Any, stated: str) -> None:
    from msm.evals.values.audit import RULES, rules_for

    _none_resolved(opt)
    assert rules_for("america") is RULES["america"]  # "the bundled set's own"
    assert rules_for("my/items.jsonl") is RULES["generic"]  # "generic for a file"


def _words(opt: Any, stated: str) -> None:
    _none_resolved(opt)


def _third_party(opt: Any, stated: str) -> None:
    """vLLM's own defaults: msm passes nothing, so vLLM's apply (not checkable offline)."""
    _none_resolved(opt)
    assert "vLLM's default" in opt.help


Check = Callable[[Any, str], None]
CHECKS: dict[str, Check] = {
    "eval --items": _items,
    "eval --beliefs": _beliefs,
    "eval --scenarios": _scenarios,
    "eval --pressures": _pressures,
    "eval --temperature": _temperature,
    "eval --max-tokens": _max_tokens,
    "eval --batch-wait-s": _batch_wait,
    "docgen --batch-wait-s": _batch_wait,
    "aftgen --batch-wait-s": _batch_wait,
    "evalgen --batch-wait-s": _batch_wait,
    "run --max-cost": _max_cost,
    "docgen --provider-name": _provider_name,
    "aftgen --provider-name": _provider_name,
    "evalgen --provider-name": _provider_name,
    "items audit --value": _audit_value,
    "eval --tensor-parallel-size": _third_party,
    "eval --gpu-memory-utilization": _third_party,
    # resolved at run time, stated in words: the option must be unset (None)
    "docgen --model-name": _words,  # the spec's model_name front matter
    "aftgen --model-name": _words,
    "evalgen --model-name": _words,
    "eval --spec": _words,  # any principle counts
    "eval --max-model-len": _words,  # the model's own
    "run --gpus-per-node": _words,  # what the node asks for, else 1
    "train midtrain --save-every": _words,  # ~10 per run (train.engine: steps / 10)
    "train aft --save-every": _words,
    "train midtrain --threads": _words,  # all cores
    "train aft --threads": _words,
}


def _stating() -> dict[str, Any]:
    return {k: p for k, p in _options() if DEFAULT.search(getattr(p, "help", None) or "")}


def test_every_stated_default_has_a_check():
    unchecked = sorted(set(_stating()) - set(CHECKS))
    assert not unchecked, f"help texts state a default no test checks: {unchecked}"
    assert not set(CHECKS) - set(_stating()), "a check for a help text that no longer exists"


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_stated_default_matches_the_code(key):
    opt = _stating()[key]
    CHECKS[key](opt, _stated(opt.help))


def test_the_checks_catch_a_wrong_default():
    # negative control: the text the audit found ("every bundled set") fails the check
    opt = _stating()["eval --items"]
    text = "value item sets; default: every bundled set"
    wrong = type("Opt", (), {"default": None, "help": text})
    with pytest.raises(AssertionError):
        _items(wrong, _stated(wrong.help))
    assert opt.help.count("default:") == 1
    with pytest.raises(AssertionError):
        _batch_wait(type("Opt", (), {"default": 3600.0})(), "3 h")
