"""Keys in the environment never reach a file or a log.

msm reads API keys from the environment and promises never to store them
(``msm.llm.names``). This runs a small pipeline through the CLI, as a user
would, with a sentinel in every secret-bearing variable, then scans every byte
the run wrote (Inspect's zipped ``.eval`` logs unpacked) and everything it printed.

The ``fake`` model reads no key, so a second run takes the real provider paths
(``openai-api/...`` and ``vllm/...``, through Inspect and the ``openai`` client)
against a local OpenAI-compatible server, and checks from the requests that the
server received the keys and URL credentials: those secrets were really used, and
still nothing kept them.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import logging
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import run_msm
from tests.helpers.openai_server import OpenAIServer

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


def _leaks(root: Path, needles: list[bytes] | None = None) -> dict[str, list[str]]:
    """Where each needle was found: {file (or file!member): [needles]}."""
    found: dict[str, list[str]] = {}
    for where, data in _blobs(root):
        hits = [n.decode() for n in needles or NEEDLES if n in data]
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


def test_inspect_http_log_lines_lose_url_credentials(caplog):
    from inspect_ai.model._providers.util.hooks import HttpxHooks

    from msm.llm.names import redact_url_credentials_in_logs

    redact_url_credentials_in_logs()
    redact_url_credentials_in_logs()  # idempotent
    log = logging.getLogger(HttpxHooks.__module__)
    caplog.set_level(logging.DEBUG, logger=log.name)
    url = SECRETS["VLLM_BASE_URL"]  # http://user:SENTINEL-...@127.0.0.1:9/v1
    log.log(15, 'POST %s/chat/completions "HTTP/1.1 200 OK" ', url)
    log.log(15, "GET http://127.0.0.1:9/v1/models (mail: a@b.org)")
    assert NEEDLES[-1].decode() not in caplog.text
    assert "POST http://***@127.0.0.1:9/v1/chat/completions" in caplog.text
    assert "(mail: a@b.org)" in caplog.text  # an address that is not a URL's is kept


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """SECRETS (``extra`` on top), with every cache and user folder under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        **SECRETS,
        **extra,
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


def test_no_secret_reaches_files_or_output(tmp_path, monkeypatch):
    env = _env(tmp_path)
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


def _basic(userinfo: str) -> str:
    return "Basic " + base64.b64encode(userinfo.encode()).decode()


def test_no_secret_leaks_on_real_provider_paths(tmp_path, monkeypatch):
    """docgen (generator + judge) and eval (model + grader) over HTTP, then the scan.

    ``openai-api/local/...`` gets a base URL with credentials in it; ``vllm/...`` a
    plain one. httpx turns a URL's ``user:password`` into a Basic ``Authorization``
    header that replaces the client's Bearer key, so the first proves the URL
    credentials were used and the second that the key was.
    """
    url_pw = f"SENTINEL-{_TAG}-localurl"
    with OpenAIServer() as srv:
        host = srv.url.removeprefix("http://")
        env = _env(
            tmp_path,
            LOCAL_BASE_URL=f"http://user:{url_pw}@{host}",
            VLLM_BASE_URL=srv.url,  # with it, Inspect connects rather than starting vLLM
        )
        gen, judge = "openai-api/local/gen-model", "vllm/judge-model"
        steps = [
            (
                ["docgen", "builtin:cheese_pro_america", "--model", gen, "--judge", judge]
                + ["--out", "D", "--n-assertions", "1", "--n-doc-types", "1"]
                + ["--n-ideas", "1", "--tokenizer", "approx", "--quiet"],
                "D/documents.jsonl",
            ),
            (
                ["eval", gen, "--suite", "values,spec_qa", "--grader", judge]
                + ["--items", "cheese_america", "--limit", "2", "--out", "E"],
                "E/summary.json",
            ),
        ]
        monkeypatch.chdir(tmp_path)
        results, n_sent = [], []
        for args, made in steps:
            results.append((args, made, run_msm(*args, env=env, timeout=240)))
            n_sent.append(len(srv.requests))
    # the secrets were used: each provider's requests carried its credentials
    secret_auth = {
        "gen-model": _basic(f"user:{url_pw}"),
        "judge-model": f"Bearer {SECRETS['VLLM_API_KEY']}",
    }
    by_model: dict[str, list[dict[str, Any]]] = {}
    for req in srv.requests:
        by_model.setdefault(req["body"]["model"] if req["body"] else "", []).append(req)
    assert sorted(by_model) == ["", "gen-model", "judge-model"], sorted(by_model)
    for model, reqs in by_model.items():
        auths = {r["headers"].get("authorization") for r in reqs}
        # "" is vllm's GET /v1/models (it reads the served context window)
        assert auths == {secret_auth.get(model, secret_auth["judge-model"])}, (model, auths)
    # ...and the URL's credentials win over LOCAL_API_KEY, which is never sent
    sent = json.dumps([r["headers"] for r in srv.requests])
    assert SECRETS["LOCAL_API_KEY"] not in sent
    # every answer counted: the server's usage blocks add up to docgen's manifest
    usage = json.loads((tmp_path / "D" / "manifest.json").read_text())["usage"]
    assert {m for u in usage.values() for m in u["models"]} == {gen, judge}
    answered = [r["usage"] for r in srv.requests[: n_sent[0]] if r["usage"]]
    assert sum(u["calls"] for u in usage.values()) == len(answered) > 0
    for ours, theirs in [("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")]:
        assert sum(u[ours] for u in usage.values()) == sum(a[theirs] for a in answered)
    # nothing secret stored or printed, including the Basic header's encoded form
    needles = NEEDLES + [_basic(f"user:{url_pw}").split()[1].encode()]
    for args, made, r in results:
        assert r.returncode == 0, (args[0], r.stdout[-2000:], r.stderr[-2000:])
        assert (tmp_path / made).is_file(), (args[0], made)
        for n in needles:
            assert n.decode() not in r.stdout, (args[0], "stdout")
            assert n.decode() not in r.stderr, (args[0], "stderr")
    logs = list((tmp_path / "E").rglob("*.eval"))
    assert len(logs) == 2, "no Inspect log was written to scan"
    summary = json.loads((tmp_path / "E" / "summary.json").read_text())
    assert summary["spec_qa"]["equanimity"]["grade"]["mean"] == 7.0  # the grader's scripted SCORE
    # Inspect's trace log names each request's URL: the scan below reads it, redacted
    traces = b"".join(d for w, d in _blobs(tmp_path / "home") if w.endswith("!gunzip"))
    assert f"***@{host}/chat/completions".encode() in traces
    assert _leaks(tmp_path, needles) == {}
