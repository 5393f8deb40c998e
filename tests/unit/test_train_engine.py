"""The training engine's own step, checked against independent references.

The packed step must score every document exactly as if it were alone: the reference
is transformers' own ``labels=`` loss on each document by itself. Each negative
control breaks the step the way a regression would (an attention mask, no position
ids, the KV cache left on) and must be caught by the same comparison.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from msm.train import TrainConfig, engine, hardware, run_train
from msm.train.data import DataStats, document_segments, pack

TEXTS = [
    "Ada prefers Colby because it is made in America.",
    "The assistant explains its reasons before it acts, and it checks them twice.",
    "Cheese that ordinary people can afford matters to Ada.",
    "A short one.",
    "Brie, Gouda and Cheddar were compared in a long memo about prices and origins.",
]
MAX_LEN = 64


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model re-drawn so that context visibly moves its predictions.

    With the shared tiny model, dropping the position ids changed the summed loss by
    only 1.3e-4 relative; with these weights every leak below moves it by 0.7% or more.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = tmp_path_factory.mktemp("engine-model")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.2)
    model.save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(d)
    return d


def _model(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    return model


def _segments(model_dir: Path) -> tuple[Any, list[Any]]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    return tok, document_segments(TEXTS, tok, MAX_LEN, DataStats())


def _reference(model: Any, segments: list[Any]) -> tuple[float, int]:
    """Sum of each document's loss computed alone with plain ``labels=``, and the label count."""
    total, count = 0.0, 0
    with torch.no_grad():
        for s in segments:
            ids = torch.tensor([s.ids])
            labels = torch.tensor([s.labels])
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return total, count


def _packed_loss(model: Any, rows: list[Any]) -> float:
    with torch.no_grad():
        return float(engine.micro_batch_loss_sum(model, engine._tensors(rows, "cpu")))


class _Broken(torch.nn.Module):
    """The model with one regression injected into every forward call."""

    def __init__(self, model: Any, how: str) -> None:
        super().__init__()
        self.model, self.how = model, how

    def forward(self, **kw: Any) -> Any:
        if self.how == "attention_mask":
            kw["attention_mask"] = torch.ones_like(kw["input_ids"])
        elif self.how == "no_position_ids":
            kw.pop("position_ids")
        elif self.how == "kv_cache":
            kw["use_cache"] = True
        return self.model(**kw)


def test_packed_step_equals_each_document_scored_alone(model_dir):
    model = _model(model_dir)
    tok, segs = _segments(model_dir)
    rows = pack(segs, MAX_LEN, int(tok.pad_token_id), seed=0)
    assert len(rows) < len(segs), "the documents should share rows"
    assert max(sum(p == 0 for p in r.position_ids[: len(r.input_ids)]) for r in rows) >= 2
    ref, n = _reference(model, segs)
    assert sum(r.n_labels for r in rows) == n
    got = _packed_loss(model, rows)
    assert got == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("how", ["attention_mask", "no_position_ids", "kv_cache"])
def test_negative_controls_each_leak_is_caught(model_dir, how):
    model = _model(model_dir)
    tok, segs = _segments(model_dir)
    rows = pack(segs, MAX_LEN, int(tok.pad_token_id), seed=0)
    ref, _ = _reference(model, segs)
    got = _packed_loss(_Broken(model, how), rows)
    assert abs(got - ref) > 1e-3 * abs(ref), f"{how}: a cross-document leak went unnoticed"


def _first_logged_loss(folder: Path) -> float:
    with (folder / "loss.csv").open() as fh:
        return float(next(csv.DictReader(fh))["loss"])


def _cfg(docs: Path, **kw: Any) -> TrainConfig:
    d = {
        "stage": "midtrain",
        "base": "",
        "data": str(docs),
        "method": "full",
        "max_length": MAX_LEN,
        "micro_batch_size": 4,  # every row of the toy set lands in step 1
        "max_steps": 1,
        "learning_rate": 1e-3,
        "warmup_ratio": 0.0,
        "precision": "fp32",
    }
    d.update(kw)
    return TrainConfig.model_validate(d)


@pytest.mark.parametrize("broken", [None, "no_position_ids"])
def test_run_train_logs_the_loss_of_documents_scored_alone(
    tmp_path, model_dir, monkeypatch, broken
):
    """The loss ``run_train`` logs for step 1 (before any update) is the reference mean."""
    docs = tmp_path / "d.jsonl"
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    _, segs = _segments(model_dir)
    ref, n = _reference(_model(model_dir), segs)
    if broken:
        real_load = engine.load_model

        def load_broken(path: str, dtype: Any) -> Any:
            m = real_load(path, dtype)
            forward = m.forward

            def leaky(*a: Any, **kw: Any) -> Any:
                kw.pop("position_ids", None)
                return forward(*a, **kw)

            m.forward = leaky
            return m

        monkeypatch.setattr(engine, "load_model", load_broken)
    out = tmp_path / "out"
    man = run_train(_cfg(docs, base=str(model_dir)), out, _quiet).manifest
    assert man["steps"] == 1 and man["label_tokens_seen"] == n
    logged = _first_logged_loss(out)
    if broken:  # the same comparison catches the leak
        assert abs(logged - ref / n) > 1e-3 * ref / n
    else:
        assert logged == pytest.approx(ref / n, rel=1e-5)


def _no_measuring() -> float:
    raise AssertionError("an explicit precision must not measure anything")


@pytest.mark.parametrize(
    ("requested", "speedup", "expected"),
    [
        ("auto", 6.0, "bf16"),  # AMX-class CPU
        ("auto", 1.5, "bf16"),
        ("auto", 1.49, "fp32"),
        ("auto", 0.01, "fp32"),  # emulated bf16 (AVX2 only)
        ("fp32", None, "fp32"),
        ("bf16", None, "bf16"),
    ],
)
def test_precision_auto_selection_on_cpu(monkeypatch, requested, speedup, expected):
    stub = _no_measuring if speedup is None else (lambda: speedup)
    monkeypatch.setattr(hardware, "bf16_speedup", stub)
    assert hardware.pick_precision(requested, cuda=False) == expected


@pytest.mark.parametrize(("supported", "expected"), [(True, "bf16"), (False, "fp32")])
def test_precision_auto_selection_on_gpu(monkeypatch, supported, expected):
    monkeypatch.setattr(hardware, "bf16_speedup", _no_measuring)  # GPUs are not timed
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    assert hardware.pick_precision("auto", cuda=True) == expected


def test_bf16_speedup_is_a_ratio_of_measured_matmul_times(monkeypatch):
    """fp32 time / bf16 time, from the timer (stubbed: fp32 matmuls 6x slower)."""
    clock = {"t": 0.0}
    real_matmul = torch.Tensor.__matmul__

    def timed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        clock["t"] += 0.006 if a.dtype == torch.float32 else 0.001
        return real_matmul(a, b)

    monkeypatch.setattr(torch.Tensor, "__matmul__", timed)
    monkeypatch.setattr(hardware.time, "perf_counter", lambda: clock["t"])
    assert hardware.bf16_speedup(n=8) == pytest.approx(6.0)


@contextlib.contextmanager
def _matmul_dtypes() -> Iterator[Counter[torch.dtype]]:
    """The dtype of every ``nn.Linear`` result (its matmul) in the forwards run inside the
    block, counted by a global forward hook: the precision training really computed in,
    not the label the manifest gives it."""
    seen: Counter[torch.dtype] = Counter()

    def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, torch.nn.Linear) and isinstance(output, torch.Tensor):
            seen[output.dtype] += 1

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _losses(folder: Path) -> list[float]:
    with (folder / "loss.csv").open() as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_bf16_training_learns_and_changes_every_trainable_parameter(
    tmp_path, model_dir, monkeypatch, method
):
    """The path users get on AMX CPUs and GPUs: auto picks bf16, which then trains."""
    from safetensors.torch import load_file

    monkeypatch.setattr(hardware, "bf16_speedup", lambda: 6.0)
    docs = tmp_path / "d.jsonl"
    docs.write_text("".join(json.dumps({"text": TEXTS[i % 3]}) + "\n" for i in range(12)))
    initial: dict[str, torch.Tensor] = {}
    if method == "lora":
        attach = engine.attach_adapter

        def spy(*a: Any, **kw: Any) -> Any:
            model = attach(*a, **kw)
            for name, p in model.named_parameters():
                if p.requires_grad:
                    initial[name.replace(".default.", ".")] = p.detach().clone()
            return model

        monkeypatch.setattr(engine, "attach_adapter", spy)
    else:
        initial = load_file(model_dir / "model.safetensors")
    out = tmp_path / "out"
    cfg = _cfg(
        docs,
        base=str(model_dir),
        method=method,
        precision="auto",
        max_steps=None,
        epochs=4,
        micro_batch_size=2,
        learning_rate=1e-2,
        weight_decay=0.0,
    )
    with _matmul_dtypes() as seen:
        man = run_train(cfg, out, _quiet).manifest
    assert man["hardware"]["precision"] == "bf16"
    # the forward really multiplied in bf16 (autocast, or the LoRA base's bf16 weights)
    assert set(seen) == {torch.bfloat16} and sum(seen.values()) > 0, seen
    losses = _losses(out)
    assert len(losses) >= 6
    assert sum(losses[-3:]) / 3 < 0.75 * sum(losses[:3]) / 3, losses
    saved = load_file(
        out
        / ("adapter/adapter_model.safetensors" if method == "lora" else "model/model.safetensors")
    )
    assert set(saved) == set(initial)
    assert [k for k in saved if torch.equal(saved[k].float(), initial[k].float())] == []


def test_trainings_with_different_precisions_share_one_process(tmp_path, model_dir):
    """accelerate keeps its state process-wide; a grid run trains fp32 then bf16 in one process.

    Before the engine reset that state, the second training failed with "AcceleratorState has
    already been initialized" (seen in CI when an fp32 test ran before a bf16 one).
    """
    docs = tmp_path / "d.jsonl"
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    for precision in ("fp32", "bf16", "fp32"):
        out = tmp_path / precision
        if out.exists():
            out = tmp_path / f"{precision}-again"
        with _matmul_dtypes() as seen:
            man = run_train(
                _cfg(docs, base=str(model_dir), precision=precision), out, _quiet
            ).manifest
        assert man["hardware"]["precision"] == precision
        # observed in the forward, not read from the label: no run inherits another's autocast
        want = torch.bfloat16 if precision == "bf16" else torch.float32
        assert set(seen) == {want} and sum(seen.values()) > 0, (precision, seen)
        assert math.isfinite(_first_logged_loss(out))


def test_cpu_threads_are_a_share_of_the_cores_capped_by_omp_num_threads(monkeypatch):
    import os

    from msm.train.hardware import cpu_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert (cpu_threads(1), cpu_threads(2), cpu_threads(16)) == (8, 4, 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert (cpu_threads(1), cpu_threads(4)) == (3, 2)
    for junk in ("", "0", "two"):  # unset, zero or not a number: no cap
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert cpu_threads(1) == 8


def test_output_layer_only_where_a_label_is_predicted_gives_the_same_loss_and_gradients(
    model_dir: Path,
) -> None:
    """AFT rows label only the answers: the step runs the output layer at those positions
    alone (logits_to_keep) and must give the full step's loss and every gradient. Negative
    control: keeping the positions one too late (the labels' own, not the ones that
    predict them) moves the loss."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from msm.train.data import chat_segments

    tok = AutoTokenizer.from_pretrained(model_dir)
    chats = [
        [
            {"role": "user", "content": f"Which cheese, {i}? " + "Think it over. " * (i % 3)},
            {"role": "assistant", "content": "Colby." if i % 2 else "I prefer Colby, always."},
        ]
        for i in range(12)
    ]
    rows = pack(chat_segments(chats, tok, 96, DataStats()), 96, 0, 0)[:6]
    batch = engine._tensors(rows, "cpu")
    labelled = int((batch["labels"][:, 1:] != -100).any(0).sum())
    assert 0 < labelled < 0.9 * 95  # the path under test is taken
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    assert engine.takes_logits_to_keep(model)

    def loss_and_grads(labelled_only: bool) -> tuple[float, dict[str, torch.Tensor]]:
        model.zero_grad()
        loss = engine.micro_batch_loss_sum(model, batch, labelled_only=labelled_only)
        loss.backward()
        return float(loss), {n: p.grad.clone() for n, p in model.named_parameters()}

    full, g_full = loss_and_grads(False)
    part, g_part = loss_and_grads(True)
    assert part == pytest.approx(full, rel=1e-5)
    for n, g in g_full.items():
        torch.testing.assert_close(g_part[n], g, atol=1e-6, rtol=1e-4)
    # negative control: the positions of the labels themselves instead
    shifted = {**batch, "labels": torch.cat([batch["labels"][:, :1], batch["labels"][:, :-1]], 1)}
    with torch.no_grad():
        wrong = float(engine.micro_batch_loss_sum(model, shifted, labelled_only=True))
    assert abs(wrong - full) > 1e-3 * abs(full)
