"""Configuration of ``msm docgen`` (one pydantic model; CLI flags override YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from msm._util.config_io import GenerationConfig


class DocgenConfig(GenerationConfig):
    """Everything that decides a corpus. Saved, resolved, into the manifest."""

    mode: Literal["values", "rules"] = Field(
        default="values",
        description="values: documents explain why; rules: documents state rules with IDs",
    )
    planner: Literal["structure", "llm"] = Field(
        default="structure",
        description="structure: domains from the spec's headings; llm: the model proposes them",
    )
    n_domains: int = Field(default=6, ge=1, le=50, description="llm planner: domains to ask for")
    n_subdomains: int = Field(default=4, ge=1, le=50, description="llm planner: per domain")
    n_assertions: int = Field(default=4, ge=1, le=100, description="per subdomain")
    n_doc_types: int = Field(default=3, ge=1, le=24, description="per assertion")
    n_ideas: int = Field(default=2, ge=1, le=100, description="per (assertion, doc type)")
    docs_per_idea: int = Field(default=1, ge=1, le=20, description="documents per idea")
    assertions_from: Literal["llm", "spec"] = Field(
        default="llm",
        description="llm: the generator restates each section as assertions (paper); spec: "
        "the section's own sentences that name the model, value-stating ones first (for "
        "generators too small to restate a spec faithfully)",
    )
    document_start: Literal["model", "statement"] = Field(
        default="model",
        description="model: the generator writes the whole document (paper); statement: the "
        "document opens with its assertion, given as the start of the generator's answer, "
        "and the generator continues it (for generators too small to keep to a fact; needs "
        "a provider that continues a prefilled answer: local models, Anthropic)",
    )
    own_reason: Literal["require", "count"] = Field(
        default="require",
        description="with document_start statement, the reason check reads only the "
        "generated continuation (the opening already states the reason): require drops a "
        "document whose continuation states none (no_reason); count keeps it and only "
        "counts it (continuation_reasons in stats.json; for generators too small to "
        "restate the reason, such as the demo's)",
    )
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
    max_tokens_plan: int = Field(default=400, ge=16, description="token limit of a document plan")
    max_tokens_doc: int = Field(default=900, ge=16, description="token limit of a document")
    min_words: int = Field(default=40, ge=1, description="shorter documents are dropped")
    dedup_threshold: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="near-duplicate similarity above which a document is dropped",
    )
    judge_criterion: str | None = Field(
        default=None, description="an extra criterion for the judge"
    )
