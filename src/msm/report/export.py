"""``msm export``: a run's data and models as folders others can load.

Every finished corpus, AFT data set and evalgen set of a run becomes a Hugging Face dataset
folder (Parquet shards under ``data/``, a dataset card ``README.md`` whose front matter names
the files, so ``datasets.load_dataset(folder)`` reads them offline, and
``msm_provenance.json``); every finished checkpoint becomes a model folder (the merged model
at the top, loadable by ``transformers``; the LoRA adapter in ``adapter/``, loadable by
``peft``; an adapter-only checkpoint is the adapter at the top) with a model card. Provenance
is read from the manifests: the spec and its sha256, generator and judge, prompt hashes,
filters and drop counts, per-document hierarchy fields, base model, stages, data hashes and
the eval summary. The export is written beside ``--out`` and renamed into place whole, so an
interrupted export leaves nothing behind. ``push`` uploads each folder with
``huggingface_hub``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json
from msm._util.records import read_jsonl
from msm.artifacts.manifest import read_manifest
from msm.errors import MsmError
from msm.report.load import Node, Run, flatten_summary, load_run

EXPORT_FILE = "export.json"  # marks a folder as an msm export (a rerun may replace it)
TAGS = ["msm", "model-spec-midtraining", "synthetic"]
# the JSONL files of each data node kind, by dataset config name
_DATA_FILES = {
    "corpus": {"default": "documents.jsonl"},
    "aftdata": {"stripped": "stripped.jsonl", "cot": "cot.jsonl"},
    "evalgen": {"questions": "questions.jsonl", "choices": "choices.jsonl"},
}
_DESCRIBE = {
    "corpus": "Synthetic documents that discuss a Model Spec (MSM midtraining data)",
    "aftdata": "Alignment fine-tuning (AFT) demonstrations written from a Model Spec",
    "evalgen": "Evaluations written from a Model Spec: spec QA questions and choices",
}


@dataclass
class Exported:
    """One folder of the export: a dataset or a model, and where it was read from."""

    kind: str  # dataset | model
    name: str
    node: str
    files: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    out: Path
    run_name: str
    items: list[Exported]


def export_run(run_dir: Path, out: Path, *, dry_run: bool = False) -> ExportResult:
    """Export every finished data and training node of ``run_dir`` into ``out``.

    Example::

        res = export_run(Path("runs/demo"), Path("exports/demo"))
        print([i.name for i in res.items])
    """
    run = load_run(run_dir)
    done = [n for n in run.nodes if n.done]
    items = [_planned(n) for n in done if n.kind in _DATA_FILES or _is_training(n)]
    if not items:
        raise MsmError(f"{run_dir}: no finished corpus, data set or checkpoint to export")
    _check_target(out)
    if dry_run:
        return ExportResult(out, run.name, items)
    tmp = out.with_name(f".{out.name}.msm-export")
    if tmp.exists():
        shutil.rmtree(tmp)  # what an interrupted export left
    tmp.mkdir(parents=True)
    try:
        for item in items:
            node = next(n for n in done if n.id == item.node)
            if item.kind == "dataset":
                _write_dataset(run, node, tmp / "datasets" / item.name, item)
            else:
                _write_model(run, node, tmp / "models" / item.name, item)
        atomic_write_json(
            tmp / EXPORT_FILE,
            {
                "run": str(run_dir.resolve()),
                "experiment": run.experiment,
                "items": [vars(i) for i in items],
            },  # fmt: skip
        )
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, run.name, items)


def _is_training(n: Node) -> bool:
    return n.kind in ("midtrain", "aft")


def _planned(n: Node) -> Exported:
    """What a finished node exports as: its id, dashed, names the folder."""
    name = "-".join(p for p in n.id.split("/") if p)
    return Exported("dataset" if n.kind in _DATA_FILES else "model", name, n.id)


def _check_target(out: Path) -> None:
    """``out`` may be new, empty, or an earlier msm export (replaced whole); anything else
    is refused before anything is written."""
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out {out} is a file: give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_FILE).is_file():
        raise MsmError(
            f"--out {out} exists with other content (not an msm export): choose a new folder"
        )


def _replace(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an earlier export there goes only once the new one is in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.with_name(f".{out.name}.msm-export-old")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    if old.exists():
        shutil.rmtree(old)


# -- datasets ----------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl(path, "exported data file")]


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa  # lazy: only an export writes Parquet
    import pyarrow.parquet as pq

    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_dataset(run: Run, node: Node, dest: Path, item: Exported) -> None:
    folder = node.folder(run.run_dir)
    manifest = read_manifest(folder) or {}
    configs: dict[str, tuple[str, int]] = {}
    for config, name in _DATA_FILES[node.kind].items():
        src = folder / name
        if not src.is_file():
            continue
        rows = _rows(src)
        if not rows:  # a kind the run asked none of (evalgen's questions without spec QA)
            continue
        rel = f"data/{config}/train-00000-of-00001.parquet"
        _write_parquet(rows, dest / rel)
        configs[config] = (rel, len(rows))
        item.files.append(rel)
    for sub in sorted((folder / "subsets").glob("n*")) if node.kind == "aftdata" else []:
        for config, name in _DATA_FILES["aftdata"].items():
            if (sub / name).is_file():  # the nested subsets the AFT sizes trained on
                rel = f"data/{config}_{sub.name}/train-00000-of-00001.parquet"
                rows = _rows(sub / name)
                _write_parquet(rows, dest / rel)
                configs[f"{config}_{sub.name}"] = (rel, len(rows))
                item.files.append(rel)
    stats = _read_json(folder / "stats.json")
    provenance = _provenance(run, node, manifest, stats)
    atomic_write_json(dest / "msm_provenance.json", provenance)
    (dest / "README.md").write_text(_dataset_card(item.name, node, configs, provenance))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _provenance(
    run: Run, node: Node, manifest: dict[str, Any], stats: dict[str, Any]
) -> dict[str, Any]:
    cfg = manifest.get("config") or {}
    return {
        "run": run.name,
        "node": node.id,
        "stage": manifest.get("stage"),
        "spec": manifest.get("spec"),
        "generator": cfg.get("model"),
        "judge": cfg.get("judge"),
        "prompts": manifest.get("prompts"),
        "counts": manifest.get("counts"),
        "drops": stats.get("drops") or stats.get("dropped") or {},
        "settings": cfg,
        "msm_version": manifest.get("msm_version"),
        "git_revision": manifest.get("git_revision"),
    }


def _front_matter(configs: dict[str, tuple[str, int]]) -> str:
    lines = ["---", "configs:"]
    for name, (rel, _) in configs.items():
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train",
                  f"    path: {rel}"]  # fmt: skip
    lines += ["tags:", *[f"- {t}" for t in TAGS], "---", ""]
    return "\n".join(lines)


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    out = ["| | |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in rows if v not in (None, {}, [])]
    return "\n".join(out)


def _cell(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return text.replace("|", "\\|").replace("\n", " ")


def _dataset_card(
    name: str, node: Node, configs: dict[str, tuple[str, int]], prov: dict[str, Any]
) -> str:
    spec = prov.get("spec") or {}
    counts = ", ".join(f"{c}: {n} rows" for c, (_, n) in configs.items())
    return (
        _front_matter(configs)
        + f"# {name}\n\n{_DESCRIBE[node.kind]}, written by msm (run `{prov['run']}`, node "
        f"`{node.id}`). Configs: {counts}.\n\n## Provenance\n\n"
        + _table(
            [
                ("spec", spec.get("path")),
                ("spec sha256", spec.get("sha256")),
                ("generator", prov.get("generator")),
                ("judge", prov.get("judge") or "none"),
                ("prompt sha256", prov.get("prompts")),
                ("kept", prov.get("counts")),
                ("dropped, by reason", prov.get("drops") or "none"),
                ("msm", f"{prov.get('msm_version')} (git {prov.get('git_revision')})"),
            ]
        )
        + "\n\nEvery setting of the stage is in `msm_provenance.json`. "
        + (
            "Each document carries its place in the spec's hierarchy (`domain`, "
            "`subdomain`, `unit_id`, `assertion`, `doc_type`, `idea`).\n"
            if node.kind == "corpus"
            else "\n"
        )
    )


# -- models ------------------------------------------------------------------------------


def _link_tree(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` with hard links where the file system allows (weights are
    large and never rewritten)."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dest, copy_function=link, dirs_exist_ok=True)


def _write_model(run: Run, node: Node, dest: Path, item: Exported) -> None:
    folder = node.folder(run.run_dir)
    manifest = read_manifest(folder) or {}
    merged, adapter = folder / "model", folder / "adapter"
    if (merged / "config.json").is_file():
        _link_tree(merged, dest)
        item.files.append(".")
        if adapter.is_dir():
            _link_tree(adapter, dest / "adapter")
            item.files.append("adapter")
    elif adapter.is_dir():
        _link_tree(adapter, dest)
        item.files.append("adapter at the top")
    else:
        raise MsmError(f"{node.id}: its checkpoint holds neither a model nor an adapter")
    evals = _eval_summaries(run, node)
    (dest / "README.md").write_text(_model_card(item.name, run, node, manifest, evals))
    atomic_write_json(
        dest / "msm_provenance.json",
        {"run": run.name, "node": node.id, "manifest": manifest, "evals": evals},
    )


def _eval_summaries(run: Run, node: Node) -> dict[str, str]:
    """The evals of this checkpoint's model: each metric as ``mean [lo, hi] (n)``."""
    out: dict[str, str] = {}
    for ev in run.nodes:
        deps = ev.raw.get("deps") or []
        if ev.kind != "eval" or not ev.done or not deps or deps[0] != node.id:
            continue
        summary = _read_json(ev.folder(run.run_dir) / "summary.json")
        for name, m in flatten_summary(summary).items():
            if m.mean is None:
                continue
            ci = f" [{m.ci95[0]:.3f}, {m.ci95[1]:.3f}]" if m.ci95 else ""
            out[name] = f"{m.mean:.3f}{ci} (n={m.n})"
    return out


def _base(name: Any) -> Any:
    return "embedded (the bundled SmolLM2-135M-Instruct)" if name == "embedded" else name


def _model_card(
    name: str, run: Run, node: Node, manifest: dict[str, Any], evals: dict[str, str]
) -> str:
    data = manifest.get("data") or {}
    upstream = data.get("upstream") or {}
    spec = upstream.get("spec") or {}
    stage = {"midtrain": "MSM midtraining", "aft": "alignment fine-tuning (AFT)"}[node.kind]
    meta = {k: node.raw.get(k) for k in ("condition", "spec", "aft_size", "seed")}
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        *[f"- {t}" for t in TAGS],
        "---",
        "",
        f"# {name}",
        "",
        f"A checkpoint of {stage}, trained by msm (run `{run.name}`, node `{node.id}`). "
        "The merged model loads with `transformers` from this folder; a LoRA adapter, where "
        "there is one, with `peft` from `adapter/` (or from this folder when only the "
        "adapter was saved).",
        "",
        "## Provenance",
        "",
        _table(
            [
                ("base model", _base(manifest.get("base"))),
                ("continues", manifest.get("continued_adapter") or manifest.get("base_lineage")),
                ("stage", manifest.get("stage")),
                ("run node", meta),
                ("spec", spec.get("path")),
                ("spec sha256", spec.get("sha256")),
                ("training data sha256", data.get("sha256")),
                ("final loss", manifest.get("final_loss")),
                ("trained tokens", manifest.get("label_tokens_seen")),
                ("msm", f"{manifest.get('msm_version')} (git {manifest.get('git_revision')})"),
            ]
        ),
        "",
        "## Evaluation",
        "",
        _table(sorted(evals.items())) if evals else "No evaluation of this model in the run.",
        "",
        "Intervals are 95% over items (one seed); the run's report compares conditions with "
        "paired intervals.",
        "",
    ]
    return "\n".join(lines)


# -- upload ------------------------------------------------------------------------------


def push_export(
    res: ExportResult,
    org: str,
    *,
    token: str | None,
    api_factory: Callable[[str], Any] | None = None,
    echo: Callable[[str], None] = print,
) -> list[str]:
    """Upload each exported folder to ``ORG/<run>-<name>`` (datasets as dataset repos);
    returns the repo ids. ``token`` None: nothing is uploaded (the caller says so)."""
    repos = []
    api = None
    if token is not None:
        if api_factory is None:
            from huggingface_hub import HfApi  # lazy: only an upload needs it

            api = HfApi(token=token)
        else:
            api = api_factory(token)
    for item in res.items:
        repo = f"{org}/{res.run_name}-{item.name}"
        repos.append(repo)
        if api is None:
            continue
        kind = "dataset" if item.kind == "dataset" else "model"
        folder = res.out / ("datasets" if kind == "dataset" else "models") / item.name
        api.create_repo(repo, repo_type=kind, exist_ok=True, private=True)
        api.upload_folder(repo_id=repo, repo_type=kind, folder_path=str(folder))
        echo(f"uploaded {folder} -> {repo} ({kind})")
    return repos
