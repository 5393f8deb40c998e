"""Run one node of the plan: its stage function over its bound config, with its state
recorded in the run folder (``msm.experiment.node_state``).

A rerun skips a ``done`` node with the same hash; a node whose hash changed is cleared
and run again; a node killed while ``running`` with the same hash resumes (docgen and
aftgen from their call stores, training from its checkpoints, evaluation from scratch).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msm._util.fsutil import atomic_write_json
from msm.aftgen.run import run_aftgen
from msm.aftgen.subset import make_subsets
from msm.artifacts.checkpoint import Checkpoint, work_dir_for
from msm.artifacts.outdir import STORE_FILES
from msm.artifacts.run_folder import RunFolder
from msm.docgen.subset import check_sizes, ensure_corpus_subset
from msm.errors import MsmError
from msm.evalgen.run import run_evalgen
from msm.evals.run import run_eval
from msm.experiment.config import Experiment
from msm.experiment.node_state import node_status, state_path
from msm.experiment.plan import TRAINING, Node, NodeKind
from msm.train.checkpoint import merged_for_use
from msm.train.engine import run_train
from msm.train.launch import launch_accelerate

if TYPE_CHECKING:
    from msm.aftgen.config import AftgenConfig
    from msm.docgen.config import DocgenConfig
    from msm.evalgen.config import EvalgenConfig
    from msm.evals.config import EvalConfig
    from msm.train.config import TrainConfig

Echo = Callable[[str], None]
# a node kind's stage: (node, its config with every input bound, its folder, echo); the
# config is typed per stage below, so the table holds them as taking any config
Stage = Callable[[Node, Any, Path, Echo], None]


def run_node(exp: Experiment, run: Path, node: Node, by_id: dict[str, Node], echo: Echo) -> float:
    """Run one node whose dependencies are done (the caller holds its claim): clear what a
    changed hash or a killed eval left, record ``running`` then ``done`` with the wall
    times in ``RUN/state/<node>.json``. Returns the seconds it took."""
    status = node_status(run, node)
    if status == "stale" or (status == "resume" and node.kind == "eval"):
        _clear(run / node.path)
    started = time.time()
    state = {"hash": node.hash, "started": round(started, 3)}
    atomic_write_json(state_path(run, node), {**state, "status": "running"})
    t = time.monotonic()
    _execute(exp, run, node, by_id, echo)
    secs = time.monotonic() - t
    atomic_write_json(
        state_path(run, node),
        {**state, "status": "done", "seconds": round(secs, 2), "finished": round(time.time(), 3)},
    )
    return secs


def _clear(path: Path) -> None:
    """Remove a node's output, but keep its LLM call store (``.msm/llm.sqlite``): a node
    stale for a real reason then pays only for the calls that changed."""
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


def _corpus(node: Node, cfg: DocgenConfig, path: Path, echo: Echo) -> None:
    from msm.docgen.run import run_docgen  # lazy: pulls Inspect, which a dry run never needs

    res = run_docgen(cfg, path, quiet=False)
    echo(f"        {res.documents_kept} documents kept, {res.tokens} tokens")
    if not res.documents_kept:
        raise MsmError(f"{node.id}: the generator produced no usable documents")
    sizes = node.meta.get("dose_sizes")
    if sizes:  # a dose study: its sizes must be smaller than what was kept
        try:
            check_sizes(sizes, res.documents_kept)
        except MsmError as e:
            raise MsmError(f"{node.id}: {e}") from None


def _aftdata(node: Node, cfg: AftgenConfig, path: Path, echo: Echo) -> None:
    sizes = node.extra["sizes"]
    res = run_aftgen(cfg, path)
    if res.examples < sizes[-1]:
        raise MsmError(
            f"{node.id}: only {res.examples} AFT examples, fewer than the largest size {sizes[-1]}"
        )
    make_subsets(path, sizes, node.extra["subset_seed"])
    echo(f"        {res.examples} AFT examples; subsets {sizes}")


def _evalgen(node: Node, cfg: EvalgenConfig, path: Path, echo: Echo) -> None:
    res = run_evalgen(cfg, path)
    echo(f"        {res.questions} spec QA questions, {res.choices} behavioural choices kept")


def _train(node: Node, cfg: TrainConfig, path: Path, echo: Echo) -> None:
    docs = node.extra.get("corpus_docs")
    if docs:  # a dose study's subset, written on first use (the same for every seed)
        try:
            stats = ensure_corpus_subset(Path(cfg.data).parents[2], docs, node.extra["subset_seed"])
        except MsmError as e:
            raise MsmError(f"{node.id}: {e}") from None
        echo(f"        {docs} of {stats['of']} documents, {stats['sections']} sections")
    if cfg.launcher == "accelerate":
        launch_accelerate(cfg, path)
        return
    res = run_train(cfg, path, echo=lambda s: None)  # the runner prints its own lines
    loss = res.final_loss
    if loss is not None:
        echo(
            f"        {res.steps} steps, {res.label_tokens_seen} trained tokens "
            f"({res.tokens_seen} with padding), final loss {loss:.4f}"
        )


def _eval(node: Node, cfg: EvalConfig, path: Path, echo: Echo) -> None:
    source = node.meta.get("same_as")
    if source:  # a deterministic eval of the base model, done for another seed: its copy
        run = path.parents[len(Path(node.path).parts) - 1]  # path is run / node.path
        _copy_result(RunFolder(run).node(source), path)
        echo(f"        same as {source} (deterministic): its result copied, nothing run")
        return
    run_eval(cfg, path, echo=lambda s: echo(f"        {s}"))


def _copy_result(source: Path, dest: Path) -> None:
    """Copy a finished eval folder (hard links where the file system allows), atomically:
    the copy appears complete or not at all."""
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
STAGES: dict[NodeKind, Stage] = {
    "corpus": _corpus,
    "aftdata": _aftdata,
    "evalgen": _evalgen,
    "midtrain": _train,
    "aft": _train,
    "eval": _eval,
}


def _execute(exp: Experiment, run: Path, node: Node, by_id: dict[str, Node], echo: Echo) -> None:
    path = run / node.path
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = node.bound(run, by_id)
    trained = _trained_model_dep(run, node, by_id)
    # a checkpoint saved as an adapter only is merged for its eval and the copy removed
    # after it, unless vLLM serves the adapter itself (``vllm/BASE:ADAPTER``)
    served_as_adapter = trained is not None and str(cfg.model).endswith(
        ":" + str(Checkpoint(trained).adapter_dir.resolve())
    )
    merged: AbstractContextManager[Any] = nullcontext()
    if trained is not None and not served_as_adapter:
        merged = merged_for_use(trained, echo=lambda s: echo(f"        {s}"))
    with merged:
        STAGES[node.kind](node, cfg, path, echo)


def _trained_model_dep(run: Path, node: Node, by_id: dict[str, Node]) -> Path | None:
    """The training node folder an eval node evaluates (None: the base model)."""
    if node.kind != "eval" or not node.deps:
        return None
    dep = by_id[node.deps[0]]
    return run / dep.path if dep.kind in TRAINING else None
