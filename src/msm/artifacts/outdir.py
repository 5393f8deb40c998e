"""Output folders belong to their inputs: nothing is overwritten silently.

Every stage (docgen, aftgen, train, eval) claims its ``--out`` before it writes
anything, the way ``msm run`` claims a run folder for one experiment:

* a folder that does not exist, or is empty, is claimed for these inputs;
* a folder claimed for the *same* inputs is resumed (as before: docgen and
  aftgen from their call stores, a finished training is returned as it is);
* a folder of *other* inputs, or of another stage, is refused with one line
  naming the folder and what differs, unless ``overwrite`` is given;
* a non-empty folder that holds no msm output (a home folder, a folder of the
  user's own files) is refused, even with ``overwrite``: msm deletes only what
  it can tell it wrote.

The claim is ``OUT/.msm/owner.json``: the stage and its *inputs*, the resolved
settings that shape the output (spec and mix files by path and content hash,
models, counts, item sets), never the ones that only change how fast, how
cheaply or how quietly it runs or how long it may try: one rule per stage,
``msm.artifacts.identity``, shared with ``msm run``'s plan hashes.
Training keeps its claim in its manifest: the folder appears only when
complete, and its ``weights_hash`` (``TrainConfig.weights_hash``) is the
identity (see ``msm.train.checkpoint.prepare_output``).

Folders written before claims existed have a manifest but no claim. Their
manifest's recorded config is read as the claim (:func:`recorded_inputs`);
a setting the manifest does not record, or a claim written by another msm
version that lacks a field, is taken as the same (it cannot be told apart).
A docgen or aftgen folder killed before its first manifest holds only
``.msm/llm.sqlite``: it is msm output whose inputs cannot be told, and is
resumed as the same inputs.

A spec (or mix file) counts as the same when it is the same file, even if it
was edited since (docgen then redoes the affected stages and says so), or the
same text at another path; only another path with other text is a different
spec.

``overwrite`` replaces output of other inputs: after the new settings have
validated, everything in the folder is removed except the call store
(``.msm/llm.sqlite``). The store's answers are keyed by the whole request
(model, settings, prompt, sample), so only identical requests reuse one:
raising ``n_ideas`` then costs only the new calls. Output of the same inputs
is resumed whether or not ``overwrite`` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from msm import __version__
from msm._util.fsutil import atomic_write_json
from msm.artifacts.checkpoint import model_manifest
from msm.artifacts.identity import identity
from msm.artifacts.manifest import file_sha256, read_manifest
from msm.errors import MsmError
from msm.spec.builtin import PREFIX, resolve_spec_path
from msm.spec.core import read_spec_text

OWNER = Path(".msm") / "owner.json"
# the LLM call store docgen and aftgen resume from: kept on --overwrite (see above)
# (docgen, aftgen: llm.sqlite; eval --batch: grader.sqlite)
STORE_FILES = tuple(
    f"{db}.sqlite{ext}" for db in ("llm", "grader") for ext in ("", "-wal", "-shm", "-journal")
)
HINT = "use another --out or pass --overwrite"
SHOWN = 4  # differing fields named in a refusal; the rest are counted

Inputs = dict[str, Any]


# -- identities --------------------------------------------------------------------------


def file_ref(path: str | None) -> dict[str, Any] | None:
    """A file as an input: its absolute path and content hash (None for no file)."""
    if path is None:
        return None
    p = Path(path).expanduser()
    try:
        sha: str | None = file_sha256(p)
    except OSError:
        sha = None  # the stage reports a missing file in its own words
    return {"path": str(p.resolve()), "sha256": sha}


def spec_ref(spec: str) -> dict[str, Any]:
    """The spec as an input: its path (``builtin:<name>`` keeps its name) and the hash of
    its text as read (the ``source_sha256`` docgen manifests record). A spec that cannot
    be read fails here, in its own words, before any folder is judged."""
    p = resolve_spec_path(spec)
    sha = hashlib.sha256(read_spec_text(p).encode("utf-8")).hexdigest()
    return {"path": spec if spec.startswith(PREFIX) else str(p.resolve()), "sha256": sha}


def docgen_inputs(cfg: BaseModel) -> Inputs:
    """docgen's identity: its settings (less the cosmetic ones) with the spec's content."""
    d = cfg.model_dump(mode="json")
    return {**identity("docgen", d), "spec": spec_ref(d["spec"])}


def aftgen_inputs(cfg: BaseModel) -> Inputs:
    """aftgen's identity: docgen's, plus the mix-in file's content."""
    d = cfg.model_dump(mode="json")
    return {**identity("aftgen", d), "spec": spec_ref(d["spec"]), "mix": file_ref(d.get("mix"))}


def evalgen_inputs(cfg: BaseModel) -> Inputs:
    """evalgen's identity: its settings (less the cosmetic ones) with the spec's content."""
    d = cfg.model_dump(mode="json")
    return {**identity("evalgen", d), "spec": spec_ref(d["spec"])}


def _model_ref(name: str | None) -> str | None:
    """A model given as a folder is the same model whether named relatively or absolutely."""
    if name is None:
        return None
    p = Path(name).expanduser()
    return str(p.resolve()) if p.is_dir() else name


def _weights_hash(folder: str | None) -> str | None:
    """An msm checkpoint's ``weights_hash``: retrained in place, it is another model."""
    man = model_manifest(folder) if folder else None
    return man.get("weights_hash") if man else None


def eval_inputs(cfg: BaseModel, model_folder: str | None) -> Inputs:
    """eval's identity: every setting (model under test, suites, item sets, grader, ...)
    and, for an msm checkpoint, the weights it holds (``model_folder``: the folder the
    model name loads from, resolved by the caller, None for an API model)."""
    d = identity("eval", cfg.model_dump(mode="json"))
    return {
        **d,
        "model": _model_ref(d["model"]),
        "baseline": _model_ref(d.get("baseline")),
        "model_weights": _weights_hash(model_folder),
    }


def recorded_inputs(stage: str, manifest: dict[str, Any]) -> Inputs | None:
    """The inputs a claim-less (older) folder's manifest records, or None if it cannot tell.

    docgen's manifest holds the spec's source hash; aftgen's only the templated
    spec's, so an older aftgen folder's spec is compared by path alone.
    """
    config = manifest.get("config")
    if not isinstance(config, dict):
        return None
    if stage == "eval":
        lineage = manifest.get("model_lineage")
        return {
            **identity("eval", config),
            "model": _model_ref(config.get("model")),
            "baseline": _model_ref(config.get("baseline")),
            "model_weights": lineage.get("weights_hash") if isinstance(lineage, dict) else None,
        }
    if stage not in ("docgen", "aftgen") or not isinstance(config.get("spec"), str):
        return None
    spec = config["spec"]
    sha = (manifest.get("spec") or {}).get("source_sha256") if stage == "docgen" else None
    path = spec if spec.startswith("builtin:") else str(Path(spec).expanduser().resolve())
    inputs = {**identity(stage, config), "spec": {"path": path, "sha256": sha}}
    if stage == "aftgen":
        mix = manifest.get("mix")
        inputs["mix"] = (
            {"path": str(Path(mix["path"]).expanduser().resolve()), "sha256": mix.get("sha256")}
            if isinstance(mix, dict) and isinstance(mix.get("path"), str)
            else None
        )
    return inputs


# -- comparing -----------------------------------------------------------------------------


def _is_ref(v: Any) -> bool:
    return isinstance(v, dict) and set(v) == {"path", "sha256"}


def _same(old: Any, new: Any) -> bool:
    if _is_ref(old) and _is_ref(new):
        # the same file (perhaps edited), or the same text elsewhere
        return old["path"] == new["path"] or bool(old["sha256"] and old["sha256"] == new["sha256"])
    return bool(old == new)


def _show(v: Any) -> str:
    if _is_ref(v):  # a path is shown whole: cut short, it would not say which file
        rel = os.path.relpath(v["path"]) if os.path.isabs(v["path"]) else v["path"]
        return str(v["path"] if rel.startswith("..") else rel)
    if v is None:
        return "none"
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= 48 else text[:45] + "..."


def differences(old: Inputs, new: Inputs) -> list[str]:
    """``field: old -> new`` for each field both record and that differs."""
    return [
        f"{k}: {_show(old[k])} -> {_show(new[k])}"
        for k in new
        if k in old and not _same(old[k], new[k])
    ]


def refusal(out: Path, stage: str, diffs: list[str]) -> MsmError:
    """The one-line refusal naming the folder and what differs."""
    shown = diffs[:SHOWN] + ([f"and {len(diffs) - SHOWN} more"] if len(diffs) > SHOWN else [])
    return MsmError(f"{out} holds {stage} output of other inputs ({', '.join(shown)}); {HINT}")


# -- folders -------------------------------------------------------------------------------


def _entries(out: Path) -> list[Path]:
    """What ``out`` holds, a claim alone (left by a failed first run) not counted."""
    try:
        items = list(out.iterdir())
        msm_dir = out / ".msm"
        if msm_dir.is_dir() and [p.name for p in msm_dir.iterdir()] == [OWNER.name]:
            items.remove(msm_dir)
    except OSError as e:
        raise MsmError(f"cannot read {out}: {e.strerror or e}") from e
    return items


def read_claim(out: Path) -> tuple[str, Inputs | None] | None:
    """(stage, inputs) of msm output in ``out`` (inputs None: cannot tell); None: not msm's."""
    try:
        owner = json.loads((out / OWNER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        owner = None
    if isinstance(owner, dict) and isinstance(owner.get("stage"), str):
        inputs = owner.get("inputs")
        return owner["stage"], inputs if isinstance(inputs, dict) else None
    man = read_manifest(out)
    if man is not None and isinstance(man.get("stage"), str):
        return man["stage"], recorded_inputs(man["stage"], man)
    if (out / ".msm").is_dir():
        return "", None  # a killed first run of an older msm: its call store only
    return None


def foreign(out: Path) -> MsmError:
    return MsmError(
        f"{out} is not empty and holds no msm output; nothing was changed (use another --out; "
        "--overwrite replaces only msm's own output)"
    )


def clear_output(out: Path, keep_store: bool = True) -> None:
    """Remove what ``out`` holds (the call store aside, with ``keep_store``)."""
    try:
        for p in out.iterdir():
            if p.name == ".msm" and p.is_dir() and not p.is_symlink():
                for q in p.iterdir():
                    if not (keep_store and q.name in STORE_FILES):
                        _remove(q)
            else:
                _remove(p)
    except OSError as e:
        raise MsmError(f"cannot clear {out}: {e.strerror or e}") from e


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


@dataclass
class Claim:
    """A folder checked for a stage: ``action`` is new, resume or replace."""

    out: Path
    stage: str
    inputs: Inputs
    action: str
    existed: bool

    @property
    def fresh(self) -> bool:
        """Nothing of value was there: a failed first run may remove the whole folder."""
        return not self.existed or self.action == "replace"

    def take(self) -> None:
        """Call once the new settings have validated: clear a replaced folder, record the claim."""
        if self.action == "replace":
            clear_output(self.out)
        atomic_write_json(
            self.out / OWNER,
            {"stage": self.stage, "inputs": self.inputs, "msm_version": __version__},
        )


def claim_output(
    out: str | Path,
    stage: str,
    inputs: Inputs,
    *,
    overwrite: bool = False,
) -> Claim:
    """Check ``out`` for ``stage`` with ``inputs``; refuse (one line) or return the claim.

    Writes nothing: the stage validates the rest of its settings, then calls
    :meth:`Claim.take` before it writes. Example::

        claim = claim_output(out, "docgen", docgen_inputs(cfg), overwrite=False)
        ...  # everything that can fail on bad input
        claim.take()
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if not out.exists() or not _entries(out):
        return Claim(out, stage, inputs, "new", out.exists())
    found = read_claim(out)
    if found is None:
        raise foreign(out)
    old_stage, old_inputs = found
    if old_stage and old_stage != stage:
        if not overwrite:
            raise MsmError(f"{out} holds {old_stage} output, not {stage} output; {HINT}")
        return Claim(out, stage, inputs, "replace", True)
    diffs = differences(old_inputs, inputs) if old_inputs is not None else []
    if diffs and not overwrite:
        raise refusal(out, stage, diffs)
    return Claim(out, stage, inputs, "replace" if diffs else "resume", True)
