"""Layered stage configs: defaults < YAML file < flags the user typed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

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
ContextTokens = Annotated[
    int,
    Field(
        ge=0,
        description="prompts show the whole spec when it fits this many tokens, else its "
        "outline, always with the part in focus",
    ),
]


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
