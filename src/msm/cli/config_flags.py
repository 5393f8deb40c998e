"""Stage commands whose flags are generated from the stage's pydantic config.

A stage command is written once, as a function of the built config::

    @config_command(app, "docgen", DocgenConfig, flags={"spec": Flag(argument=True)})
    def docgen(cfg: DocgenConfig, out: Annotated[Path, typer.Option("--out")]) -> None: ...

Every scalar field of the config becomes an option (``n_ideas`` -> ``--n-ideas``; a bool
``x`` -> ``--x/--no-x``; a list -> a repeatable option), with the field's description as
its help, the allowed values of a ``Literal`` listed, and the field's default shown. The
flag is always the YAML key with dashes, so a setting has one name in files and on the
command line.
``--config FILE.yaml`` is added; the config is built as defaults < YAML < the flags the
user typed (a flag left at its default never overrides the YAML). Fields whose type has
no flag form (mappings, unions with lists) are YAML-only. ``Flag`` adjusts one field's
option: a short name, other help, or an older name kept working as an alias (``--lr``).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel

from msm._util.config_io import build_config
from msm.cli._common import _explicit_params


@dataclass(frozen=True)
class Flag:
    """How one config field appears on the command line (all optional)."""

    alias: str | None = None  # an older name still accepted, e.g. "--lr" for --learning-rate
    short: str | None = None  # e.g. "-m"
    help: str | None = None  # default: the field's description
    argument: bool = False  # a positional argument instead of an option
    required: bool | None = None  # default: required when the field has no default
    path: bool = False  # a str field holding a file path: checked by the CLI (exists -> readable)


def _literal_values(tp: Any) -> tuple[Any, ...] | None:
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else None


def _cli_type(tp: Any) -> tuple[Any, str] | None:
    """(the type typer parses, a note for the help) or None where no flag form fits."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return None
        inner = _cli_type(rest[0])
        if inner is None or typing.get_origin(inner[0]) is list:
            return inner
        return inner[0] | None, inner[1]
    if origin is list:
        item = _cli_type(args[0]) if args else (str, "")
        if item is None or typing.get_origin(item[0]) is not None:
            return None
        return list[item[0]], (item[1] + "; " if item[1] else "") + "repeatable"  # type: ignore[valid-type]
    values = _literal_values(tp)
    if values is not None:
        kinds = {type(v) for v in values}
        base = kinds.pop() if len(kinds) == 1 else str
        return base, " | ".join(str(v) for v in values)
    if tp in (str, int, float, bool):
        return tp, ""
    if tp is Path:
        return Path, ""
    return None


def _field_param(name: str, field: Any, flag: Flag) -> inspect.Parameter | None:
    parsed = _cli_type(field.annotation)
    if parsed is None:
        return None
    tp, note = parsed
    if flag.path:
        tp = Path | None if tp == str | None else Path
    doc = flag.help or field.description or ""
    doc = f"{doc} ({note})" if doc and note else doc or note
    required = flag.required if flag.required is not None else field.is_required()
    if typing.get_origin(tp) is list:
        tp, default = tp | None, None  # absent unless given: the config's default applies
    elif required and flag.argument:
        default = inspect.Parameter.empty
    elif required:
        # a required option may come from --config instead: the config reports it missing
        tp, default = tp | None, None
        doc = f"{doc} (required: this flag or {name}: in --config)".strip()
    else:
        default = field.get_default(call_default_factory=True)
    if flag.argument:
        info: Any = typer.Argument(help=doc or None, show_default=False)
    else:
        # the flag is the YAML key: `learning_rate:` in a file, `--learning-rate` here
        opt = "--" + name.replace("_", "-")
        decls = [f"{opt}/--no-{opt[2:]}" if tp is bool else opt]
        if flag.alias:
            decls.append(flag.alias)
            doc = f"{doc} ({flag.alias}: its older name, still accepted)".strip()
        if flag.short:
            decls.append(flag.short)
        info = typer.Option(*decls, help=doc or None)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[tp, info], default=default
    )


def config_command(
    group: typer.Typer,
    name: str,
    cls: type[BaseModel],
    *,
    flags: dict[str, Flag] | None = None,
    exclude: tuple[str, ...] = (),
    fixed: dict[str, Any] | None = None,
    order: tuple[str, ...] = (),
    **command_kwargs: Any,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(cfg, **own)`` as ``name`` with one flag per field of ``cls``.

    ``flags`` adjusts single fields; ``exclude`` leaves fields off the command line (YAML
    only); ``fixed`` sets fields the command decides (e.g. the training stage); ``order``
    lists the flags in that order, then the fields it does not name as declared (pydantic
    declares a base class's fields first, which need not be the order to read them in).
    """
    flags, fixed = flags or {}, fixed or {}
    unknown = set(order) - set(cls.model_fields)
    if unknown:
        raise ValueError(f"order names no field of {cls.__name__}: {sorted(unknown)}")
    fields = sorted(cls.model_fields.items(), key=lambda kv: _position(order, kv[0]))

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(fn).parameters.values()
            if p.name != "cfg"
        ]
        taken = {p.name for p in own}
        generated: list[inspect.Parameter] = []
        for field_name, field in fields:
            if field_name in exclude or field_name in fixed or field_name in taken:
                continue
            p = _field_param(field_name, field, flags.get(field_name, Flag()))
            if p is not None:
                generated.append(p)
        names = {p.name for p in generated}
        config_param = inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                Path | None,
                typer.Option(
                    "--config", help=f"YAML with {cls.__name__} fields (flags typed here win)."
                ),
            ],
            default=None,
        )
        # positional arguments first, in the order declared, then the options
        params = [p for p in generated if _is_argument(p)] + [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own
        ]
        params += [p for p in generated if not _is_argument(p)] + [config_param]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            yaml_path = kwargs.pop("config")
            explicit = _explicit_params()
            values = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            typed = {
                k: str(v) if isinstance(v, Path) else v for k, v in values.items() if k in explicit
            }
            cfg = build_config(cls, yaml_path, {**typed, **fixed}, set(typed) | set(fixed))
            fn(cfg, **kwargs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {}
        group.command(name, **command_kwargs)(command)
        return command

    return decorate


def _position(order: tuple[str, ...], name: str) -> int:
    """Where ``order`` puts a field; fields it does not name come after (a stable sort
    keeps them as declared)."""
    return order.index(name) if name in order else len(order)


def _is_argument(p: inspect.Parameter) -> bool:
    meta = typing.get_args(p.annotation)[1:]
    return any(type(m).__name__ == "ArgumentInfo" for m in meta)
