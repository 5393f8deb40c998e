import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist runs its workers side by side: each gets its share of the cores (set before
# torch loads; the CLI subprocesses inherit it), else torch's thread pools oversubscribe
# the machine (measured on 2 cores: tests 2-4x slower than with one thread each)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

ROOT = Path(__file__).resolve().parents[1]
REAL_SPEC = ROOT.parent / "shared" / "specs" / "openai_model_spec_2025-12-18.md"


@pytest.fixture
def real_spec() -> Path:
    if not REAL_SPEC.is_file():
        pytest.skip(f"real-world spec not present at {REAL_SPEC}")
    return REAL_SPEC


def run_msm(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the CLI in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "msm.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def authors_home(tmp_path_factory, monkeypatch) -> Path:
    """A home folder holding a stand-in checkout of the paper authors' repository at
    ``~/model_spec_midtraining`` (where the example experiments look), set as ``HOME``."""
    from tests.helpers.authors_checkout import make_authors_checkout

    home = tmp_path_factory.mktemp("home")
    make_authors_checkout(home / "model_spec_midtraining")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def msm_cli():
    return run_msm


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama with the bundled SmolLM2 tokenizer and chat template."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def build_tiny_model(d: Path) -> Path:
    """Save a tiny random Llama (bundled SmolLM2 tokenizer and chat template) into ``d``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from msm.llm.bundled import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        # large enough that logits (tied to the embeddings) can become confident
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d
