"""``msm eval``, ``msm run``, ``msm report``, ``msm demo`` and ``msm version``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from msm.cli._common import _explicit_params, app


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
    grid: Annotated[
        str | None,
        typer.Option(
            "--grid",
            help="agentic: a named grid instead of --scenario/--goal. paper: exfiltration, "
            "leaking, murder x none-none and explicit- america, global, safety, acceleration, "
            "ethical, pragmatic, individualism, collectivism (27 conditions), urgency "
            "replacement, temperature 0.7.",
        ),
    ] = None,
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
        float | None,
        typer.Option("--temperature", help="agentic sampling temperature (0.7; also the grid's)."),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", help="agentic answer length (4096; 512 for local models)."),
    ] = None,
    scoring: Annotated[
        str,
        typer.Option(
            "--scoring",
            help="values: loglik (option texts scored as the answer; local models), letter "
            "(A/B in both orders), auto (loglik where the model is local).",
        ),
    ] = "auto",
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="values, loglik: report each item's change of the gap from this model.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML with EvalConfig fields (flags override it)."),
    ] = None,
) -> None:
    """Evaluate a model with msm's Inspect tasks; writes summary.json and Inspect logs."""
    flags = dict(locals())
    for k in ("out", "config"):
        flags.pop(k)
    from msm.config_io import build_config
    from msm.evals.run import EvalConfig, run_eval

    cfg = build_config(EvalConfig, config, flags, _explicit_params() | {"model"})
    run_eval(cfg, out, echo=typer.echo)
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
