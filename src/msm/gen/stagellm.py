"""The generator and optional judge a generation stage (docgen, aftgen) works with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from msm.gen.prompts import render_parts
from msm.llm import LLM, AccessConfig, GenConfig, Message, UsageMeter, resolve_model
from msm.llm.batch import check_batch_provider
from msm.llm.fake import fake_args
from msm.llm.store import ResultStore
from msm.spec.builtin import resolve_spec_path
from msm.spec.context import SpecContext, spec_context
from msm.spec.core import approx_token_counts, check_placeholders, load_spec

if TYPE_CHECKING:
    from msm.spec.core import Spec

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
    if cfg.batch:
        check_batch_provider(cfg.model, stage)
        if cfg.judge:
            check_batch_provider(cfg.judge, f"{stage}.judge")
    store = ResultStore(out / ".msm" / "llm.sqlite")
    access = AccessConfig(
        max_concurrency=cfg.concurrency,
        max_retries=cfg.max_retries,
        timeout_s=cfg.timeout_s,
        batch=cfg.batch,
        batch_wait_s=cfg.batch_wait_s,
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


def load_stage_spec(cfg: Any) -> Spec:
    """The spec a generation stage works from: ``cfg.spec`` with its names filled in, the
    model's name required (kept outputs are checked for naming the model)."""

    spec = load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        approx_token_counts,
        cfg.literal_name,
        name_required=True,
    )
    check_placeholders(spec)  # a typo stops here, before a call is made or paid for
    return spec


class SpecPrompts:
    """Prompt rendering shared by docgen and aftgen: every prompt gets the spec's names and
    the spec context, and the templates used are remembered (for the manifest).

    A template with a system part (:mod:`msm.gen.prompts`) becomes a system message filled from
    the names and the spec context alone, so it is the same text on every call of the stage
    and providers can cache it, then the user message with the call's own values.
    """

    stage: str  # the stage's name in the call store and usage ("docgen", "aftgen")
    prompt_folder: str  # the stage's prompt templates (msm/prompts/<folder>/)

    def __init__(
        self,
        cfg: Any,
        out: Path,
        model_args: dict[str, Any] | None = None,
        judge_model_args: dict[str, Any] | None = None,
    ) -> None:
        """The spec, its context, the stage's models and usage meter, then the stage's own
        :meth:`start`. :meth:`check_spec` runs before the call store is created, so a spec
        the stage cannot use writes nothing."""
        self.cfg = cfg
        self.out = out
        self.spec: Spec = load_stage_spec(cfg)
        self.check_spec()
        self.context: SpecContext = spec_context(self.spec, cfg.context_tokens)
        self.usage = UsageMeter()
        self.templates: set[str] = set()
        self.store, self.llm, self.judge = stage_llms(
            cfg, out, self.stage, self.usage, model_args, judge_model_args
        )
        self.start()

    def check_spec(self) -> None:
        """Raise if the stage cannot work from ``self.spec`` (each stage's own rule)."""

    def start(self) -> None:
        """Set up the stage's own state, once the models are ready."""

    def _render(self, name: str, **values: object) -> list[Message]:
        self.templates.add(name)
        shared: dict[str, object] = {
            "model_name": self.spec.model_name,
            "provider_name": self.spec.provider_name,
            "context": self.context.text,
        }
        system, user = render_parts(self.prompt_folder, name, shared, values)
        msgs = [Message(role="user", content=user)]
        return msgs if system is None else [Message(role="system", content=system), *msgs]
