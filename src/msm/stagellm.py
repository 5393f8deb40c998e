"""The generator and optional judge a generation stage (docgen, aftgen) works with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msm.llm import LLM, AccessConfig, GenConfig, UsageMeter, resolve_model
from msm.llm.fake import fake_args
from msm.llm.store import ResultStore

JUDGE_MAX_TOKENS = 200


def stage_llms(
    cfg: Any,
    out: Path,
    stage: str,
    usage: UsageMeter,
    model_args: dict[str, Any] | None = None,
    judge_model_args: dict[str, Any] | None = None,
) -> tuple[ResultStore, LLM, LLM | None]:
    """Store, generator and judge sharing one store, one usage meter and one access policy.

    ``cfg`` carries ``model``, ``judge``, ``concurrency``, ``max_retries``,
    ``timeout_s``, ``batch``, ``max_tokens_list``, ``temperature`` and ``seed``.
    Model names are checked before the store is created, so a bad name or a
    missing key writes nothing. The plain ``fake`` gets the stage's built-in script.
    """
    resolve_model(cfg.model)
    if cfg.judge:
        resolve_model(cfg.judge)
    store = ResultStore(out / ".msm" / "llm.sqlite")
    access = AccessConfig(
        max_concurrency=cfg.concurrency,
        max_retries=cfg.max_retries,
        timeout_s=cfg.timeout_s,
        batch=cfg.batch,
    )
    llm = LLM(
        cfg.model,
        gen=GenConfig(max_tokens=cfg.max_tokens_list, temperature=cfg.temperature, seed=cfg.seed),
        access=access,
        store=store,
        usage=usage,
        stage=stage,
        model_args=fake_args(cfg.model, model_args, stage),
    )
    judge = None
    if cfg.judge:
        judge = LLM(
            cfg.judge,
            gen=GenConfig(max_tokens=JUDGE_MAX_TOKENS, temperature=0.0),
            access=access,
            store=store,
            usage=usage,
            stage=f"{stage}.judge",
            model_args=fake_args(cfg.judge, judge_model_args, stage),
        )
    return store, llm, judge
