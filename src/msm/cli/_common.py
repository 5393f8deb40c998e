"""The ``msm`` app, its command groups and the option types and helpers they share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from msm import __version__
from msm.llm.bundled import tokenizer_file
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import approx_token_counts, load_spec, tokenizer_counter


class Interrupted(Exception):
    """Ctrl-C during a command (``msm.cli.main`` says how to resume and exits 130)."""


class MsmGroup(TyperGroup):
    """The ``msm`` command tree as typer builds it, finished for users: every command's
    help ends with examples (``msm.cli.examples``), and ``msm aftgen subset`` reaches the
    subset command (registered as ``aftgen-subset``: ``msm aftgen SPEC`` takes the name)."""

    def __init__(self, **kwargs: Any) -> None:
        # lazy: examples reads the finished command tree
        from msm.cli.examples import finish_help

        super().__init__(**kwargs)
        finish_help(self)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:  # typer would turn it into a silent exit 130
            raise Interrupted() from e

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args[:2] == ["aftgen", "subset"] and "aftgen-subset" in self.commands:
            # named as typed, so usage lines and errors say `msm aftgen subset`
            return "aftgen subset", self.commands["aftgen-subset"], args[2:]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="msm",
    cls=MsmGroup,
    help="Model Spec Midtraining: spec -> documents -> midtraining -> AFT -> evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help (no Rich panels): greppable, and option help is never read as markup
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Model Spec Midtraining: spec -> documents -> midtraining -> AFT -> evaluation."""


spec_app = typer.Typer(
    help="Inspect a spec: show, sections, lint, list bundled specs.", no_args_is_help=True
)
models_app = typer.Typer(help="Models msm can use.", no_args_is_help=True)
app.add_typer(spec_app, name="spec")
app.add_typer(models_app, name="models")
train_app = typer.Typer(
    help="Midtraining and alignment fine-tuning (the paper's LoRA recipe by default).",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")

SpecArg = Annotated[str, typer.Argument(help="Spec file (Markdown/text) or builtin:<name>.")]
ModelNameOpt = Annotated[
    str | None, typer.Option("--model-name", help="Value for {model_name} in the spec.")
]
ProviderNameOpt = Annotated[
    str | None, typer.Option("--provider-name", help="Value for {provider_name} in the spec.")
]
LiteralNameOpt = Annotated[
    str | None,
    typer.Option(
        "--literal-name",
        help="A name written literally in the spec (e.g. Llama) to treat as {model_name}.",
    ),
]
TokenizerOpt = Annotated[
    str,
    typer.Option(
        "--tokenizer",
        help="Token counts: 'embedded' (bundled SmolLM2), 'approx' (no model), "
        "or a folder/tokenizer.json.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
OutDirOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
PreviewOpt = Annotated[
    bool,
    typer.Option(
        "--preview",
        help="Print the projected calls, tokens and cost (and docgen's plan) from the "
        "settings alone (no model is called, no key is needed, nothing is written).",
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace msm output of other settings in --out (output of the same settings "
        "is resumed; a folder of other files is never touched).",
    ),
]


def _counter(tokenizer: str) -> Any:
    """The token counter a ``--tokenizer`` name means (``approx``, or a tokenizer.json)."""
    if tokenizer == "approx":
        return approx_token_counts
    return tokenizer_counter(tokenizer_file(tokenizer))


def _load(
    spec: str,
    model_name: str | None,
    provider_name: str | None,
    tokenizer: str,
    literal_name: str | None = None,
) -> Any:

    return load_spec(
        resolve_spec_path(spec), model_name, provider_name, _counter(tokenizer), literal_name
    )


def _fmt_cost(c: float | None) -> str:
    return "unknown (no price for this model)" if c is None else f"${c:,.2f}"


def _explicit_params() -> set[str]:
    """Names of the parameters the user actually typed (so YAML values are not overridden)."""
    from typer._click.core import ParameterSource  # type: ignore[import-not-found]
    from typer._click.globals import get_current_context  # type: ignore[import-not-found]

    ctx = get_current_context()
    return {
        name
        for name in ctx.params
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    }
