"""Keys in the environment never reach a file or a log.

msm reads API keys from the environment and promises never to store them
(``msm.llm.names``). This runs a small pipeline through the CLI, as a user
would, with a sentinel in every secret-bearing variable, then scans every byte
the run wrote (Inspect's zipped ``.eval`` logs unpacked) and everything it printed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import run_msm

with contextlib.suppress(ImportError):  # Python 3.14+ reads zstd zips natively
    # teaches zipfile zstandard, the compression of Inspect's .eval logs
    import zipfile_zstd  # noqa: F401

_TAG = uuid.uuid4().hex[:12]
SECRETS = {
    "ANTHROPIC_API_KEY": f"sk-ant-SENTINEL-{_TAG}-anthropic",
    "OPENAI_API_KEY": f"sk-SENTINEL-{_TAG}-openai",
    "GOOGLE_API_KEY": f"SENTINEL-{_TAG}-google",
    "MISTRAL_API_KEY": f"SENTINEL-{_TAG}-mistral",
    "TOGETHER_API_KEY": f"SENTINEL-{_TAG}-together",
    "GROQ_API_KEY": f"gsk_SENTINEL-{_TAG}-groq",
    "OPENROUTER_API_KEY": f"sk-or-SENTINEL-{_TAG}-openrouter",
    "HF_TOKEN": f"hf_SENTINEL{_TAG}hftoken",
    "HUGGING_FACE_HUB_TOKEN": f"hf_SENTINEL{_TAG}hubtoken",
    "VLLM_API_KEY": f"SENTINEL-{_TAG}-vllm",
    "LOCAL_API_KEY": f"SENTINEL-{_TAG}-local",
    "WANDB_API_KEY": f"SENTINEL{_TAG}wandb",
    # base URLs can carry credentials too; nothing here may contact them
    "OPENAI_BASE_URL": f"http://user:SENTINEL-{_TAG}-oaiurl@127.0.0.1:9/v1",
    "VLLM_BASE_URL": f"http://user:SENTINEL-{_TAG}-vllmurl@127.0.0.1:9/v1",
}
# a leak of any one value, or of the random tag alone (a key cut short or re-encoded)
NEEDLES = [v.encode() for v in SECRETS.values()] + [_TAG.encode()]


def _blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes, plus the members of zip and gzip files."""
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        data = p.read_bytes()
        yield str(p), data
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in z.namelist():
                    yield f"{p}!{name}", z.read(name)
        elif data[:2] == b"\x1f\x8b":
            yield f"{p}!gunzip", gzip.decompress(data)


def _leaks(root: Path) -> dict[str, list[str]]:
    """Where each needle was found: {file (or file!member): [needles]}."""
    found: dict[str, list[str]] = {}
    for where, data in _blobs(root):
        hits = [n.decode() for n in NEEDLES if n in data]
        if hits:
            found[where] = hits
    return found


def test_the_scanner_finds_a_planted_secret(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("log.json", b'{"x": "' + NEEDLES[0] + b'"}')
    (tmp_path / "run.eval").write_bytes(buf.getvalue())
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"key=" + NEEDLES[1]))
    leaks = _leaks(tmp_path)
    assert sorted(Path(w).name for w in leaks) == ["a.gz!gunzip", "run.eval!log.json"], leaks


def test_no_secret_reaches_files_or_output(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **SECRETS,
        "MSM_CACHE": str(tmp_path / "msm-cache"),
        "INSPECT_LOG_DIR": str(tmp_path / "inspect-logs"),
        # anything written to the user's dirs lands under tmp_path and is scanned too
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    steps = [
        (
            ["docgen", "builtin:cheese_pro_america", "--model", "fake", "--out", "D"]
            + ["--n-assertions", "1", "--n-doc-types", "1", "--n-ideas", "1"]
            + ["--tokenizer", "approx", "--quiet"],
            "D/documents.jsonl",
        ),
        (
            ["aftgen", "builtin:equanimity", "--kind", "chat", "--model", "fake"]
            + ["--n", "6", "--out", "A"],
            "A/stripped.jsonl",
        ),
        (
            ["eval", "fake", "--suite", "values", "--items", "cheese_america"]
            + ["--limit", "8", "--out", "E"],
            "E/summary.json",
        ),
    ]
    monkeypatch.chdir(tmp_path)  # relative --out folders, and any stray file, land in tmp_path
    results = [(args, made, run_msm(*args, env=env, timeout=240)) for args, made in steps]
    for args, made, r in results:
        assert r.returncode == 0, (args[0], r.stderr[-2000:])
        assert (tmp_path / made).is_file(), (args[0], made)
        for n in NEEDLES:
            assert n.decode() not in r.stdout, (args[0], "stdout")
            assert n.decode() not in r.stderr, (args[0], "stderr")
    assert list((tmp_path / "E").rglob("*.eval")), "no Inspect log was written to scan"
    assert _leaks(tmp_path) == {}
