"""The one layout of an msm training checkpoint (what ``msm train`` writes into ``--out``).

::

    OUT/                      the finished checkpoint (renamed into place when complete)
      manifest.json           stage ``train-midtrain`` or ``train-aft``, ``base_path``...
      model/                  a plain Hugging Face folder: merged LoRA or full weights
      adapter/                the LoRA adapter (``adapter_config.json`` + weights)
    .OUT.msm-train/           the work folder beside it while training runs
      run.json                the settings it was started with
      logs/                   the trackers' logs (``report_to``), copied into OUT/logs
      ckpt-00000012/          resumable state (``msm-state.json`` marks it complete)
      final/                  the checkpoint being written, renamed to OUT at the end

Training, the experiment runner, the plan, the evals and the model-name resolver all
ask this object where things are instead of spelling the folder names themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.artifacts.layout import Child
from msm.artifacts.manifest import read_manifest

TRAIN_STAGES = ("train-midtrain", "train-aft")
# marks a model/ merged for one use (removed after it)
ON_DEMAND = ".msm-merged-on-demand"
STATE_FILE = "msm-state.json"


def trained_model_dir(out: str | Path) -> Path:
    """The loadable model a finished training wrote into ``out`` (merged, or full weights);
    absent when training kept only the adapter (see ``msm.train.checkpoint.merge_adapter``)."""
    return Checkpoint(Path(out)).model_dir


def work_dir_for(out: Path) -> Path:
    """The folder training works in (resumable state) before it renames its result to ``out``."""
    return Checkpoint(out).work_dir


@dataclass(frozen=True)
class Checkpoint:
    """An msm training output folder, by layout (it need not exist yet)."""

    root: Path

    model_dir = Child("model")  # the merged (or fully fine-tuned) Hugging Face model
    adapter_dir = Child("adapter")  # the LoRA adapter a LoRA run saves

    @property
    def work_dir(self) -> Path:
        """The hidden work folder beside ``root`` that holds an unfinished run."""
        return self.root.parent / f".{self.root.name}.msm-train"

    # in the work folder: the settings an unfinished run started with, trackers' logs
    # (copied into the checkpoint), and the finished checkpoint before it is renamed
    settings_file = Child("run.json", "work_dir")
    logs_dir = Child("logs", "work_dir")
    final_dir = Child("final", "work_dir")

    def step_dir(self, step: int) -> Path:
        """The resumable state saved after ``step`` optimizer steps."""
        return self.work_dir / f"ckpt-{step:08d}"

    def tmp_step_dir(self, step: int) -> Path:
        """Where the state of ``step`` is written before it is renamed to :meth:`step_dir`."""
        return self.work_dir / f".tmp-ckpt-{step:08d}"

    def step_dirs(self) -> list[Path]:
        """Every saved step state in the work folder, complete or not (oldest first)."""
        return sorted(self.work_dir.glob("ckpt-*"))

    def latest_step_dir(self) -> Path | None:
        """The newest complete step state to resume from (None: start afresh)."""
        done = [p for p in self.step_dirs() if (p / STATE_FILE).is_file()]
        return done[-1] if done else None

    def merging_dir(self, pid: int) -> Path:
        """Where process ``pid`` writes ``model/`` from ``adapter/`` before renaming it."""
        return self.root / f".model.merging-{pid}"

    def manifest(self) -> dict[str, Any] | None:
        """The checkpoint's manifest (None when absent or unreadable)."""
        return read_manifest(self.root) if self.root.is_dir() else None

    def is_training_output(self) -> bool:
        """Whether ``root`` holds a finished msm training run (by its manifest's stage)."""
        return is_training_manifest(self.manifest())

    def has_model(self) -> bool:
        """Whether ``model/`` is a loadable Hugging Face folder (merged or full)."""
        return (self.model_dir / "config.json").is_file()

    def has_adapter(self) -> bool:
        """Whether ``adapter/`` holds a loadable LoRA adapter."""
        return (self.adapter_dir / "adapter_config.json").is_file()

    def merged_on_demand(self) -> bool:
        """Whether ``model/`` was merged for one use only (and is to be removed after it)."""
        return (self.model_dir / ON_DEMAND).is_file()

    def base_path(self) -> str:
        """The base model the adapter was trained on, as the manifest recorded it ('' if none)."""
        return str((self.manifest() or {}).get("base_path") or "")


def model_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest describing a model folder: its own, or, for a checkpoint's ``model/``,
    the checkpoint's (None when neither has one)."""
    p = Path(folder)
    return read_manifest(p) or read_manifest(p.parent)


def is_training_manifest(man: dict[str, Any] | None) -> bool:
    """Whether a manifest is one that ``msm train`` wrote."""
    return man is not None and man.get("stage") in TRAIN_STAGES
