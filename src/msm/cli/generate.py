"""``msm generate``, ``msm docgen``, ``msm aftgen`` and ``msm aftgen subset``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from msm.cli._common import (
    JsonOpt,
    LiteralNameOpt,
    ModelNameOpt,
    ProviderNameOpt,
    SpecArg,
    TokenizerOpt,
    _explicit_params,
    _print_preview,
    app,
)
from msm.errors import MsmError


@app.command("generate")
def generate(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")] = "embedded",
    system: Annotated[str | None, typer.Option("--system", help="System message.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 256,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, help="0 = greedy.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=256, help="Samples (batched).")] = 1,
    store: Annotated[
        Path | None, typer.Option("--store", help="Result store (SQLite) to reuse answers.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a completion. Several samples (--n) are generated concurrently."""
    import asyncio

    from msm.llm import LLM, GenConfig

    if not prompt.strip():
        raise MsmError("empty prompt")
    if store is not None and store.is_dir():
        raise MsmError(f"--store must be a file path, not a directory: {store}")
    llm = LLM(model, gen=GenConfig(max_tokens=max_tokens, temperature=temperature), store=store)

    async def run() -> list[Any]:
        return await asyncio.gather(
            *[llm.generate(prompt, sample=i, system=system, allow_truncated=True) for i in range(n)]
        )

    outs = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps([o.model_dump() for o in outs], indent=2, ensure_ascii=False))
    else:
        for i, o in enumerate(outs):
            if n > 1:
                typer.echo(f"--- sample {i}")
            typer.echo(o.text)
    for i, o in enumerate(outs):
        if o.truncated:
            typer.echo(
                f"msm: warning: sample {i} was cut at the {max_tokens}-token limit (truncated)",
                err=True,
            )


@app.command("docgen")
def docgen(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Generator model.")] = "embedded",
    preview: Annotated[
        bool, typer.Option("--preview", help="Plan only; print projected documents/tokens/cost.")
    ] = False,
    mode: Annotated[str, typer.Option("--mode", help="values | rules")] = "values",
    planner: Annotated[str, typer.Option("--planner", help="structure | llm")] = "structure",
    model_name: Annotated[
        str, typer.Option("--model-name", help="Name of the model the documents are about.")
    ] = "the assistant",
    provider_name: Annotated[
        str, typer.Option("--provider-name", help="Its developer.")
    ] = "its developer",
    literal_name: LiteralNameOpt = None,
    n_assertions: Annotated[int, typer.Option("--n-assertions", help="Per subdomain.")] = 4,
    n_doc_types: Annotated[int, typer.Option("--n-doc-types", help="Per assertion.")] = 3,
    n_ideas: Annotated[int, typer.Option("--n-ideas", help="Per (assertion, doc type).")] = 2,
    docs_per_idea: Annotated[int, typer.Option("--docs-per-idea")] = 1,
    doc_types_from: Annotated[
        str, typer.Option("--doc-types-from", help="catalogue | llm")
    ] = "catalogue",
    ideas_from: Annotated[
        str, typer.Option("--ideas-from", help="llm | template (fixed angles; fast)")
    ] = "llm",
    doc_words: Annotated[int, typer.Option("--doc-words", help="Target words per document.")] = 250,
    max_tokens_doc: Annotated[int, typer.Option("--max-tokens-doc")] = 900,
    judge: Annotated[
        str | None, typer.Option("--judge", help="Optional fidelity judge model (fails closed).")
    ] = None,
    judge_criterion: Annotated[str | None, typer.Option("--judge-criterion")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Global limit.")] = 16,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.8,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    tokenizer: TokenizerOpt = "embedded",
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML with DocgenConfig fields (flags win).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Generate an MSM document corpus from a spec (or --preview its plan and cost)."""
    from msm.config_io import build_config
    from msm.docgen import DocgenConfig, run_docgen

    flags = dict(
        spec=spec,
        model=model,
        mode=mode,
        planner=planner,
        model_name=model_name,
        provider_name=provider_name,
        literal_name=literal_name,
        n_assertions=n_assertions,
        n_doc_types=n_doc_types,
        n_ideas=n_ideas,
        docs_per_idea=docs_per_idea,
        doc_types_from=doc_types_from,
        ideas_from=ideas_from,
        doc_words=doc_words,
        max_tokens_doc=max_tokens_doc,
        judge=judge,
        judge_criterion=judge_criterion,
        concurrency=concurrency,
        temperature=temperature,
        seed=seed,
    )
    cfg = build_config(DocgenConfig, config, flags, _explicit_params())
    result = run_docgen(cfg, out, preview=preview, quiet=quiet, tokenizer=tokenizer)
    if preview:
        _print_preview(cfg.model, result)
        return
    typer.echo(
        f"docgen: kept {result['documents_kept']} of {result['documents_generated']} documents "
        f"({result['tokens']['total']} tokens) -> {out / 'documents.jsonl'}"
    )
    if result["drops"]:
        typer.echo("drops: " + ", ".join(f"{k}={v}" for k, v in result["drops"].items()))


@app.command("aftgen")
def aftgen(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    n: Annotated[int, typer.Option("--n", help="Number of examples to keep.")],
    kind: Annotated[str, typer.Option("--kind", help="chat | preference")] = "chat",
    model: Annotated[str, typer.Option("--model", "-m", help="Generator (chat).")] = "embedded",
    style: Annotated[
        str, typer.Option("--style", help="value | rule | deliberative (chat)")
    ] = "value",
    judge: Annotated[
        str | None, typer.Option("--judge", help="Judge model (chat; fails closed).")
    ] = None,
    extra_criterion: Annotated[
        str | None, typer.Option("--extra-criterion", help="Extra criterion for the judge.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency")] = 16,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    model_name: ModelNameOpt = None,
    provider_name: ProviderNameOpt = None,
    literal_name: LiteralNameOpt = None,
    mix: Annotated[
        Path | None, typer.Option("--mix", help="Instruction-tuning JSONL to mix in.")
    ] = None,
    mix_ratio: Annotated[
        float, typer.Option("--mix-ratio", help="Mix examples per AFT example (0.25 = +25%).")
    ] = 0.0,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML with AftgenConfig fields (flags win).")
    ] = None,
) -> None:
    """Build AFT data (`msm aftgen subset DIR --sizes ...` makes nested subsets)."""
    from msm.aftgen import AftgenConfig, run_aftgen
    from msm.config_io import build_config

    flags: dict[str, Any] = {
        "spec": spec,
        "kind": kind,
        "n": n,
        "seed": seed,
        "model": model,
        "style": style,
        "judge": judge,
        "extra_criterion": extra_criterion,
        "concurrency": concurrency,
        "mix": str(mix) if mix else None,
        "mix_ratio": mix_ratio,
        "model_name": model_name or "the assistant",
        "provider_name": provider_name or "its developer",
        "literal_name": literal_name,
    }
    cfg = build_config(AftgenConfig, config, flags, _explicit_params())
    stats = run_aftgen(cfg, out)
    if cfg.kind == "preference":
        typer.echo(
            f"aftgen: {stats['examples']} examples ({stats['main_examples']} preference, "
            f"{stats['mix_examples']} mix-in), order-balanced: {stats['balanced']} -> "
            f"{out / 'stripped.jsonl'}"
        )
        return
    typer.echo(
        f"aftgen: kept {stats['main_examples']} of {cfg.n} wanted (+{stats['mix_examples']} "
        f"mix-in) -> {out / 'cot.jsonl'}, {out / 'stripped.jsonl'}"
    )
    if stats.get("drops"):
        typer.echo("drops: " + ", ".join(f"{k}={v}" for k, v in stats["drops"].items()))


@app.command("aftgen-subset", hidden=True)
def aftgen_subset(
    folder: Annotated[Path, typer.Argument(help="An aftgen output folder.")],
    sizes: Annotated[str, typer.Option("--sizes", help="e.g. 100,200,400")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Nested subsets of AFT data for data-size sweeps."""
    from msm.aftgen import make_subsets, parse_sizes

    res = make_subsets(folder, parse_sizes(sizes), seed)
    for n, path in res["subsets"].items():
        typer.echo(f"n={n}: {path}")
