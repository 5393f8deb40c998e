"""The ``msm`` command line: a thin wrapper over the library's stage functions.

Every failure the user can cause ends as one line on stderr and a non-zero exit.
Heavy imports (torch, transformers, inspect) happen inside commands, so
``msm --help`` and ``msm spec ...`` stay fast.
"""

from __future__ import annotations

import errno
import json
import os
import sys
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


def _load(spec: str, model_name: str | None, provider_name: str | None, tokenizer: str) -> Any:
    from msm.spec import load_spec
    from msm.specs_builtin import resolve_spec_path

    return load_spec(resolve_spec_path(spec), model_name, provider_name, _counter(tokenizer))


@spec_app.command("show")
def spec_show(
    spec: SpecArg,
    model_name: ModelNameOpt = None,
    provider_name: ProviderNameOpt = None,
    tokenizer: TokenizerOpt = "approx",
    as_json: JsonOpt = False,
) -> None:
    """Print the templated spec with its hash and size."""
    s = _load(spec, model_name, provider_name, tokenizer)
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
    tokenizer: TokenizerOpt = "embedded",
    as_json: JsonOpt = False,
) -> None:
    """List sections (split at headings) with line ranges and token counts."""
    from msm.listgen import clean_item

    s = _load(spec, model_name, provider_name, tokenizer)
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
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Exit 1 if the score is below this (0-100)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Warn about directives given without reasons; print a summary score."""
    from msm.speclint import lint_spec

    s = _load(spec, model_name, provider_name, "approx")
    report = lint_spec(s)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "score": round(report.score, 1),
                    "directive_sections": report.directive_sections,
                    "explained_sections": report.explained_sections,
                    "warnings": [w.__dict__ for w in report.warnings],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for w in report.warnings:
            typer.echo(f"{s.path}:{w.line}: {w.kind}: {w.message}")
        typer.echo(
            f"score {report.score:.0f}/100: {report.explained_sections} of "
            f"{report.directive_sections} sections with directives explain why; "
            f"{len(report.warnings)} warnings"
        )
    if min_score is not None and report.score < min_score:
        raise typer.Exit(1)


@spec_app.command("list")
def spec_list() -> None:
    """List the bundled example specs (use them as builtin:<name>)."""
    from msm.specs_builtin import builtin_specs

    for name in builtin_specs():
        typer.echo(f"builtin:{name}")


@models_app.command("list")
def models_list() -> None:
    """Show the bundled model and the model-name patterns msm accepts."""
    from msm.models import list_models

    for m in list_models():
        typer.echo(f"{m.name:<10} {m.description}\n{'':<10} location: {m.location}")
    typer.echo(
        "\nname patterns: embedded | fake | fake/<script.yaml> | hf/<folder-or-id> | "
        "anthropic/<model> | openai/<model> | openai-api/<service>/<model> | vllm/<model>"
    )


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


BaseOpt = Annotated[
    str,
    typer.Option("--base", help="embedded, a model folder, a cached hub id, or an msm checkpoint."),
]
TrainOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")]
MethodOpt = Annotated[str, typer.Option("--method", help="lora | full")]
LrOpt = Annotated[float, typer.Option("--lr", help="Learning rate.")]
EpochsOpt = Annotated[float, typer.Option("--epochs")]
MaxLenOpt = Annotated[int, typer.Option("--max-length", help="Tokens per sequence.")]
MicroOpt = Annotated[
    int, typer.Option("--micro-batch-size", help="Rows per process per micro-step.")
]
AccumOpt = Annotated[int, typer.Option("--grad-accum", help="Micro-steps per optimizer step.")]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens")]
PrecisionOpt = Annotated[str, typer.Option("--precision", help="auto | fp32 | bf16")]
SaveEveryOpt = Annotated[int | None, typer.Option("--save-every", help="Checkpoint every N steps.")]
ReportToOpt = Annotated[
    list[str] | None, typer.Option("--report-to", help="tensorboard | wandb | mlflow (repeatable).")
]
LauncherOpt = Annotated[str, typer.Option("--launcher", help="none | accelerate")]
AccCfgOpt = Annotated[
    Path | None,
    typer.Option("--accelerate-config", help="accelerate config YAML (multi-GPU etc.)."),
]
TrainCfgOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML with TrainConfig fields (flags win).")
]
MixOpt = Annotated[Path | None, typer.Option("--mix", help="JSONL to mix in.")]
MixRatioOpt = Annotated[float, typer.Option("--mix-ratio", help="Mix rows per data row.")]


def _train(stage: str, out: Path, flags: dict[str, Any], config: Path | None) -> None:
    from msm.config_io import build_config
    from msm.train import TrainConfig, run_train
    from msm.train.launch import launch_accelerate

    explicit = _explicit_params()
    renames = {"lr": "learning_rate", "docs": "data"}
    explicit = {renames.get(k, k) for k in explicit}
    flags = {renames.get(k, k): v for k, v in flags.items()}
    flags["stage"] = stage
    explicit.add("stage")
    for k in ("mix", "accelerate_config", "data"):
        if flags.get(k) is not None:
            flags[k] = str(flags[k])
    if flags.get("report_to") is None:
        flags["report_to"] = []
    cfg = build_config(TrainConfig, config, flags, explicit)
    if cfg.launcher == "accelerate":
        ran = launch_accelerate(cfg, out)
        typer.echo(f"train: {'done' if ran else 'already complete'} -> {out}")
        return
    man = run_train(cfg, out)
    loss = man.get("final_loss")
    typer.echo(
        f"train {stage}: {man.get('steps')} steps, {man.get('tokens_seen')} tokens, final loss "
        f"{loss:.4f} -> {out}"
        if isinstance(loss, float)
        else f"train {stage}: -> {out}"
    )


@train_app.command("midtrain")
def train_midtrain(
    base: BaseOpt,
    docs: Annotated[Path, typer.Option("--docs", help="documents.jsonl from msm docgen.")],
    out: TrainOutOpt,
    method: MethodOpt = "lora",
    lr: LrOpt = 1e-4,
    epochs: EpochsOpt = 1.0,
    max_length: MaxLenOpt = 1024,
    micro_batch_size: MicroOpt = 4,
    grad_accum: AccumOpt = 1,
    max_steps: MaxStepsOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    precision: PrecisionOpt = "auto",
    save_every: SaveEveryOpt = None,
    report_to: ReportToOpt = None,
    mix: MixOpt = None,
    mix_ratio: MixRatioOpt = 0.0,
    launcher: LauncherOpt = "none",
    accelerate_config: AccCfgOpt = None,
    config: TrainCfgOpt = None,
) -> None:
    """Midtrain: next-token loss on every document token, EOS between documents."""
    flags = dict(locals())
    for k in ("out", "config"):
        flags.pop(k)
    _train("midtrain", out, flags, config)


@train_app.command("aft")
def train_aft(
    base: BaseOpt,
    data: Annotated[
        Path, typer.Option("--data", help="cot.jsonl or stripped.jsonl from msm aftgen.")
    ],
    out: TrainOutOpt,
    method: MethodOpt = "lora",
    fresh_adapter: Annotated[
        bool, typer.Option("--fresh-adapter", help="New LoRA on the merged checkpoint.")
    ] = False,
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="A LoRA adapter folder to keep training.")
    ] = None,
    system_prompt: Annotated[
        str | None, typer.Option("--system-prompt", help="For examples without one.")
    ] = None,
    lr: LrOpt = 1e-4,
    epochs: EpochsOpt = 1.0,
    max_length: MaxLenOpt = 1024,
    micro_batch_size: MicroOpt = 4,
    grad_accum: AccumOpt = 1,
    max_steps: MaxStepsOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    precision: PrecisionOpt = "auto",
    save_every: SaveEveryOpt = None,
    report_to: ReportToOpt = None,
    mix: MixOpt = None,
    mix_ratio: MixRatioOpt = 0.0,
    launcher: LauncherOpt = "none",
    accelerate_config: AccCfgOpt = None,
    config: TrainCfgOpt = None,
) -> None:
    """AFT: chat template, loss on assistant tokens; continues the midtraining adapter."""
    flags = dict(locals())
    for k in ("out", "config"):
        flags.pop(k)
    if flags["adapter"] is not None:
        flags["adapter"] = str(flags["adapter"])
    _train("aft", out, flags, config)


@app.command("eval")
def eval_cmd(
    model: Annotated[
        str, typer.Argument(help="embedded, hf/<folder>, fake or fake/<script>, an API model...")
    ],
    suite: Annotated[
        str, typer.Option("--suite", help="agentic | values | spec_qa | capability | all")
    ] = "values",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("eval-out"),
    items: Annotated[
        list[str] | None,
        typer.Option(
            "--items", help="Value item sets or JSONL files (repeatable); default: all bundled."
        ),
    ] = None,
    questions: Annotated[
        str, typer.Option("--questions", help="Spec QA question set or JSONL file.")
    ] = "equanimity",
    grader: Annotated[
        str | None,
        typer.Option("--grader", help="Grader model (required for agentic and spec_qa)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most N samples per task.")
    ] = None,
    epochs: Annotated[
        int, typer.Option("--epochs", help="Samples per item (the paper: 300 for agentic).")
    ] = 1,
    scenarios: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="agentic: blackmail, leaking, murder, exfiltration (repeatable; default all).",
        ),
    ] = None,
    goals: Annotated[
        list[str] | None,
        typer.Option(
            "--goal",
            help="agentic goal condition TYPE-VALUE, e.g. explicit-america, none-none "
            "(repeatable; default both of those).",
        ),
    ] = None,
    urgency: Annotated[
        str, typer.Option("--urgency", help="agentic: replacement | restriction | none.")
    ] = "replacement",
    scratchpad: Annotated[
        bool, typer.Option("--scratchpad/--no-scratchpad", help="agentic: offer a scratchpad.")
    ] = True,
    model_name: Annotated[
        str | None, typer.Option("--agent-name", help="agentic: the agent's name in prompts.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", help="agentic sampling temperature (0.7).")
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", help="agentic answer length (2048; 512 for local models)."),
    ] = None,
) -> None:
    """Evaluate a model with msm's Inspect tasks; writes summary.json and Inspect logs."""
    from msm.evals.run import run_eval

    run_eval(
        model,
        suite,
        out,
        items=items,
        questions=questions,
        grader=grader,
        limit=limit,
        epochs=epochs,
        scenarios=scenarios,
        goals=goals,
        urgency=urgency,
        scratchpad=scratchpad,
        model_name=model_name,
        temperature=temperature,
        max_tokens=max_tokens,
        echo=typer.echo,
    )
    typer.echo(f"eval: summary -> {out / 'summary.json'}")


@app.command("run")
def run_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment.yaml")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (rerun to resume).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and projections; run nothing.")
    ] = False,
) -> None:
    """Run a whole MSM study: corpora, AFT data, training, evals, report."""
    from msm.experiment import run_experiment

    run_experiment(experiment, out, dry_run=dry_run, echo=typer.echo)


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder made by msm run.")],
) -> None:
    """(Re)build report.md and report.html from a run's manifests and eval logs."""
    from msm.report.build import build_report

    rep = build_report(run)
    typer.echo(f"report: {rep['md']}\nreport: {rep['html']}")
    for line in rep.get("headline", []):
        typer.echo(f"  {line}")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the demo's files.")] = Path(
        "runs/demo"
    ),
) -> None:
    """The cheese experiment on the bundled model (CPU, offline, ~20 min); rerun resumes."""
    from msm.demo import run_demo

    out.parent.mkdir(parents=True, exist_ok=True)
    run_demo(out, echo=typer.echo)


@app.command("version")
def version() -> None:
    """Print the msm version."""
    from msm import __version__

    typer.echo(__version__)


# OSErrors caused by the machine rather than by msm: reported like MsmError, in one line
_ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EIO", "EFBIG", "EACCES", "EPERM", "EMFILE", "ENFILE")
    if hasattr(errno, name)
)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, meaningful exit codes."""
    # typer >= 0.2x vendors click and raises its own exception classes
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
    from typer.exceptions import Abort, Exit

    debug = bool(os.environ.get("MSM_DEBUG"))
    try:
        args = list(argv if argv is not None else sys.argv[1:])
        if args[:2] == ["aftgen", "subset"]:
            # `msm aftgen SPEC ...` and `msm aftgen subset DIR ...` share a name
            args = ["aftgen-subset", *args[2:]]
        rv = typer.main.get_command(app).main(
            args=args,
            prog_name="msm",
            standalone_mode=False,
        )
        sys.exit(rv if isinstance(rv, int) else 0)
    except Exit as e:
        sys.exit(e.exit_code)
    except NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx is not None else e.format_message())
        sys.exit(2)
    except UsageError as e:
        path = e.ctx.command_path.replace("aftgen-subset", "aftgen subset") if e.ctx else ""
        hint = f" (see '{path} --help')" if path else ""
        print(f"msm: error: {' '.join(e.format_message().split())}{hint}", file=sys.stderr)
        sys.exit(2)
    except Abort:
        print("msm: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("msm: interrupted", file=sys.stderr)
        sys.exit(130)
    except MsmError as e:
        if debug:
            raise
        print(f"msm: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: say so in one line, traceback on request
        if debug:
            raise
        if isinstance(e, OSError) and e.errno in _ENVIRONMENT_ERRNOS:
            # not a bug: the machine refused (disk full, read-only, no permission)
            reason = " ".join((e.strerror or os.strerror(e.errno or 0)).split())
            where = f": {e.filename}" if e.filename else ""
            print(f"msm: error: {reason}{where}", file=sys.stderr)
            sys.exit(MsmError.exit_code)
        msg = " ".join(str(e).split())[:300] or type(e).__name__
        print(
            f"msm: internal error: {type(e).__name__}: {msg} "
            "(rerun with MSM_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
