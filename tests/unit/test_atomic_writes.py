"""A full disk at any step of any artifact write: msm stops with one clear line, leaves no
torn file, and a rerun finishes with exactly what a run that never failed would have made.

The fault is injected inside :mod:`msm._util.fsutil` only (its ``os`` and ``tempfile`` are
swapped for :class:`DiskFull`), so the LLM store, matplotlib and everything else keep
their real file system. Each atomic write has three steps: the file write (which, like
a real full disk, lands half the data first), the fsync and the rename. A clean run of
each command is traced first; the cases below name the (file, step) to break, and the
trace turns that into "fail the Nth step".
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest

import msm._util.fsutil
from msm.cli import main
from msm.llm import ResultStore

STEPS = ("write", "fsync", "replace")
ENOSPC = os.strerror(errno.ENOSPC)  # "No space left on device"
PNG_HEAD, PNG_TAIL = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
# values that differ between any two runs (clock, cache hits), not between outputs
VOLATILE = {"seconds", "timings", "usage", "written_at"}

DOCGEN = [
    "docgen", "builtin:cheese_pro_america", "--model", "fake", "--model-name", "Ada",
    "--n-assertions", "1", "--n-doc-types", "1", "--n-ideas", "1", "--ideas-from", "template",
    "--tokenizer", "approx", "-q",
]  # fmt: skip
AFTGEN = ["aftgen", "builtin:equanimity", "--model", "fake", "--n", "4", "--model-name", "Ada"]
DOCGEN_FILES = [
    "stages/units.jsonl", "stages/assertions.jsonl", "stages/ideas.jsonl",
    "stages/generations.jsonl", "documents.jsonl", "stats.json", "token_hist.png",
    "manifest.json",
]  # fmt: skip
AFTGEN_FILES = ["cot.jsonl", "stripped.jsonl", "stats.json", "manifest.json"]
CLAIM = ".msm/owner.json"  # written first, before any output
REPORT_FILES = [
    "report/headline_values.america.png", "report/values_by_set.png",
    "report/corpus_pro_america.png", "report/training_loss.png", "report/report.md",
    "report/report.html", "report/report.json",
]  # fmt: skip


# --------------------------------------------------------------------------
# the fault


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, ENOSPC)


class _File:
    """A file opened by fsutil; its write can fail half-way."""

    def __init__(self, fh: Any, fault: DiskFull, target: str) -> None:
        self.fh, self.fault, self.target = fh, fault, target

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        if self.fault.step("write", self.target):
            self.fh.write(data[: len(data) // 2])  # a full disk takes part of it first
            self.fh.flush()
            raise _enospc()
        return int(self.fh.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


class DiskFull:
    """Stands in for ``os`` and ``tempfile`` in msm._util.fsutil: records every write step as
    (step, target path) and makes step number ``fail_at`` (1-based) raise ENOSPC."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.trace: list[tuple[str, str]] = []
        self.failed: tuple[str, str] | None = None
        self._target = ""

    def step(self, step: str, target: str) -> bool:
        self.trace.append((step, target))
        if len(self.trace) == self.fail_at:
            self.failed = (step, target)
            return True
        return False

    def install(self, mp: pytest.MonkeyPatch) -> DiskFull:
        mp.setattr(msm._util.fsutil, "os", self)
        mp.setattr(msm._util.fsutil, "tempfile", self)
        return self

    # tempfile
    def mkstemp(self, *, prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        self._target = str(Path(dir) / prefix[1:-1])  # fsutil's prefix is ".<name>."
        return tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)

    def mkdtemp(self, **kw: Any) -> str:
        return tempfile.mkdtemp(**kw)

    # os
    def fdopen(self, fd: int, mode: str) -> _File:
        return _File(os.fdopen(fd, mode), self, self._target)

    def fsync(self, fd: int) -> None:
        if self.step("fsync", self._target):
            raise _enospc()
        os.fsync(fd)

    def replace(self, src: str | Path, dst: str | Path) -> None:
        if self.step("replace", str(dst)):
            raise _enospc()
        os.replace(src, dst)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


# --------------------------------------------------------------------------
# helpers


def exit_code(args: list[str]) -> int:
    """``msm ARGS`` in-process; its exit status."""
    with pytest.raises(SystemExit) as e:
        main(args)
    code = e.value.code
    return code if isinstance(code, int) else 0 if code is None else 1


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``msm ARGS`` in-process: (exit status, stderr)."""
    capsys.readouterr()
    code = exit_code(args)
    return code, capsys.readouterr().err


def make_run(root: Path) -> Path:
    """A small finished run for ``msm report``: a corpus, a training curve, two evals."""

    def write(rel: str, obj: Any) -> None:
        p = run / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")

    def summary(v: float) -> dict[str, Any]:
        vp = {"mean": v, "ci95": [v - 0.05, v + 0.05], "items": 36}
        return {"model": "hf/x", "values": {"america": {"value_preference": vp}}}

    run = root / "run"
    nodes = [
        {"id": "corpus/pro_america", "kind": "corpus", "path": "nodes/corpus/pro_america",
         "status": "done", "spec": "pro_america"},
        {"id": "midtrain/pro_america/s0", "kind": "midtrain",
         "path": "nodes/midtrain/pro_america/s0", "status": "done", "spec": "pro_america",
         "seed": 0},
        {"id": "eval/base/s0", "kind": "eval", "path": "nodes/eval/base/s0", "status": "done",
         "condition": "base", "label": "base", "seed": 0},
        {"id": "eval/msm_only/pro_america/s0", "kind": "eval",
         "path": "nodes/eval/msm_only/pro_america/s0", "status": "done",
         "condition": "msm_only", "label": "msm_only[pro_america]", "spec": "pro_america",
         "seed": 0},
    ]  # fmt: skip
    docs = "".join(
        json.dumps({"text": "word " * (i + 3), "tokens": i + 3}) + "\n" for i in range(20)
    )
    write("nodes/corpus/pro_america/documents.jsonl", docs)
    write("nodes/midtrain/pro_america/s0/manifest.json", {"stage": "train-midtrain", "steps": 10})
    curve = "".join(f"{i},{i * 100},{3 - i * 0.1},0.0001,{i}\n" for i in range(1, 11))
    write("nodes/midtrain/pro_america/s0/loss.csv", "step,tokens,loss,lr,elapsed_s\n" + curve)
    write("nodes/eval/base/s0/summary.json", summary(0.3))
    write("nodes/eval/msm_only/pro_america/s0/summary.json", summary(0.6))
    write("run.json", {"experiment": {"name": "tiny"}, "headline_metric": "values.america",
                       "nodes": nodes})  # fmt: skip
    return run


def _normalise(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _normalise(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_normalise(v) for v in obj]
    return obj


def outputs(root: Path, under: str = "") -> dict[str, Any]:
    """Every artifact under ``root/under`` (the LLM store aside): bytes, or for JSON the
    parsed value without clock/cache fields. The root path itself is written as <ROOT>."""
    snap: dict[str, Any] = {}
    for p in sorted((root / under).rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or rel.startswith(".msm/"):
            continue
        data = p.read_bytes().replace(str(root).encode(), b"<ROOT>")
        snap[rel] = _normalise(json.loads(data)) if rel.endswith(".json") else data
    return snap


def assert_not_torn(root: Path, under: str = "") -> None:
    """Nothing half-written a reader could trust: no temp files, every artifact complete."""
    for p in (root / under).rglob("*"):
        rel = p.relative_to(root).as_posix()
        assert not p.name.endswith(".tmp") and ".staging-" not in p.name, rel
        if not p.is_file() or rel.startswith(".msm/"):
            continue  # the LLM store is SQLite: its own transactions
        data = p.read_bytes()
        if p.suffix == ".json":
            json.loads(data)
        elif p.suffix == ".jsonl":
            text = data.decode("utf-8")
            assert text == "" or text.endswith("\n"), rel
            for line in text.split("\n")[:-1]:
                assert isinstance(json.loads(line), dict), rel
        elif p.suffix == ".png":
            assert data.startswith(PNG_HEAD) and data.endswith(PNG_TAIL), rel
        elif p.suffix == ".html":
            assert data.endswith(b"</html>\n"), rel
        elif p.suffix == ".md":
            assert data.endswith(b"\n") and data.count(b"\n## ") >= 3, rel


@pytest.fixture
def no_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    # aftgen's query dedup falls back to MinHash: same outputs every run, no model load
    monkeypatch.setattr("msm._util.embed.minilm_dir", lambda: None)


def stage_args(stage: str, root: Path) -> tuple[list[str], Path, str]:
    """The command line of ``stage`` writing under ``root``, the folder its files are
    named relative to, and the part of that folder it writes (``""`` = all of it)."""
    if stage == "report":
        run = make_run(root)
        return ["report", str(run)], run, "report"
    out = root / "out"
    return [*(DOCGEN if stage == "docgen" else AFTGEN), "--out", str(out)], out, ""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per stage: the write trace of a clean run (targets relative to its folder) and its
    outputs."""
    refs: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("msm._util.embed.minilm_dir", lambda: None)
        for stage in ("docgen", "aftgen", "report"):
            args, folder, under = stage_args(stage, tmp_path_factory.mktemp(stage))
            fault = DiskFull().install(mp)
            assert exit_code(args) == 0
            trace = [(s, Path(t).relative_to(folder).as_posix()) for s, t in fault.trace]
            refs[stage] = {"trace": trace, "outputs": outputs(folder, under)}
    return refs


# --------------------------------------------------------------------------
# tests


@pytest.mark.parametrize(
    "stage,files", [("docgen", DOCGEN_FILES), ("aftgen", AFTGEN_FILES), ("report", REPORT_FILES)]
)
def test_every_artifact_is_written_once_through_fsutil(reference, stage, files):
    """The clean run's trace: each file once, as write -> fsync -> rename, and nothing on
    disk that did not go through fsutil (so the cases below reach every writer). A stage
    first claims its folder (msm.artifacts.outdir)."""
    ref = reference[stage]
    claim = [] if stage == "report" else [CLAIM]
    assert ref["trace"] == [(s, f) for f in [*claim, *files] for s in STEPS]
    assert sorted(ref["outputs"]) == sorted(files)


# (stage, file, step): every writer of every command, the three steps spread across them
CASES = [
    *[("docgen", f, STEPS[i % 3]) for i, f in enumerate(DOCGEN_FILES)],
    ("docgen", "documents.jsonl", "fsync"),
    ("docgen", "manifest.json", "replace"),
    ("docgen", CLAIM, "write"),
    *[("aftgen", f, STEPS[(i + 1) % 3]) for i, f in enumerate(AFTGEN_FILES)],
    ("report", "report/corpus_pro_america.png", "write"),
    ("report", "report/training_loss.png", "replace"),
    ("report", "report/report.md", "fsync"),
    ("report", "report/report.html", "write"),
    ("report", "report/report.json", "replace"),
]


@pytest.mark.parametrize("stage,target,step", CASES, ids=[f"{s}-{t}-{p}" for s, t, p in CASES])
def test_disk_full_is_one_clear_line_leaves_nothing_torn_and_rerun_matches(
    tmp_path, capsys, monkeypatch, no_minilm, reference, stage, target, step
):
    ref = reference[stage]
    n = ref["trace"].index((step, target)) + 1
    args, folder, under = stage_args(stage, tmp_path)
    with monkeypatch.context() as mp:
        fault = DiskFull(fail_at=n).install(mp)
        code, err = run_cli(args, capsys)
    assert fault.failed == (step, str(folder / target))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("msm: error: "), err
    assert f"cannot write {folder / target}: {ENOSPC}" in lines[0]
    assert_not_torn(folder, under)
    if stage != "report":
        # the manifest is written last: without it nobody takes the folder for finished
        assert not (folder / "manifest.json").exists()

    code, err = run_cli(args, capsys)
    assert code == 0, err
    assert_not_torn(folder, under)
    assert outputs(folder, under) == ref["outputs"]


def test_failed_rewrite_leaves_no_manifest_vouching_for_mixed_files(tmp_path, capsys):
    """A finished corpus rerun after its spec was edited (the same file: resumed, not
    refused) fails once the new documents.jsonl is in place: the old manifest must not
    stay to vouch for it."""
    from msm.spec.builtin import resolve_spec_path

    out, spec = tmp_path / "out", tmp_path / "spec.md"
    spec.write_text(resolve_spec_path(DOCGEN[1]).read_text(encoding="utf-8"), encoding="utf-8")
    bigger = [DOCGEN[0], str(spec), *DOCGEN[2:], "--out", str(out)]
    assert run_cli(bigger, capsys)[0] == 0
    old_docs = (out / "documents.jsonl").read_bytes()
    spec.write_text(spec.read_text(encoding="utf-8").replace("before dawn", "before sunrise"))
    with pytest.MonkeyPatch.context() as mp:
        # after the claim (3 steps), the stage files up to stats.json
        fault = DiskFull(fail_at=(DOCGEN_FILES.index("stats.json") + 1) * 3 + 1).install(mp)
        code, err = run_cli(bigger, capsys)
    assert fault.failed == ("write", str(out / "stats.json"))
    assert code == 2 and err.startswith("msm: error: cannot write "), err
    assert (out / "documents.jsonl").read_bytes() != old_docs  # the new one landed
    assert not (out / "manifest.json").exists()
    assert_not_torn(out)
    assert run_cli(bigger, capsys)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    docs = (out / "documents.jsonl").read_text().split("\n")[:-1]
    # 14 units of the cheese spec (title, core, one per cheese) x 1 assertion x 1 x 1
    assert manifest["counts"]["documents"] == len(docs) == 14


class ReadOnly(DiskFull):
    def mkstemp(self, *, prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))


def test_read_only_output_folder_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """A refused temp file (read-only file system) is the machine's doing, not a bug."""
    run = make_run(tmp_path)
    with monkeypatch.context() as mp:
        ReadOnly().install(mp)
        code, err = run_cli(["report", str(run)], capsys)
    assert code == 2
    first = run / REPORT_FILES[0]
    assert err == f"msm: error: cannot write {first}: {os.strerror(errno.EROFS)}\n"
    assert not (run / "report").exists() or not any((run / "report").iterdir())


def test_os_error_outside_fsutil_is_not_called_internal(tmp_path, capsys, monkeypatch):
    """The CLI's safety net: a machine-caused OSError from any writer is one `msm: error:`
    line; other exceptions stay internal errors."""

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, ENOSPC, str(tmp_path / "x"))

    monkeypatch.setattr("msm.report.build.build_report", full)
    code, err = run_cli(["report", str(tmp_path)], capsys)
    assert (code, err) == (2, f"msm: error: {ENOSPC}: {tmp_path / 'x'}\n")

    def bug(*a: object, **k: object) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr("msm.report.build.build_report", bug)
    code, err = run_cli(["report", str(tmp_path)], capsys)
    assert code == 1 and err.startswith("msm: internal error: OSError: ")


def test_full_disk_in_the_llm_store_is_one_clear_line(tmp_path, capsys, monkeypatch, reference):
    real_put = ResultStore.put
    puts = []

    class FullDisk:
        """The store's connection, failing its INSERT the way SQLite does on a full disk."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.db, name)

    def put(self: ResultStore, key: str, value: dict[str, Any], model: str = "") -> None:
        puts.append(key)
        if len(puts) == 3:
            db, self._db = self._db, FullDisk(self._db)  # type: ignore[assignment]
            try:
                real_put(self, key, value, model)
            finally:
                self._db = db
        real_put(self, key, value, model)

    out = tmp_path / "out"
    with monkeypatch.context() as mp:
        mp.setattr(ResultStore, "put", put)
        code, err = run_cli([*DOCGEN, "--out", str(out)], capsys)
    assert code != 0 and not (out / "manifest.json").exists()
    assert_not_torn(out)
    assert err.startswith("msm: error: ") and "disk is full" in err, err
    assert len(err.strip().splitlines()) == 1
    assert run_cli([*DOCGEN, "--out", str(out)], capsys)[0] == 0  # resumes from the store
    assert outputs(out) == reference["docgen"]["outputs"]
