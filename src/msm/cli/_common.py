"""The ``msm`` app, its command groups and the option types and helpers they share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from msm.errors import MsmError

app = typer.Typer(
    name="msm",
    help="Model Spec Midtraining: spec -> documents -> midtraining -> AFT -> evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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


def _counter(tokenizer: str) -> Any:
    from msm.spec import approx_token_counts, tokenizer_counter

    if tokenizer == "approx":
        return approx_token_counts
    if tokenizer == "embedded":
        from msm.models import embedded_model_dir

        return tokenizer_counter(embedded_model_dir() / "tokenizer.json")
    p = Path(tokenizer)
    p = p / "tokenizer.json" if p.is_dir() else p
    if not p.is_file():
        raise MsmError(f"tokenizer not found: {tokenizer} (need a tokenizer.json)")
    return tokenizer_counter(p)


def _load(
    spec: str,
    model_name: str | None,
    provider_name: str | None,
    tokenizer: str,
    literal_name: str | None = None,
) -> Any:
    from msm.spec import load_spec
    from msm.specs_builtin import resolve_spec_path

    return load_spec(
        resolve_spec_path(spec), model_name, provider_name, _counter(tokenizer), literal_name
    )


def _fmt_cost(c: float | None) -> str:
    return "unknown (no price for this model)" if c is None else f"${c:,.2f}"


def _print_preview(model: str, p: dict[str, Any]) -> None:
    typer.echo(
        f"plan: {p['units']} subdomains -> {p['assertions']} assertions -> {p['ideas']} ideas"
    )
    typer.echo(f"projected documents: {p['documents']}")
    typer.echo(
        f"projected tokens: {p['document_input_tokens']:,} in, "
        f"{p['document_output_tokens']:,} out ({p['estimate_basis']})"
    )
    typer.echo(f"projected cost with {model}: {_fmt_cost(p['document_cost_usd'])}")
    if p.get("judge_cost_usd") is not None:
        typer.echo(f"judge cost: {_fmt_cost(p['judge_cost_usd'])}")
    spent = sum(v["input_tokens"] + v["output_tokens"] for v in p["planning_usage"].values())
    typer.echo(f"planning so far used {spent:,} tokens")


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
