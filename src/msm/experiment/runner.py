"""``msm run``: execute an experiment's plan, skipping what is already done.

State lives in ``RUN/state/<node>.json``: written when a node starts
(``running``) and again when it finishes (``done``), each time with the node's
hash. On a rerun a ``done`` node with the same hash is skipped; a node whose
hash changed is cleared and run again; a node killed while ``running`` with the
same hash resumes (docgen and aftgen from their call stores, training from its
checkpoints, evaluation from scratch).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msm._util.fsutil import atomic_write_json, atomic_write_text
from msm.errors import MsmError
from msm.experiment.claims import locked
from msm.experiment.config import Experiment, load_experiment
from msm.experiment.plan import Node, build_plan
from msm.experiment.preflight import check_inputs, environment_problems

if TYPE_CHECKING:
    from msm.experiment.schedule import RunOptions

# rough relative cost of each kind, used for the ETA until real durations exist
_PRIOR_S = {"corpus": 150.0, "aftdata": 5.0, "midtrain": 120.0, "aft": 60.0, "eval": 90.0}


def _state_path(run: Path, node: Node) -> Path:
    return run / "state" / (node.id.replace("/", "__") + ".json")


def _read_state(run: Path, node: Node) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(_state_path(run, node).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def node_status(run: Path, node: Node) -> str:
    """done | resume | stale | todo."""
    st = _read_state(run, node)
    if st is None:
        return "todo"
    if st.get("hash") != node.hash:
        return "stale"
    return "done" if st.get("status") == "done" else "resume"


def _write_run_json(run: Path, exp: Experiment, exp_path: Path, plan: list[Node]) -> None:
    # several processes may share the run folder: each write reads every state file under
    # the lock, so the last one written holds the newest view
    with locked(run / "state" / "run-json.lock"):
        _write_run_json_now(run, exp, exp_path, plan)


def _write_run_json_now(run: Path, exp: Experiment, exp_path: Path, plan: list[Node]) -> None:
    nodes = []
    for n in plan:
        st = node_status(run, n)
        nodes.append(
            {
                "id": n.id,
                "kind": n.kind,
                "path": n.path,
                "hash": n.hash,
                "deps": n.deps,
                "status": "done" if st == "done" else ("pending" if st == "todo" else st),
                **{k: v for k, v in n.meta.items()},
            }
        )
    headline = exp.report.headline_metric or _default_headline(exp)
    atomic_write_json(
        run / "run.json",
        {
            "experiment": {"name": exp.name, "sha256": exp.sha256(), "path": "experiment.yaml"},
            "source": str(exp_path),
            "headline_metric": headline,
            "config": exp.model_dump(),
            "nodes": nodes,
        },
    )


PROJECTION = "projection.json"  # msm.report.sections.cost reads it


def write_projection(run: Path, exp: Experiment, plan: list[Node]) -> None:
    """The dry run's projection of the whole plan, before anything is measured, beside
    run.json: the report compares each node's cost and time with it (the report never
    re-plans the experiment). Written once per experiment version: a resumed run keeps the
    projection made before its first node ran."""
    path = run / PROJECTION
    sha = exp.sha256()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("experiment_sha256") == sha:
            return
    except (OSError, ValueError, AttributeError):
        pass
    from msm.experiment.projection.project import project

    try:
        body: dict[str, Any] = {"nodes": project(exp, plan)["nodes"]}
    except (MsmError, OSError, ValueError, KeyError, TypeError) as e:  # say why, run anyway
        body = {"nodes": None, "why": " ".join(str(e).split())[:200]}
    atomic_write_json(path, {"experiment_sha256": sha, **body})


def _default_headline(exp: Experiment) -> str:
    if "agentic" in exp.eval.suites:  # the paper's metric; harmful and attempt sit beside it
        return "agentic.classifier_verdict"
    if "values" in exp.eval.suites:
        items = exp.eval.items or ["cheese_america"]
        return f"values.{items[0]}"
    if "spec_qa" in exp.eval.suites:
        return f"spec_qa.{exp.eval.questions}"
    return "capability.perplexity"


def _fmt_s(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Line-based live progress: plan position, current stage, elapsed and ETA."""

    def __init__(self, plan: list[Node], todo: list[Node], echo: Any) -> None:
        self.total = len(plan)
        self.todo = list(todo)
        self.done_s: dict[str, list[float]] = {}
        self.echo = echo
        self.t0 = time.monotonic()
        self.i = len(plan) - len(todo)

    def eta(self, remaining: list[Node]) -> float:
        est = 0.0
        for n in remaining:
            seen = self.done_s.get(n.kind)
            est += sum(seen) / len(seen) if seen else _PRIOR_S.get(n.kind, 30.0)
        return est

    def start(self, node: Node) -> None:
        self.i += 1
        remaining = self.todo[self.todo.index(node) :]
        self.echo(
            f"[{self.i}/{self.total}] {node.kind:<8} {node.id}  (elapsed "
            f"{_fmt_s(time.monotonic() - self.t0)}, ETA ~{_fmt_s(self.eta(remaining))})"
        )

    def finish(self, node: Node, seconds: float) -> None:
        self.done_s.setdefault(node.kind, []).append(seconds)
        self.echo(f"        done in {_fmt_s(seconds)}")


def run_experiment(
    exp_path: str | Path,
    out: str | Path,
    *,
    dry_run: bool = False,
    echo: Any = print,
    options: RunOptions | None = None,
    max_cost: float | None = None,
    yes: bool = False,
) -> dict[str, Any]:
    """Run (or with ``dry_run`` only print) the experiment into ``out``; ``options``:
    which nodes (``--only``, ``--shard``) and how many side by side (``--parallel``).

    A real run whose API calls would cost more than ``max_cost`` dollars (default $100,
    ``msm.experiment.spend``) stops before the first call unless ``yes``."""
    exp_path = Path(exp_path)
    exp = load_experiment(exp_path)
    run = Path(out)
    plan = build_plan(exp)
    # the same checks for both: a dry run refuses whatever the real run would refuse
    check_inputs(exp, plan, run)
    from msm.experiment.schedule import RunOptions, run_selected

    options = options or RunOptions()
    chosen = options.select(plan)  # a bad --only or --shard fails before anything is written
    if dry_run:
        return dry_run_report(exp, plan, run, echo)
    problems = environment_problems(exp, plan)  # fail now, not after the corpora
    if problems:
        raise MsmError(problems[0])
    from msm.experiment.spend import check_spend

    known = (run / "run.json").is_file()
    mine = {n.id for n in chosen}  # --only / --shard: what this process would pay for
    statuses = {
        n.id: (node_status(run, n) if known else "todo") if n.id in mine else "done" for n in plan
    }
    check_spend(exp, plan, run, statuses, max_cost, yes, echo)  # before anything is written
    run.mkdir(exist_ok=True)
    text = exp_path.read_text(encoding="utf-8")
    atomic_write_text(run / "experiment.yaml", text)
    _write_run_json(run, exp, exp_path, plan)
    write_projection(run, exp, plan)
    todo = [n for n in plan if node_status(run, n) != "done"]
    echo(
        f"msm run {exp.name}: {len(plan)} nodes, {len(plan) - len(todo)} already done, "
        f"{len(todo)} to run -> {run}"
    )
    kinds: dict[str, list[int]] = {}
    for n in plan:
        kinds.setdefault(n.kind, [0, 0])[0 if n in todo else 1] += 1
    echo(
        "plan: "
        + ", ".join(f"{k} {v[0] + v[1]} ({v[1]} done)" for k, v in kinds.items())
        + "  (msm run --dry-run lists every node)"
    )
    sel = run_selected(exp, exp_path, run, plan, chosen, echo, options)
    if sel.waiting:  # selected nodes that could not run: say which, exit non-zero
        raise MsmError(sel.waiting_line())
    left = [n for n in plan if node_status(run, n) != "done"]
    if left:  # --only or --shard: the rest of the plan is another process's
        echo(
            f"msm run: ran {len(sel.ran)} selected nodes; {len(left)} nodes of the plan are "
            f"not done yet (the report is built when they are; msm report {run} builds one "
            "from what is done)"
        )
        return {"run": str(run), "nodes": len(plan), "ran": len(sel.ran), "report": None}
    from msm.report.build import build_report

    with locked(run / "state" / "report.lock"):  # the last shards may finish together
        rep = build_report(run)
    echo(f"msm run: finished in {_fmt_s(time.monotonic() - sel.t0)}; report -> {rep['html']}")
    for line in rep.get("headline", []):
        echo(f"  {line}")
    return {"run": str(run), "nodes": len(plan), "ran": len(sel.ran), "report": rep}


def run_node(exp: Experiment, run: Path, node: Node, by_id: dict[str, Node], echo: Any) -> float:
    """Run one node whose dependencies are done (the caller holds its claim): clear what a
    changed hash or a killed eval left, record ``running`` then ``done`` with the wall
    times in ``RUN/state/<node>.json``. Returns the seconds it took."""
    status = node_status(run, node)
    if status == "stale" or (status == "resume" and node.kind == "eval"):
        _clear(run / node.path)
    started = time.time()
    state = {"hash": node.hash, "started": round(started, 3)}
    atomic_write_json(_state_path(run, node), {**state, "status": "running"})
    t = time.monotonic()
    _execute(exp, run, node, by_id, echo)
    secs = time.monotonic() - t
    atomic_write_json(
        _state_path(run, node),
        {**state, "status": "done", "seconds": round(secs, 2), "finished": round(time.time(), 3)},
    )
    return secs


def _clear(path: Path) -> None:
    """Remove a node's output, but keep its LLM call store (``.msm/llm.sqlite``): a node
    stale for a real reason then pays only for the calls that changed."""
    from msm.artifacts.checkpoint import work_dir_for
    from msm.artifacts.outdir import STORE_FILES

    for p in (path, work_dir_for(path)):
        if not p.is_dir():
            continue
        store = [p / ".msm" / f for f in STORE_FILES if (p / ".msm" / f).is_file()]
        if not store:
            shutil.rmtree(p)
            continue
        doomed = [c for c in p.iterdir() if c.name != ".msm"]
        doomed += [c for c in (p / ".msm").iterdir() if c not in store]
        for child in doomed:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _corpus(node: Node, cfg: Any, path: Path, echo: Any) -> None:
    from msm.docgen import run_docgen

    stats = run_docgen(cfg, path, quiet=False)
    echo(f"        {stats['documents_kept']} documents kept, {stats['tokens']['total']} tokens")
    if not stats["documents_kept"]:
        raise MsmError(f"{node.id}: the generator produced no usable documents")


def _aftdata(node: Node, cfg: Any, path: Path, echo: Any) -> None:
    from msm.aftgen import make_subsets, run_aftgen

    sizes = node.extra["sizes"]
    st = run_aftgen(cfg, path)
    if st["examples"] < sizes[-1]:
        raise MsmError(
            f"{node.id}: only {st['examples']} AFT examples, fewer than the largest size "
            f"{sizes[-1]}"
        )
    make_subsets(path, sizes, node.extra["subset_seed"])
    echo(f"        {st['examples']} AFT examples; subsets {sizes}")


def _train(node: Node, cfg: Any, path: Path, echo: Any) -> None:
    from msm.train import run_train
    from msm.train.launch import launch_accelerate

    if cfg.launcher == "accelerate":
        launch_accelerate(cfg, path)
        return
    man = run_train(cfg, path, echo=lambda s: None)  # the runner prints its own lines
    loss = man.get("final_loss")
    if isinstance(loss, float):
        echo(
            f"        {man.get('steps')} steps, {man.get('label_tokens_seen')} trained tokens "
            f"({man.get('tokens_seen')} with padding), final loss {loss:.4f}"
        )


def _eval(node: Node, cfg: Any, path: Path, echo: Any) -> None:
    from msm.evals.run import run_eval

    source = node.meta.get("same_as")
    if source:  # a deterministic eval of the base model, done for another seed: its copy
        run = path.parents[len(Path(node.path).parts) - 1]  # path is run / node.path
        _copy_result(run / "nodes" / source, path)
        echo(f"        same as {source} (deterministic): its result copied, nothing run")
        return
    run_eval(cfg, path, echo=lambda s: echo(f"        {s}"))


def _copy_result(source: Path, dest: Path) -> None:
    """Copy a finished eval folder (hard links where the file system allows), atomically:
    the copy appears complete or not at all."""
    import os

    tmp = dest.with_name(dest.name + ".copying")
    if tmp.exists():
        shutil.rmtree(tmp)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, tmp, copy_function=link)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


# node kind -> the stage function that runs it (the plan builds each node's config)
STAGES: dict[str, Any] = {
    "corpus": _corpus,
    "aftdata": _aftdata,
    "midtrain": _train,
    "aft": _train,
    "eval": _eval,
}


def _execute(exp: Experiment, run: Path, node: Node, by_id: dict[str, Node], echo: Any) -> None:
    from contextlib import nullcontext

    from msm.artifacts.checkpoint import Checkpoint
    from msm.train.checkpoint import merged_for_use

    path = run / node.path
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = node.bound(run, by_id)
    trained = _trained_model_dep(run, node, by_id)
    # a checkpoint saved as an adapter only is merged for its eval and the copy removed
    # after it, unless vLLM serves the adapter itself (``vllm/BASE:ADAPTER``)
    served_as_adapter = trained is not None and str(cfg.model).endswith(
        ":" + str(Checkpoint(trained).adapter_dir.resolve())
    )
    merged: Any = nullcontext()
    if trained is not None and not served_as_adapter:
        merged = merged_for_use(trained, echo=lambda s: echo(f"        {s}"))
    with merged:
        STAGES[node.kind](node, cfg, path, echo)


def _trained_model_dep(run: Path, node: Node, by_id: dict[str, Node]) -> Path | None:
    """The training node folder an eval node evaluates (None: the base model)."""
    if node.kind != "eval" or not node.deps:
        return None
    dep = by_id[node.deps[0]]
    return run / dep.path if dep.kind in ("midtrain", "aft") else None


def dry_run_report(exp: Experiment, plan: list[Node], run: Path, echo: Any) -> dict[str, Any]:
    """Print the plan with what it will cost: calls by role, tokens, dollars, disk, time."""
    from msm.experiment.projection.dryrun import report

    statuses = {
        n.id: (node_status(run, n) if (run / "run.json").is_file() else "todo") for n in plan
    }
    return report(exp, plan, run, statuses, echo)
