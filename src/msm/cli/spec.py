"""``msm spec ...`` and ``msm models list``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from msm.cli._common import (
    JsonOpt,
    LiteralNameOpt,
    ModelNameOpt,
    ProviderNameOpt,
    SpecArg,
    TokenizerOpt,
    _load,
    models_app,
    spec_app,
)
from msm.llm.bundled import list_models
from msm.spec.builtin import builtin_specs
from msm.spec.lint import lint_spec


@spec_app.command("show")
def spec_show(
    spec: SpecArg,
    model_name: ModelNameOpt = None,
    provider_name: ProviderNameOpt = None,
    literal_name: LiteralNameOpt = None,
    tokenizer: TokenizerOpt = "approx",
    as_json: JsonOpt = False,
) -> None:
    """Print the templated spec with its hash and size."""
    s = _load(spec, model_name, provider_name, tokenizer, literal_name)
    info = {
        "path": s.path,
        "sha256": s.sha256,
        "source_sha256": s.source_sha256,
        "model_name": s.model_name,
        "provider_name": s.provider_name,
        "sections": len(s.sections),
        "tokens": sum(x.tokens for x in s.sections),
        "metadata": s.metadata,
        "unknown_placeholders": [{"name": p.name, "line": p.line} for p in s.unknown_placeholders],
    }
    if as_json:
        # default=str: YAML front matter may hold dates, which JSON has no type for
        typer.echo(json.dumps({**info, "text": s.text}, indent=2, ensure_ascii=False, default=str))
        return
    typer.echo(s.text)
    typer.echo(
        f"\n# spec {s.path}: sha256 {s.sha256[:16]}, {info['sections']} sections, "
        f"{info['tokens']} tokens ({tokenizer})",
        err=True,
    )
    for p in s.unknown_placeholders:
        typer.echo(f"# line {p.line}: unknown placeholder {{{p.name}}} left as written", err=True)


@spec_app.command("sections")
def spec_sections(
    spec: SpecArg,
    model_name: ModelNameOpt = None,
    provider_name: ProviderNameOpt = None,
    literal_name: LiteralNameOpt = None,
    tokenizer: TokenizerOpt = "embedded",
    as_json: JsonOpt = False,
) -> None:
    """List sections (split at headings) with line ranges and token counts."""
    # lazy: pulls Inspect
    from msm.gen.listgen import clean_item

    s = _load(spec, model_name, provider_name, tokenizer, literal_name)
    if as_json:
        rows = [
            {
                k: getattr(x, k)
                for k in ("id", "title", "level", "path", "start_line", "end_line", "tokens")
            }
            for x in s.sections
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{'lines':>11}  {'tokens':>6}  section")
    for x in s.sections:
        indent = "  " * max(0, x.level - 1)
        title = clean_item(x.title, 200)  # no terminal escapes from a spec file
        typer.echo(f"{x.start_line:>5}-{x.end_line:<5}  {x.tokens:>6}  {indent}{title}  [{x.id}]")
    total = sum(x.tokens for x in s.sections)
    typer.echo(f"{len(s.sections)} sections, {total} tokens ({tokenizer} tokenizer)")


@spec_app.command("lint")
def spec_lint(
    spec: SpecArg,
    model_name: ModelNameOpt = None,
    provider_name: ProviderNameOpt = None,
    literal_name: LiteralNameOpt = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Exit 1 if the score is below this (0-100)."),
    ] = None,
    top: Annotated[
        int,
        typer.Option("--top", min=0, help="List at most this many bare directives (0: all)."),
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List directives given without a reason (judged by their own sentence and the
    next) and print the score: 100 * explained directives / directives."""

    s = _load(spec, model_name, provider_name, "approx", literal_name)
    report = lint_spec(s)
    bare = report.bare
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "score": round(report.score, 1),
                    "score_formula": "100 * explained / directives (100 when directives is 0)",
                    "directives": report.directives,
                    "explained": report.explained,
                    "bare": len(bare),
                    "warnings": [w.__dict__ for w in report.warnings],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        shown = bare if top == 0 else bare[:top]
        for w in sorted(
            [*shown, *(w for w in report.warnings if w.kind != "unexplained-directive")],
            key=lambda w: w.line,
        ):
            typer.echo(f"{s.path}:{w.line}: {w.kind}: {w.message}")
        if len(shown) < len(bare):
            typer.echo(f"... {len(bare) - len(shown)} more bare directives (--top 0 lists all)")
        if report.directives == 0:
            typer.echo(
                "score 100/100: no directives found (nothing to explain); "
                f"{len(report.warnings)} other warnings"
            )
        else:
            typer.echo(
                f"score {report.score:.0f}/100 = 100 * {report.explained} explained / "
                f"{report.directives} directives (a reason in the directive's sentence or the "
                f"next); {len(bare)} bare, {len(report.warnings) - len(bare)} other warnings"
            )
    if min_score is not None and report.score < min_score:
        raise typer.Exit(1)


@spec_app.command("list")
def spec_list() -> None:
    """List the bundled example specs (use them as builtin:<name>)."""

    for name in builtin_specs():
        typer.echo(f"builtin:{name}")


@models_app.command("list")
def models_list() -> None:
    """Show the bundled model and the model-name patterns msm accepts."""

    for m in list_models():
        typer.echo(f"{m.name:<10} {m.description}\n{'':<10} location: {m.location}")
    typer.echo(
        "\nname patterns: embedded | fake | fake/<script.yaml> | hf/<folder-or-id> | "
        "anthropic/<model> | openai/<model> | openai-api/<service>/<model> | vllm/<model>"
    )
