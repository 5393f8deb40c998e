"""Configuration of ``msm docgen`` (one pydantic model; CLI flags override YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from msm.config_io import ContextTokens, LiteralName


class DocgenConfig(BaseModel):
    """Everything that decides a corpus. Saved, resolved, into the manifest."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(description="spec file (Markdown/text) or builtin:<name>")
    model: str = Field(default="embedded", description="generator model")
    mode: Literal["values", "rules"] = Field(
        default="values",
        description="values: documents explain why; rules: documents state rules with IDs",
    )
    planner: Literal["structure", "llm"] = Field(
        default="structure",
        description="structure: domains from the spec's headings; llm: the model proposes them",
    )
    model_name: str = Field(
        default="the assistant",
        description="the model the documents are about (fills {model_name} in the spec)",
    )
    provider_name: str = Field(
        default="its developer", description="its developer (fills {provider_name})"
    )
    literal_name: LiteralName = None
    n_domains: int = Field(default=6, ge=1, le=50, description="llm planner: domains to ask for")
    n_subdomains: int = Field(default=4, ge=1, le=50, description="llm planner: per domain")
    n_assertions: int = Field(default=4, ge=1, le=100, description="per subdomain")
    n_doc_types: int = Field(default=3, ge=1, le=24, description="per assertion")
    n_ideas: int = Field(default=2, ge=1, le=100, description="per (assertion, doc type)")
    docs_per_idea: int = Field(default=1, ge=1, le=20, description="documents per idea")
    doc_types_from: Literal["catalogue", "llm"] = Field(
        default="catalogue",
        description="catalogue: msm's document types; llm: the model proposes them",
    )
    ideas_from: Literal["llm", "template"] = Field(
        default="llm",
        description="llm: ask for document ideas (paper); template: fixed angles per document "
        "type, no idea lists (much faster for small local models)",
    )
    doc_words: int = Field(default=250, ge=20, le=5000, description="target words per document")
    plan_first: bool = Field(
        default=True,
        description="ask for a plan, then the document (paper); off = one short direct "
        "prompt, better for small models",
    )
    truncated: Literal["drop", "trim"] = Field(
        default="drop",
        description="a document cut by the token limit: drop it, or trim it back to its "
        "last complete sentence (counted as trimmed)",
    )
    context_tokens: ContextTokens = 4000
    max_tokens_list: int = Field(default=400, ge=16, description="planning lists")
    max_tokens_plan: int = Field(default=400, ge=16, description="token limit of a document plan")
    max_tokens_doc: int = Field(default=900, ge=16, description="token limit of a document")
    max_section_tokens: int = Field(
        default=1500, ge=100, description="longer sections are split into parts of this size"
    )
    temperature: float = Field(default=0.8, ge=0.0, description="generator sampling temperature")
    seed: int = Field(default=0, description="seed of every sampled choice and call")
    min_words: int = Field(default=40, ge=1, description="shorter documents are dropped")
    dedup_threshold: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="near-duplicate similarity above which a document is dropped",
    )
    judge: str | None = Field(default=None, description="fidelity judge model (fails closed)")
    judge_criterion: str | None = Field(
        default=None, description="an extra criterion for the judge"
    )
    concurrency: int = Field(default=16, ge=1, le=1024, description="LLM calls in flight at once")
    batch: bool = Field(default=False, description="use the provider's batch API (via Inspect)")
    max_retries: int = Field(default=4, ge=0, description="retries of a failed call")
    timeout_s: float = Field(default=300.0, gt=0, description="seconds per call")
    max_reasks: int = Field(
        default=2, ge=0, le=10, description="re-asks of an unparsable list reply"
    )
