"""Layered stage configs: defaults < YAML file < flags the user typed."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from msm._util.fsutil import read_user_file
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


BatchWait = Annotated[
    float,
    Field(
        gt=0,
        description="batch: seconds to wait for a batch before what it has not answered goes "
        "by ordinary calls, once (default 3 h, as the paper's authors)",
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
    batch: bool = Field(
        default=False,
        description="send the generator's and judge's calls through the provider's batch API "
        "(about half price; openai/ and anthropic/ models)",
    )
    batch_wait_s: BatchWait = 10800.0
    max_retries: int = Field(default=4, ge=0, description="retries of a failed call")
    timeout_s: float = Field(default=300.0, gt=0, description="seconds per call")
    max_reasks: int = Field(
        default=2, ge=0, le=10, description="re-asks of an unparsable list reply"
    )


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error: YAML
    keeps the last value silently, so ``lr: 1e-4`` then ``lr: 1e-3`` would train at 1e-3."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: PyYAML's own error comes next
                    continue
                if dup:
                    line = key_node.start_mark.line + 1
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice (again on line {line})",
                        key_node.start_mark,
                    )  # fmt: skip
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses a key given twice in one mapping."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that must hold a mapping, with one-line errors."""
    p = Path(path)
    raw = read_user_file(p, what)
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MsmError(f"{what} file is not valid UTF-8: {p}") from e
    # ValueError: a bad date (2001-13-01) or an overlong integer; RecursionError: deep
    # nesting. PyYAML raises both from inside the parser.
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise MsmError(f"{what} file {p} is not valid YAML: {first}{at}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MsmError(f"{what} file {p} must hold a mapping of settings")
    return data


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line (1-based) of every mapping key and list item in a YAML text, by its path
    (``("train", "midtrain", "lr")``, ``("conditions", 2)``); empty if it does not parse."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError, RecursionError):
        return {}
    lines: dict[tuple[Any, ...], int] = {}
    stack: list[tuple[tuple[Any, ...], Any]] = [((), root)]
    seen: set[int] = set()  # an alias is the node it names: walked once (no alias bombs)
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    here = (*path, k.value)
                    lines.setdefault(here, k.start_mark.line + 1)
                    stack.append((here, v))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines.setdefault((*path, i), v.start_mark.line + 1)
                stack.append(((*path, i), v))
    return lines


def line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of ``loc``, else of its nearest enclosing key (a missing key: its section)."""
    for n in range(len(loc), 0, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return None


class ConfigError(MsmError):
    """Every problem found in one settings file: a header naming the file and the count,
    and one line per problem. ``str()`` stays one line (for logs and manifests); the CLI
    prints the header and then each problem on its own indented line."""

    def __init__(self, header: str, details: list[str]) -> None:
        self.header = " ".join(header.split())
        self.details = [" ".join(d.split()) for d in details]
        super().__init__(f"{self.header}: {'; '.join(self.details)}")


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type holds (through Optional, list, dict, unions)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def _keys_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` inside ``model`` (list indexes and mapping keys are
    stepped over), for suggesting the key an unknown one was probably meant to be."""
    if model is None:
        return []
    models = [model]
    for part in loc:
        inner = [
            m
            for owner in models
            if isinstance(part, str) and part in owner.model_fields
            for m in _models_in(owner.model_fields[part].annotation)
        ]
        if inner:
            models = inner
        elif isinstance(part, str) and any(part in m.model_fields for m in models):
            return []  # a field that holds no model: no keys to suggest
    return sorted({k for m in models for k in m.model_fields})


def unknown_key_message(key: str, allowed: Iterable[str], prefix: str = "") -> str:
    """``unknown key 'learning_rat' (did you mean 'learning_rate'?)`` (the hint only when
    one allowed key is close)."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
    return f"unknown key '{prefix}{key}'{hint}"


_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "none", "bytes", "date", "datetime"})
_TAG_PREFIXES = ("function-", "constrained-", "lax-", "json-or-python", "tagged-union")


def _is_union_tag(part: Any) -> bool:
    """pydantic names the member of a union that failed (``list[str]``,
    ``literal['all-linear']``, ``int``) in the error's location; no setting is named so."""
    return isinstance(part, str) and (
        "[" in part or part in _SCALAR_TAGS or part.startswith(_TAG_PREFIXES)
    )


def _message(err: Any) -> str:
    # pydantic prefixes the messages of our own validators; the reader needs none of it
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _problem(errs: list[Any], model: type[BaseModel] | None, cli: bool) -> str:
    """One line for the errors pydantic gave one setting (several: one per union member)."""
    err = errs[0]
    loc = tuple(x for x in err["loc"] if not _is_union_tag(x))
    where = ".".join(str(x) for x in loc)
    if cli and err["type"] == "missing" and len(loc) == 1:
        return f"{where}: required (give --{where.replace('_', '-')}, or {where}: in --config)"
    if err["type"] == "extra_forbidden" and loc:
        prefix = "".join(f"{x}." for x in loc[:-1])
        return unknown_key_message(str(loc[-1]), _keys_at(model, loc[:-1]), prefix)
    msgs = list(dict.fromkeys(_message(x) for x in errs))
    lead = "Input should be "
    if len(msgs) > 1 and all(m.startswith(lead) for m in msgs):  # "a valid list or 'x'"
        msgs = [lead + " or ".join(m.removeprefix(lead) for m in msgs)]
    msg = "; ".join(msgs)
    value = err.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        shown = repr(value)
        msg += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return f"{where}: {msg}" if where else msg


def validation_problems(
    e: ValidationError,
    model: type[BaseModel] | None = None,
    cli: bool = False,
    lines: dict[tuple[Any, ...], int] | None = None,
    base: tuple[Any, ...] = (),
    prefix: str = "",
) -> list[str]:
    """One line per setting pydantic found a problem with; with ``lines`` (from
    :func:`key_lines`; ``base``: where the validated mapping sits in the file) each ends
    with its line. ``prefix`` goes before each setting's name (``corpus.``)."""
    by_setting: dict[tuple[Any, ...], list[Any]] = {}
    for err in e.errors():
        key = tuple(x for x in err["loc"] if not _is_union_tag(x))
        by_setting.setdefault(key, []).append(err)
    out = []
    for key, errs in by_setting.items():
        text = _problem(errs, model, cli)
        if prefix:
            text = text.replace("unknown key '", f"unknown key '{prefix}", 1).replace(
                "did you mean '", f"did you mean '{prefix}", 1
            )
            if not text.startswith("unknown key"):
                text = prefix + text
        if lines and not key:  # a check of the whole model: its message names the setting
            named = re.match(r"([A-Za-z_][\w.]*):", text)
            key = tuple(named.group(1).split(".")) if named else ()
        line = line_of(lines, (*base, *key)) if lines and key else None
        out.append(text + (f" (line {line})" if line else ""))
    return list(dict.fromkeys(out))


def validation_error(
    e: ValidationError, where: str, model: type[BaseModel] | None = None, cli: bool = False
) -> MsmError:
    """Every problem pydantic found, at once: one line when there is one, else a header
    (``config.yaml: 3 errors``) and one line per problem. Unknown keys name the closest
    allowed key of ``model`` where one is close; ``cli``: a missing setting names its flag."""
    return problems_error(where, validation_problems(e, model, cli))


def problems_error(where: str, problems: list[str]) -> MsmError:
    """One MsmError line for one problem, else a :class:`ConfigError` with each."""
    if len(problems) == 1:
        return MsmError(f"{where}: {problems[0]}")
    return ConfigError(f"{where}: {len(problems)} errors", problems)


def validation_message(e: ValidationError, where: str) -> str:
    """:func:`validation_error` as one line of text."""
    return str(validation_error(e, where))


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
        where = str(yaml_path) if yaml_path else "options"
        raise validation_error(e, where, cls, cli=True) from None
