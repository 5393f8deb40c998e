"""``msm eval``, ``msm run``, ``msm report``, ``msm demo`` and ``msm version``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from msm import __version__
from msm.cli._common import OverwriteOpt, app
from msm.cli.config_flags import Flag, config_command
from msm.demo import run_demo
from msm.errors import MsmError
from msm.evals.config import EvalConfig
from msm.report.export import export_run, push_export
from msm.study.init import init_experiment

# the order ``msm eval --help`` lists the flags in (the shared settings are declared on
# EvalSettings, so pydantic puts them before EvalConfig's own)
EVAL_FLAG_ORDER = (
    "model",
    "suite",
    "items",
    "beliefs",
    "questions",
    "grader",
    "grader2",
    "regrade_action_only",
    "spec_reasoning",
    "spec",
    "batch",
    "batch_wait_s",
    "limit",
    "split",
    "epochs",
    "spec_qa_epochs",
    "seed",
    "grid",
    "scenarios",
    "goals",
    "urgency",
    "scratchpad",
    "templates",
    "model_name",
    "exfil_rule",
    "temperature",
    "agent_names",
    "temperatures",
    "max_tokens",
    "scoring",
    "baseline",
    "tensor_parallel_size",
    "max_model_len",
    "gpu_memory_utilization",
)


@config_command(
    app,
    "eval",
    EvalConfig,
    flags={
        "model": Flag(argument=True),
        "scenarios": Flag(alias="--scenario"),
        "goals": Flag(alias="--goal"),
        "model_name": Flag(alias="--agent-name", help="agentic: the agent's name in prompts"),
        "templates": Flag(path=True),
    },
    order=EVAL_FLAG_ORDER,
)
def eval_cmd(
    cfg: EvalConfig,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("eval-out"),
    overwrite: OverwriteOpt = False,
) -> None:
    """Evaluate a model with msm's Inspect tasks; writes summary.json and Inspect logs."""
    from msm.evals.run import run_eval  # lazy: pulls Inspect

    run_eval(cfg, out, echo=typer.echo, overwrite=overwrite)
    typer.echo(f"eval: summary -> {out / 'summary.json'}")


@app.command("run")
def run_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment.yaml")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (rerun to resume).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and projections; run nothing.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Run only the nodes whose id matches this glob (repeatable; * matches / too: "
            "'midtrain/*', 'eval/*/s0'); dependencies are not pulled in.",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", help="I/N: every N-th selected node from the I-th (0-based), for array jobs."
        ),
    ] = None,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Run up to N ready nodes side by side.")
    ] = 1,
    gpus_per_node: Annotated[
        int | None,
        typer.Option(
            "--gpus-per-node",
            min=1,
            help="--parallel: GPUs per node (default: what the node asks for, else 1).",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0,
            help="Stop before the first call when the API calls still to make are projected "
            "to cost more than this many dollars (default 100), or an unknown amount.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Run whatever the projected API cost.")
    ] = False,
) -> None:
    """Run a whole MSM study: corpora, AFT data, training, evals, report."""
    # lazy: the runner pulls torch and Inspect
    from msm.experiment import dry_run_experiment, run_experiment

    # lazy: pulls Inspect
    from msm.experiment.schedule import RunOptions, parse_shard

    options = RunOptions(tuple(only or ()), parse_shard(shard), parallel, gpus_per_node)
    if dry_run:
        dry_run_experiment(experiment, out, echo=typer.echo, options=options)
        return
    run_experiment(experiment, out, echo=typer.echo, options=options, max_cost=max_cost, yes=yes)


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder made by msm run.")],
) -> None:
    """(Re)build report.md and report.html from a run's manifests and eval logs."""
    # lazy: the report stack, only for msm report
    from msm.report.build import build_report

    rep = build_report(run)
    typer.echo(f"report: {rep['md']}\nreport: {rep['html']}")
    for line in rep.get("headline", []):
        typer.echo(f"  {line}")


@app.command("demo")
def demo(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the demo's files (runs/demo, runs/demo-quick)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Every stage at toy size: a smoke test (minutes).")
    ] = False,
) -> None:
    """The cheese experiment on the bundled model (CPU, offline, ~30 min); rerun resumes."""

    out = out or Path("runs/demo-quick" if quick else "runs/demo")
    out.parent.mkdir(parents=True, exist_ok=True)
    run_demo(out, echo=typer.echo, quick=quick)


@app.command("init")
def init_cmd(
    spec: Annotated[str, typer.Argument(help="Your spec: a Markdown/text file or builtin:<name>.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The experiment file to write.")],
    scale: Annotated[
        str,
        typer.Option(
            "--scale",
            help="laptop: the bundled model on a CPU; paper: the paper's recipe (GPUs, API "
            "generator and grader)",
        ),
    ] = "laptop",
    model_name: Annotated[
        str | None,
        typer.Option("--model-name", help="The model the documents are about (unset: the spec's)."),
    ] = None,
    evals: Annotated[
        str | None,
        typer.Option(
            "--evals",
            help="Where msm evalgen writes the spec's evaluations (unset: runs/<spec>-evals).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented experiment for your spec (then: msm evalgen, msm run --dry-run)."""

    path = init_experiment(spec, out, scale, model_name, evals, force)
    typer.echo(f"init: {path} ({scale} scale); next, as its first lines say:")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#   msm "):
            typer.echo("  " + line[4:])


@app.command("version")
def version() -> None:
    """Print the msm version."""

    typer.echo(__version__)


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder made by msm run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The folder to write the export to.")],
    push: Annotated[
        str | None,
        typer.Option(
            "--push",
            metavar="ORG",
            help="Upload each folder to ORG/<run>-<name> on the Hugging Face Hub (private "
            "repos; needs HF_TOKEN or `huggingface-cli login`).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be written and uploaded; write nothing."),
    ] = False,
) -> None:
    """Each corpus, AFT data set and evalgen set as a Hugging Face dataset folder (Parquet and
    a dataset card), each checkpoint with a model card; --push uploads them."""
    token = None
    if push is not None:
        from huggingface_hub import get_token  # lazy: only an upload needs it

        token = get_token()
        if token is None and not dry_run:
            planned = export_run(run, out, dry_run=True)
            raise MsmError(
                f"--push {push}: no Hugging Face token (set HF_TOKEN or run `huggingface-cli "
                f"login`); it would upload {len(planned.items)} folders: add --dry-run to list "
                "them"
            )
    res = export_run(run, out, dry_run=dry_run)
    verb = "would write" if dry_run else "wrote"
    for item in res.items:
        where = "datasets" if item.kind == "dataset" else "models"
        typer.echo(f"{verb} {out / where / item.name}  ({item.kind}, from {item.node})")
    if push is not None:
        repos = push_export(res, push, token=None if dry_run else token, echo=typer.echo)
        if dry_run or token is None:
            for repo in repos:
                typer.echo(f"would upload to {repo}")
    if not dry_run:
        typer.echo(f"export: {out} ({len(res.items)} folders)")
