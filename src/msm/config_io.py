"""Layered stage configs: defaults < YAML file < flags the user typed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from msm.errors import MsmError

C = TypeVar("C", bound=BaseModel)

# settings docgen and aftgen share, declared once
LiteralName = Annotated[
    str | None,
    Field(
        min_length=1,
        description="a name written literally in the spec (e.g. Llama) to treat as {model_name}",
    ),
]
ModelName = Annotated[
    str | None,
    Field(
        min_length=1,
        description="the model the data is about (fills {model_name}); default: the spec's "
        "model_name front matter; one of the two is required",
    ),
]
ProviderName = Annotated[
    str | None,
    Field(
        min_length=1,
        description="its developer (fills {provider_name}); default: the spec's "
        "provider_name front matter, else 'its developer'",
    ),
]
ContextTokens = Annotated[
    int,
    Field(
        ge=0,
        description="prompts show the whole spec when it fits this many tokens, else its "
        "outline, always with the part in focus",
    ),
]


class GenerationConfig(BaseModel):
    """The settings every generation stage (docgen, aftgen) has: the spec and its names,
    the generator and how it is called, and how much of the spec prompts show."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(description="spec file (Markdown/text) or builtin:<name>")
    model: str = Field(default="embedded", description="generator model")
    model_name: ModelName = None
    provider_name: ProviderName = None
    literal_name: LiteralName = None
    judge: str | None = Field(default=None, description="judge model (fails closed)")
    context_tokens: ContextTokens = 4000
    max_tokens_list: int = Field(default=400, ge=16, description="token limit of a planning list")
    max_section_tokens: int = Field(
        default=1500, ge=100, description="longer sections are split into parts of this size"
    )
    temperature: float = Field(default=0.8, ge=0.0, description="generator sampling temperature")
    seed: int = Field(default=0, description="seed of every sampled choice and call")
    concurrency: int = Field(default=16, ge=1, le=1024, description="LLM calls in flight at once")
    batch: bool = Field(default=False, description="use the provider's batch API (via Inspect)")
    max_retries: int = Field(default=4, ge=0, description="retries of a failed call")
    timeout_s: float = Field(default=300.0, gt=0, description="seconds per call")
    max_reasks: int = Field(
        default=2, ge=0, le=10, description="re-asks of an unparsable list reply"
    )


def read_yaml_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that must hold a mapping, with one-line errors."""
    p = Path(path)
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as e:  # e.g. a name too long for the file system
        raise MsmError(f"cannot read {what} file {p}: {e.strerror or e}") from e
    if not exists:
        raise MsmError(f"{what} file not found: {p}")
    if is_dir:
        raise MsmError(f"{what} path is a directory, not a file: {p}")
    try:
        raw = p.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MsmError(f"{what} file is not valid UTF-8: {p}") from e
    # ValueError: a bad date (2001-13-01) or an overlong integer; RecursionError: deep
    # nesting. PyYAML raises both from inside the parser.
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise MsmError(f"{what} file {p} is not valid YAML: {first}") from e
    except OSError as e:
        raise MsmError(f"cannot read {what} file {p}: {e.strerror or e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MsmError(f"{what} file {p} must hold a mapping of settings")
    return data


def validation_message(e: ValidationError, where: str) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(root)"
    extra = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{where}: {loc}: {err['msg']}{extra}"


def build_config(
    cls: type[C], yaml_path: Path | None, flags: dict[str, Any], explicit: set[str]
) -> C:
    """``cls`` from YAML (if any) overlaid with the flags in ``explicit``.

    Flags left at their defaults don't override YAML values; a flag the user did
    type always wins.
    """
    data: dict[str, Any] = read_yaml_mapping(yaml_path) if yaml_path is not None else {}
    for k, v in flags.items():
        if k in explicit or k not in data:
            data[k] = v
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise MsmError(validation_message(e, str(yaml_path) if yaml_path else "options")) from e
