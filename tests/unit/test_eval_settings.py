"""Eval settings owned once: what ``scoring: auto`` means (``resolve_scoring``)."""

from __future__ import annotations

import pytest

from msm.errors import MsmError
from msm.evals.config import resolve_scoring


def test_auto_scoring_is_loglik_exactly_where_the_model_gives_logliks() -> None:
    assert resolve_scoring("auto", lambda: True) == "loglik"
    assert resolve_scoring("auto", lambda: False) == "letter"

    def unasked() -> bool:
        raise AssertionError("an explicit mode does not ask the model")

    for given in ("loglik", "letter"):  # an explicit mode stands, whatever the model
        assert resolve_scoring(given, unasked) == given
    with pytest.raises(MsmError, match="unknown scoring mode 'logprob'"):
        resolve_scoring("logprob", unasked)


def test_the_shared_eval_settings_are_declared_once_on_the_base() -> None:
    """Every setting ``msm eval`` and an experiment's ``eval:`` section both carry lives on
    EvalSettings; neither subclass declares one again (where types drifted apart before)."""
    from msm.evals.config import EvalConfig, EvalSettings
    from msm.experiment.config import EvalSection

    shared = set(EvalConfig.model_fields) & set(EvalSection.model_fields)
    # batch differs by design: the section's None means the experiment's own ``batch``
    assert shared - {"batch"} == set(EvalSettings.model_fields)
    for cls in (EvalConfig, EvalSection):
        again = set(vars(cls).get("__annotations__", {})) & set(EvalSettings.model_fields)
        assert not again, f"{cls.__name__} declares shared settings again: {sorted(again)}"


def test_an_eval_node_gets_every_shared_setting_of_the_section() -> None:
    from msm.evals.config import EvalSettings
    from msm.experiment.config import Experiment
    from msm.experiment.stages import eval_config

    section = {
        "items": ["america"], "beliefs": ["pro_america"], "questions": "q.jsonl", "epochs": 2,
        "spec_qa_epochs": 3,
        "limit": 4, "split": "dev", "batch_wait_s": 5.0, "grid": "paper",
        "scenarios": ["murder"], "goals": ["none-none"], "urgency": "none", "scratchpad": False,
        "templates": "tpl", "exfil_rule": "msm", "temperature": 0.5, "agent_names": ["Ava"],
        "temperatures": [0.1], "regrade_action_only": True, "spec_reasoning": False,
        "pressures": ["prefill"], "pressure_texts": "texts.yaml",
        "max_tokens": 7, "scoring": "letter", "tensor_parallel_size": 2, "max_model_len": 8,
        "gpu_memory_utilization": 0.5, "engine": "vllm",
    }  # fmt: skip
    assert set(EvalSettings.model_fields) <= set(section), "give every shared setting here"
    exp = Experiment.model_validate(
        {"name": "x", "base_model": "embedded", "conditions": ["base"], "eval": section}
    )
    cfg = eval_config(exp, "vllm/m", None)
    for k in EvalSettings.model_fields:
        assert getattr(cfg, k) == section[k], k
    local = eval_config(exp, "embedded", None)  # vLLM's settings only reach what it serves
    assert local.tensor_parallel_size is local.max_model_len is None


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("epochs", 0, "eval.epochs: Input should be greater than or equal to 1 (got 0)"),
        ("grid", "grand", "eval.grid: Input should be 'paper' (got 'grand')"),
        ("exfil_rule", 3, "eval.exfil_rule: Input should be 'authors' or 'msm' (got 3)"),
        ("gpu_memory_utilization", 0, "eval.gpu_memory_utilization: Input should be greater"),
    ],
)
def test_the_section_refuses_at_load_what_msm_eval_refuses_later(
    setting: str, value: object, message: str
) -> None:
    from pydantic import ValidationError

    from msm._util.config_io import validation_error
    from msm.experiment.config import Experiment

    data = {"name": "x", "base_model": "embedded", "conditions": ["base"]}
    with pytest.raises(ValidationError) as e:
        Experiment.model_validate({**data, "eval": {setting: value, "engine": "vllm"}})
    assert message in str(validation_error(e.value, "exp.yaml", Experiment))
