"""Nested subsets for AFT data-size sweeps: every smaller subset is inside every larger one."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_text, staging_dir
from msm.artifacts.manifest import file_sha256, read_manifest, write_manifest
from msm.errors import MsmError

DATA_FILES = ("cot.jsonl", "stripped.jsonl")


def parse_sizes(text: str) -> list[int]:
    """'100,200,400' -> [100, 200, 400] (sorted, unique, positive)."""
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as e:
        raise MsmError(f"--sizes must be comma-separated integers, got {text!r}") from e
    if not sizes or sizes[0] < 1:
        raise MsmError("--sizes must list positive integers")
    return sizes


def _read_rows(path: Path) -> list[str]:
    try:
        # records end at "\n" only: str.splitlines() would also split inside a record at
        # U+2028, U+0085 and the like, which JSON leaves unescaped in model-written text
        lines = [x for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    except UnicodeDecodeError as e:
        raise MsmError(f"{path} is not valid UTF-8") from e
    for i, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise MsmError(f"{path}:{i}: not valid JSON") from e
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
            raise MsmError(f"{path}:{i}: expected an object with a 'messages' list")
    return lines


def subset_file(folder: str | Path, size: int, name: str) -> Path:
    """Data file ``name`` (cot.jsonl, stripped.jsonl) of the size-``size`` subset."""
    return Path(folder) / "subsets" / f"n{size}" / name


def _foreign_subsets(root: Path, seed: int, source: dict[str, str]) -> list[str]:
    """Subsets already in ``root/subsets`` drawn with another seed or from other data:
    new ones beside them would not be nested in them."""
    found = []
    for d in sorted((root / "subsets").glob("n*")):
        man = read_manifest(d)
        if man is None:
            continue  # a half-written leftover (no manifest): replaced freely
        diff = []
        if man.get("seed") != seed:
            diff.append(f"seed {man.get('seed')} -> {seed}")
        if man.get("source") != source:
            diff.append("other data")
        if diff:
            found.append(f"{d.name} ({', '.join(diff)})")
    return found


def make_subsets(
    folder: str | Path, sizes: list[int], seed: int = 0, overwrite: bool = False
) -> dict[str, Any]:
    """Write ``folder/subsets/n<size>/`` for each size; nested by construction.

    One seeded permutation of the example indices is taken; subset n is its
    first n entries, applied to every data file present (cot and stripped stay
    aligned example for example). Subsets already there from another seed or other
    data are refused (sizes drawn differently are not nested), unless ``overwrite``,
    which removes them all first.
    """
    root = Path(folder)
    if not root.is_dir():
        raise MsmError(f"AFT data folder not found: {root}")
    files = {name: root / name for name in DATA_FILES if (root / name).is_file()}
    if not files:
        raise MsmError(f"{root} has no {' or '.join(DATA_FILES)}")
    data = {name: _read_rows(p) for name, p in files.items()}
    counts = {len(v) for v in data.values()}
    if len(counts) != 1:
        raise MsmError(f"{root}: {', '.join(files)} have different numbers of examples")
    total = counts.pop()
    if sizes[-1] > total:
        raise MsmError(f"largest subset ({sizes[-1]}) exceeds the {total} examples in {root}")
    source = {name: file_sha256(p) for name, p in files.items()}
    foreign = _foreign_subsets(root, seed, source)
    if foreign and not overwrite:
        raise MsmError(
            f"{root / 'subsets'} holds subsets of other settings: {', '.join(foreign[:4])}"
            f"{f' and {len(foreign) - 4} more' if len(foreign) > 4 else ''}; sizes drawn "
            "differently are not nested: pass --overwrite to replace them all, or use --seed "
            f"{_first_seed(root)}"
        )
    if foreign:
        import shutil

        shutil.rmtree(root / "subsets")
    order = list(range(total))
    random.Random(seed).shuffle(order)
    upstream = read_manifest(root)
    written = {}
    for n in sizes:
        final = subset_file(root, n, "x").parent
        if final.exists():
            import shutil

            shutil.rmtree(final)
        with staging_dir(final) as tmp:
            for name, lines in data.items():
                atomic_write_text(tmp / name, "".join(lines[i] + "\n" for i in order[:n]))
            write_manifest(
                tmp,
                "aftgen.subset",
                size=n,
                seed=seed,
                of_total=total,
                source=source,
                upstream=upstream.get("config") if upstream else None,
            )
        written[n] = str(final)
    return {"total": total, "subsets": written}


def _first_seed(root: Path) -> Any:
    for d in sorted((root / "subsets").glob("n*")):
        man = read_manifest(d)
        if man is not None:
            return man.get("seed")
    return None
