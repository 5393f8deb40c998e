"""``msm generate``, ``msm docgen``, ``msm aftgen``, ``msm aftgen subset`` and ``msm evalgen``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

import msm.evalgen as evalgen_stage
from msm.aftgen import make_subsets, parse_sizes
from msm.aftgen.config import AftgenConfig
from msm.aftgen.plan import spec_target_warning
from msm.cli._common import (
    JsonOpt,
    OutDirOpt,
    OverwriteOpt,
    PreviewOpt,
    TokenizerOpt,
    _fmt_cost,
    app,
)
from msm.cli.config_flags import Flag, config_command
from msm.docgen.config import DocgenConfig
from msm.errors import MsmError
from msm.evalgen.config import EvalgenConfig


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

    # lazy: the client pulls Inspect
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


def _print_docgen_preview(cfg: DocgenConfig, p: dict[str, Any]) -> None:
    """The projection of ``msm docgen --preview``, every estimate marked with '~'."""

    def count(key: str) -> str:
        return ("" if p["exact"].get(key) else "~") + f"{p[key]:,}"

    def cost(c: float | None) -> str:
        return _fmt_cost(c) if c is None else "~" + _fmt_cost(c)

    calls = p["calls_by_stage"]
    typer.echo(
        "preview: projected from the settings; no model was called and nothing was written "
        "('~' marks an estimate, other counts are exact)"
    )
    typer.echo(
        f"plan: {count('units')} subdomains -> {count('assertions')} assertions -> "
        f"{count('ideas')} ideas"
    )
    typer.echo(f"projected documents: {count('documents')} (before the filters drop any)")
    judged = f", {calls['judge']:,} judge" if "judge" in calls else ""
    typer.echo(
        f"projected LLM calls: ~{p['llm_calls']:,} ({p['planning_calls']:,} planning, "
        f"{calls.get('documents', 0):,} documents{judged})"
    )
    typer.echo(
        f"projected tokens: ~{p['input_tokens']:,} in, ~{p['output_tokens']:,} out "
        f"({p['estimate_basis']})"
    )
    paid = "batch price, " if cfg.batch else ""
    typer.echo(
        f"projected cost with {cfg.model}: {cost(p['generator_cost_usd'])} "
        f"({paid}shared prompt prefix read from the provider's cache where it is cached)"
    )
    if cfg.judge:
        typer.echo(f"projected judge cost with {cfg.judge}: {cost(p['judge_cost_usd'])}")


@config_command(
    app,
    "docgen",
    DocgenConfig,
    flags={"spec": Flag(argument=True), "model": Flag(short="-m")},
)
def docgen(
    cfg: DocgenConfig,
    out: OutDirOpt,
    preview: PreviewOpt = False,
    tokenizer: TokenizerOpt = "embedded",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Generate an MSM document corpus from a spec (or --preview its plan and cost)."""
    # lazy: pulls Inspect
    from msm.docgen.run import check_out, preview_docgen, run_docgen

    check_out(out)
    if preview:
        _print_docgen_preview(cfg, preview_docgen(cfg))  # costs nothing, writes nothing
        return
    result = run_docgen(cfg, out, quiet=quiet, tokenizer=tokenizer, overwrite=overwrite)
    typer.echo(
        f"docgen: kept {result.documents_kept} of {result.documents_generated} documents "
        f"({result.tokens} tokens) -> {out / 'documents.jsonl'}"
    )
    drops = result.stats["drops"]
    if drops:
        typer.echo("drops: " + ", ".join(f"{k}={v}" for k, v in drops.items()))


@config_command(
    app,
    "aftgen",
    AftgenConfig,
    flags={"spec": Flag(argument=True), "model": Flag(short="-m"), "mix": Flag(path=True)},
)
def aftgen(
    cfg: AftgenConfig,
    out: OutDirOpt,
    overwrite: OverwriteOpt = False,
) -> None:
    """Build AFT data (`msm aftgen subset DIR --sizes ...` makes nested subsets)."""
    # lazy: pulls Inspect
    from msm.aftgen import run_aftgen

    warning = spec_target_warning(cfg, empty=False)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    res = run_aftgen(cfg, out, overwrite=overwrite)
    stats = res.stats
    if res.kind == "preference":
        typer.echo(
            f"aftgen: {res.examples} examples ({stats['main_examples']} preference, "
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


@config_command(
    app,
    "evalgen",
    EvalgenConfig,
    flags={"spec": Flag(argument=True), "model": Flag(short="-m")},
)
def evalgen(
    cfg: EvalgenConfig,
    out: OutDirOpt,
    preview: PreviewOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write a spec's own evaluations: spec QA questions with rubrics, behavioural choices
    (a reply that follows the spec, one that breaks it) and belief statements (each against
    minimally altered false versions), judge-checked. Use them with
    `msm eval MODEL --suite spec_qa --questions OUT/questions.jsonl`,
    `msm eval MODEL --items OUT/choices.jsonl` and
    `msm eval MODEL --suite spec_belief --beliefs OUT/beliefs.jsonl`."""
    if preview:
        p = evalgen_stage.preview_evalgen(cfg)  # the package loads its names on first use
        typer.echo(
            "preview: projected from the settings (at most: before any re-ask); no model was "
            "called and nothing was written"
        )
        c = p["candidates"]
        typer.echo(
            f"{p['sections']} sections -> {c['questions']:,} question and {c['choices']:,} "
            "choice candidates" + (f", {c['beliefs']:,} belief candidates" if c["beliefs"] else "")
        )
        for role, r in p["calls"].items():
            typer.echo(
                f"{role} {r['model']}: {r['calls']:,} calls, ~{r['input_tokens']:,} tokens in, "
                f"~{r['output_tokens']:,} out, ~{_fmt_cost(r['cost_usd'])}"
            )
        if not cfg.judge:
            typer.echo("warning: no --judge: items are kept unchecked (give one)", err=True)
        return
    if not cfg.judge:
        typer.echo(
            "warning: no --judge: items are not checked for being answerable from the spec, "
            "leaking their answer or contradicting the spec",
            err=True,
        )
    res = evalgen_stage.run_evalgen(cfg, out, overwrite=overwrite)
    typer.echo(
        f"evalgen: kept {res.questions} questions -> {res.files['questions']}, "
        f"{res.choices} choices -> {res.files['choices']}"
        + (
            f", {res.beliefs} belief statements ({res.stats['belief_rows']} pairs) -> "
            f"{res.files['beliefs']}"
            if cfg.n_beliefs
            else ""
        )
    )
    if res.stats["drops"]:
        typer.echo("drops: " + ", ".join(f"{k}={v}" for k, v in res.stats["drops"].items()))


@app.command("aftgen-subset", hidden=True)
def aftgen_subset(
    folder: Annotated[Path, typer.Argument(help="An aftgen output folder.")],
    sizes: Annotated[str, typer.Option("--sizes", help="e.g. 100,200,400")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace subsets drawn with another seed or from other data."
        ),
    ] = False,
) -> None:
    """Nested subsets of AFT data for data-size sweeps."""

    res = make_subsets(folder, parse_sizes(sizes), seed, overwrite)
    for n, path in res["subsets"].items():
        typer.echo(f"n={n}: {path}")
