"""Reading a run directory: ``run.json``, eval summaries flattened into metrics, seed pooling.

Everything here only reads. Paths handed back for traceability are relative to the
run directory (POSIX style) whenever the file lies inside it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from msm.artifacts.run_folder import RunFolder
from msm.errors import MsmError
from msm.evals.stats import t95
from msm.report.metric import (
    AGENTIC_METRICS,
    Metric,
    interval,
    number,
    opt_int,
    rate_metric,
)
from msm.report.pressure import pressure_metrics
from msm.report.variants import variant_metrics
from msm.study.conditions import CONDITIONS

# the order conditions are listed in, and which AFT-only condition each MSM one is paired with
CONDITION_ORDER = CONDITIONS
EFFICIENCY_PAIRS = {
    "msm_aft": "aft_only",
    "msm_aft_cot": "aft_cot",
}


# --------------------------------------------------------------------------
# files


def read_json(path: Path, what: str | None = None) -> Any:
    """Parsed JSON from ``path``; an unreadable or corrupt file is an MsmError naming it."""
    name = what or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MsmError(f"{name} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MsmError(f"cannot read {name}: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MsmError(f"{name} is not valid JSON ({e.msg} at line {e.lineno})") from None


def rel(path: Path, run_dir: Path) -> str:
    """``path`` relative to ``run_dir`` when inside it, else as given (POSIX)."""
    try:
        return path.resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


# --------------------------------------------------------------------------
# run.json


@dataclass(frozen=True)
class Node:
    """One node of ``run.json``."""

    id: str
    kind: str
    path: str
    status: str
    condition: str | None = None
    label: str | None = None
    spec: str | None = None
    aft_size: int | None = None
    seed: int | None = None
    raw: dict[str, Any] = dc_field(default_factory=dict, compare=False, repr=False)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def folder(self, run_dir: Path) -> Path:
        return run_dir / self.path

    @property
    def display(self) -> str:
        """The label to group evals by: ``label``, else the condition, else the id."""
        return self.label or self.condition or self.id


@dataclass(frozen=True)
class Run:
    run_dir: Path
    experiment: dict[str, Any]
    headline_metric: str | None
    nodes: list[Node]
    config: dict[str, Any] = dc_field(default_factory=dict)  # the experiment, as run

    @property
    def name(self) -> str:
        return str(self.experiment.get("name") or self.run_dir.name)


def _opt_str(x: Any) -> str | None:
    return None if x is None else str(x)


def load_run(run_dir: Path) -> Run:
    """Parse ``run_dir/run.json``; MsmError when it is missing, corrupt or not a run."""
    path = RunFolder(run_dir).run_json
    if not run_dir.is_dir():
        raise MsmError(f"run directory not found: {run_dir}")
    data = read_json(path, str(path))
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise MsmError(f"{path} is not a run description (expected an object with a 'nodes' list)")
    nodes: list[Node] = []
    for i, raw in enumerate(data["nodes"]):
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("kind"):
            raise MsmError(f"{path}: node #{i} lacks an 'id' or 'kind'")
        if not isinstance(raw.get("path"), str) or not raw["path"]:
            raise MsmError(f"{path}: node {raw['id']!r} has no 'path'")
        nodes.append(
            Node(
                id=str(raw["id"]),
                kind=str(raw["kind"]),
                path=raw["path"],
                status=str(raw.get("status") or "pending"),
                condition=_opt_str(raw.get("condition")),
                label=_opt_str(raw.get("label")),
                spec=_opt_str(raw.get("spec")),
                aft_size=opt_int(raw.get("aft_size")),
                seed=opt_int(raw.get("seed")),
                raw=raw,
            )
        )
    exp = data.get("experiment")
    hm = data.get("headline_metric")
    return Run(
        run_dir=run_dir,
        experiment=exp if isinstance(exp, dict) else {},
        headline_metric=str(hm) if hm else None,
        nodes=nodes,
        config=data["config"] if isinstance(data.get("config"), dict) else {},
    )


# --------------------------------------------------------------------------
# summary.json -> metrics


def flatten_summary(summary: Any) -> dict[str, Metric]:
    """Every metric in an ``msm eval`` summary, keyed by name.

    ``values.<set>`` (value-consistent choice, higher better), ``values.<set>.change_from_base``
    (loglik: per-item change of the gap from the base model, nats/token), the same two for
    ``spec_belief.<set>`` (the spec's statement over its altered version) with
    ``spec_belief_open.<set>`` and ``spec_belief_challenge.<set>`` (grades), ``spec_qa.<set>``
    (grade, higher better), ``capability.perplexity`` (lower better, no interval),
    ``agentic.<m>`` and ``agentic.<m>@<scenario>/<goal>`` for ``m`` in classifier_verdict,
    harmful, attempt (rates, lower better); with the robustness axes also
    ``agentic.<m>~<variant>`` per agent name and temperature (``variant_metrics``); with the
    robustness suite ``robustness.<m>~<variant>`` and more (``pressure_metrics``).
    Unknown or malformed parts are skipped.
    """
    out: dict[str, Metric] = {}
    if not isinstance(summary, dict):
        return out
    parts = (_values_metrics, _belief_metrics, _spec_qa_metrics, _capability_metrics,
             _agentic_metrics)  # fmt: skip
    for part in parts:
        for m in part(summary):
            if m is not None:
                out[m.name] = m
    out.update(variant_metrics(summary.get("agentic_variants")))
    out.update(pressure_metrics(summary))
    return out


def _mean_metric(
    name: str, part: Any, count: str, source: str, extra: dict[str, Any] | None = None
) -> Metric | None:
    """A higher-is-better mean with its interval from a summary part, if it is a mapping."""
    if not isinstance(part, dict):
        return None
    mean, ci, n = number(part.get("mean")), interval(part.get("ci95")), opt_int(part.get(count))
    return Metric(name, mean, ci, n, True, source, extra or {})


def _values_metrics(summary: dict[str, Any], kind: str = "values") -> Iterable[Metric | None]:
    values = summary.get(kind)
    for s, res in (values if isinstance(values, dict) else {}).items():
        if not isinstance(res, dict):
            continue
        yield _mean_metric(
            f"{kind}.{s}", res.get("value_preference"), "items", f"{kind}.{s}.value_preference"
        )
        # loglik scoring of a trained model: the per-item change of the gap (nats/token)
        # from the base model, which cancels each option's prior likelihood
        ch = res.get("change_from_baseline")
        yield _mean_metric(
            f"{kind}.{s}.change_from_base",
            ch.get("gap_per_token") if isinstance(ch, dict) else None,
            "items",
            f"{kind}.{s}.change_from_baseline.gap_per_token",
            {"unit": "nats/token"},
        )


def _belief_metrics(summary: dict[str, Any]) -> Iterable[Metric | None]:
    """spec_belief's sets read as value sets; its judged versions as spec QA grades."""
    yield from _values_metrics(summary, "spec_belief")
    for mode in ("open", "challenge"):
        yield from _spec_qa_metrics(summary, f"spec_belief_{mode}")


def _spec_qa_metrics(summary: dict[str, Any], kind: str = "spec_qa") -> Iterable[Metric | None]:
    spec_qa = summary.get(kind)
    for s, res in (spec_qa if isinstance(spec_qa, dict) else {}).items():
        if isinstance(res, dict):
            extra = {"grader_errors": opt_int(res.get("grader_errors"))}
            name, source = f"{kind}.{s}", f"{kind}.{s}.grade"
            yield _mean_metric(name, res.get("grade"), "answers", source, extra)


def _capability_metrics(summary: dict[str, Any]) -> Iterable[Metric | None]:
    cap = summary.get("capability")
    if isinstance(cap, dict) and "perplexity" in cap:
        name = "capability.perplexity"  # lower is better; one number, no interval
        ppl, tokens = number(cap.get("perplexity")), opt_int(cap.get("tokens"))
        yield Metric(name, ppl, None, tokens, False, name)


def _agentic_metrics(summary: dict[str, Any]) -> Iterable[Metric | None]:
    ag = summary.get("agentic")
    if not isinstance(ag, dict):
        return
    overall = ag.get("overall")
    if isinstance(overall, dict):
        extra = {
            "grader_errors": opt_int(overall.get("grader_errors")),
            "samples": opt_int(overall.get("samples")),
        }
        for m in AGENTIC_METRICS:
            yield rate_metric(f"agentic.{m}", overall.get(m), f"agentic.overall.{m}", extra)
    by_cond = ag.get("by_condition")
    for cond, r in (by_cond if isinstance(by_cond, dict) else {}).items():
        if isinstance(r, dict):
            extra = {"grader_errors": opt_int(r.get("grader_errors"))}
            for m in AGENTIC_METRICS:
                name, source = f"agentic.{m}@{cond}", f"agentic.by_condition.{cond}.{m}"
                yield rate_metric(name, r.get(m), source, extra)


def metric_kind(name: str) -> str:
    """The family of a metric name: ``values``, ``spec_qa``, ``capability`` or ``agentic``."""
    return name.split(".", 1)[0]


# --------------------------------------------------------------------------
# evals and seed pooling


@dataclass(frozen=True)
class EvalResult:
    node: Node
    source: str  # summary.json, relative to the run directory
    metrics: dict[str, Metric]


def load_evals(run: Run) -> tuple[list[EvalResult], list[str]]:
    """Done eval nodes with their metrics, and notes on done evals that lack a summary."""
    results: list[EvalResult] = []
    notes: list[str] = []
    for node in run.nodes:
        if node.kind != "eval" or not node.done:
            continue
        path = node.folder(run.run_dir) / "summary.json"
        if not path.is_file():
            notes.append(f"eval {node.id} is marked done but has no summary.json; left out")
            continue
        src = rel(path, run.run_dir)
        summary = read_json(path, src)
        results.append(EvalResult(node, src, flatten_summary(summary)))
    return results, notes


@dataclass(frozen=True)
class SeedStats:
    """Values pooled across seeds: mean, 95% interval, spread."""

    mean: float
    ci95: tuple[float, float] | None
    sd: float | None
    min: float
    max: float
    k: int
    method: str  # "eval" (one seed: its own interval, items only) or "seeds" (t over seeds)


def pool_seeds(values: Sequence[float], own_ci: tuple[float, float] | None = None) -> SeedStats:
    """Pool one metric across ``k`` seeds.

    One seed: its value and its own eval interval (``own_ci``). Several seeds: the mean
    across seeds with the t interval mean +- t(k-1) * sd / sqrt(k), ``sd`` the sample standard
    deviation. Raises ValueError on an empty list.
    """
    if not values:
        raise ValueError("no values to pool")
    k = len(values)
    if k == 1:
        v = float(values[0])
        return SeedStats(v, own_ci, None, v, v, 1, "eval")
    m = statistics.fmean(values)
    sd = statistics.stdev(values)
    half = t95(k - 1) * sd / math.sqrt(k)
    return SeedStats(m, (m - half, m + half), sd, min(values), max(values), k, "seeds")


@dataclass(frozen=True)
class GroupKey:
    label: str
    aft_size: int | None


@dataclass(frozen=True)
class Aggregate:
    """One metric for one (label, AFT size), pooled over its seeds."""

    key: GroupKey
    condition: str | None
    spec: str | None
    metric: str
    higher_is_better: bool
    stats: SeedStats | None  # None when no seed had a value
    seeds: list[int | None]
    per_seed: list[float | None]
    n: list[int | None]
    sources: list[str]
    extra: dict[str, Any]


def condition_rank(condition: str | None) -> int:
    return (
        CONDITION_ORDER.index(condition) if condition in CONDITION_ORDER else len(CONDITION_ORDER)
    )


def group_evals(results: Iterable[EvalResult]) -> dict[GroupKey, list[EvalResult]]:
    """Evals grouped by (label, AFT size), in display order (condition, label, size)."""
    groups: dict[GroupKey, list[EvalResult]] = {}
    for r in results:
        groups.setdefault(GroupKey(r.node.display, r.node.aft_size), []).append(r)
    for rs in groups.values():
        rs.sort(key=lambda r: (r.node.seed is None, r.node.seed or 0, r.source))

    def order(item: tuple[GroupKey, list[EvalResult]]) -> tuple[Any, ...]:
        k, rs = item
        return (condition_rank(rs[0].node.condition), k.label, k.aft_size or 0)

    return dict(sorted(groups.items(), key=order))


def aggregate(key: GroupKey, results: Sequence[EvalResult], metric: str) -> Aggregate | None:
    """``metric`` pooled over the seeds in ``results``; None when no eval reports it."""
    have = [r for r in results if metric in r.metrics]
    if not have:
        return None
    mets = [r.metrics[metric] for r in have]
    vals = [m.mean for m in mets if m.mean is not None]
    # a lone value keeps its own eval interval (also when other seeds reported nothing)
    own = next(m.ci95 for m in mets if m.mean is not None) if len(vals) == 1 else None
    stats = pool_seeds(vals, own) if vals else None
    extra: dict[str, Any] = {}
    errs = [m.extra.get("grader_errors") for m in mets]
    if any(e is not None for e in errs):
        extra["grader_errors"] = sum(e or 0 for e in errs)
    node = have[0].node
    return Aggregate(
        key=key,
        condition=node.condition,
        spec=node.spec,
        metric=metric,
        higher_is_better=mets[0].higher_is_better,
        stats=stats,
        seeds=[r.node.seed for r in have],
        per_seed=[m.mean for m in mets],
        n=[m.n for m in mets],
        sources=[r.source for r in have],
        extra=extra,
    )
