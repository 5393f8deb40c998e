"""Configuration of ``msm evalgen``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from msm._util.config_io import GenerationConfig


class EvalgenConfig(GenerationConfig):
    """Settings of one evalgen run: how many items of each kind to keep, spread over the
    spec's sections, and how many candidates to write for each one kept."""

    n_questions: int = Field(
        default=24, ge=0, le=100_000, description="spec QA questions (with rubrics) to keep"
    )
    n_choices: int = Field(
        default=24,
        ge=0,
        le=100_000,
        description="behavioural choices to keep: a situation, a reply that follows the spec "
        "and one that breaks it (scored like the value items)",
    )
    n_beliefs: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="belief statements to keep, each with up to two minimally altered false "
        "versions (value reversed, reason swapped) the judge found false and close "
        "(msm eval --suite spec_belief --beliefs FILE)",
    )
    overgenerate: float = Field(
        default=2.0,
        ge=1.0,
        le=20.0,
        description="candidates written per item wanted (the judge and the checks drop some)",
    )
    dedup_threshold: float = Field(
        default=0.9, gt=0.0, le=1.0, description="near-duplicate similarity above which an "
        "item's question is dropped",
    )  # fmt: skip
    max_tokens_item: int = Field(default=400, ge=32, description="token limit of one item")
    form: Literal["tagged", "fields"] = Field(
        default="tagged",
        description="how the generator writes a choice: tagged (the three fields in one "
        "reply) or fields (one short call per field, each reply's opening given: a form a "
        "small model keeps; the bundled 135M model then keeps the format but writes "
        "choices that measure nothing, docs/LOG.md)",
    )

    def fielded(self) -> bool:
        """Whether choices are written one field per call."""
        return self.form == "fields"

    def data_parts(self) -> list[str]:
        """The opt-in package data this run reads (``msm.artifacts.package_data``)."""
        wrote = [("beliefs", bool(self.n_beliefs)), ("fields", self.fielded() and self.n_choices)]
        return [part for part, on in wrote if on]
