"""Disk and wall time of each node of a plan, for ``msm run --dry-run``.

Disk follows from the base model's size (``model_facts``: its ``config.json`` where it is
on this machine, else a size in its name) and what each training node saves
(``TrainConfig.save_mode``). Time comes, in this order, from: nodes already done in the
run folder (their recorded seconds, scaled by each node's work), msm's own benchmarks
for the bundled model (``benchmarks/results`` of a source checkout), or a guess from
stated assumptions. Every figure carries its basis; a guess says it is one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import msm
from msm.artifacts.run_folder import RunFolder
from msm.experiment.config import Experiment
from msm.experiment.plan import TRAINING, Node, NodeKind
from msm.train.model_io import model_facts

BYTES_PER_TOKEN = 4  # JSONL text on disk: ~4 characters a token
LOG_BYTES_PER_TOKEN = 1  # Inspect's .eval logs are compressed; prompts repeat a lot
ADAPTER_SHARE_AT_R64 = 0.0168  # LoRA r=64 on every linear layer: ~1.7% of a dense model
# guesses, used only where nothing was measured
API_LATENCY_S = 2.0  # per API call, before the first token
API_TOKENS_PER_S = 60.0  # an API model's output speed per call
INSPECT_CONCURRENCY = 100  # samples at once: Inspect's adaptive concurrency, at its ceiling
GPU_FLOPS = 989e12  # one H100-class GPU, dense bf16
TRAIN_MFU = 0.35  # share of it training reaches
GPU_BANDWIDTH = 3.35e12  # bytes/s of GPU memory: decoding reads every weight per step
DECODE_EFFICIENCY = 0.5
LOAD_S_PER_GB = 2.0  # reading (or writing) weights
CPU_FLOPS = 60e9  # a few CPU cores, fp32 (benchmarks/results: 17-130 GFLOP/s measured)


def _benchmarks() -> Path:
    return Path(msm.__file__).resolve().parents[2] / "benchmarks" / "results"


@lru_cache(maxsize=8)
def _bench(name: str) -> dict[str, Any] | None:
    try:
        data = json.loads((_benchmarks() / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _lora_params(facts: Any, cfg: Any) -> tuple[int | None, str]:
    """Trainable LoRA parameters: exact for a dense config, else a share of the model."""
    c = facts.config
    targets = cfg.target_modules
    try:
        h, layers, inter = (
            int(c["hidden_size"]),
            int(c["num_hidden_layers"]),
            int(c["intermediate_size"]),
        )
        heads = int(c["num_attention_heads"])
        hd = int(c.get("head_dim") or h // heads)
        kv = int(c.get("num_key_value_heads") or heads)
    except (KeyError, TypeError, ValueError):
        if facts.params is None:
            return None, "unknown: model size unknown"
        share = f"guess: adapter ~{ADAPTER_SHARE_AT_R64 * cfg.lora_r / 64:.1%} of the model"
        return int(facts.params * ADAPTER_SHARE_AT_R64 * cfg.lora_r / 64), share
    dims = {
        "q_proj": h + heads * hd,
        "k_proj": h + kv * hd,
        "v_proj": h + kv * hd,
        "o_proj": heads * hd + h,
        "gate_proj": h + inter,
        "up_proj": h + inter,
        "down_proj": inter + h,
    }
    if targets != "all-linear":
        dims = {k: v for k, v in dims.items() if any(t.endswith(k) for t in targets)}
    return layers * cfg.lora_r * sum(dims.values()), "adapter from config.json"


def train_disk(exp: Experiment, node: Node) -> dict[str, Any]:
    """What a training node leaves on disk, by its save mode (and the temporary peak)."""
    cfg: Any = node.config
    facts = model_facts(exp.base_model)
    mode = cfg.save_mode(facts.params)
    # a LoRA run in bf16 saves a bf16 merge; full fine-tuning trains (and saves) fp32
    width = 4 if cfg.method == "full" or cfg.precision == "fp32" else facts.bytes_per_param
    model_bytes = facts.params * width if facts.params else None
    lora, lora_src = _lora_params(facts, cfg) if cfg.method != "full" else (0, "")
    adapter = lora * 4 if lora is not None else None  # peft keeps adapters in fp32
    if mode == "full":
        saved, peak = model_bytes, model_bytes * 3 if model_bytes else None  # + Adam moments
    elif mode == "merged":
        saved = model_bytes + adapter if model_bytes and adapter is not None else None
        peak = adapter * 3 if adapter is not None else None
    else:
        saved, peak = adapter, adapter * 3 if adapter is not None else None
    basis = f"model size: {facts.source}"
    if mode == "adapter":
        basis += f"; {lora_src}"
    return {
        "save": mode,
        "disk_bytes": saved,
        "disk_basis": basis,
        "checkpoint_bytes": peak,
        "merged_bytes": model_bytes,
    }


DATA_DISK = "estimate: ~4 bytes a token, files and the call store"


def data_disk(kind: str, proj: dict[str, Any], node: Node) -> tuple[int, str]:
    if kind == "corpus":  # documents.jsonl and the call store beside it
        return int(proj["corpus_tokens"] * BYTES_PER_TOKEN * 2), DATA_DISK
    files = 2 if getattr(node.config, "kind", "chat") == "chat" else 1
    sizes = sum(node.extra.get("sizes", []))
    examples = getattr(node.config, "n", 0)
    tokens = proj.get("example_tokens", 0) * (examples + sizes) * files
    return int(tokens * BYTES_PER_TOKEN * 1.5), DATA_DISK


def eval_disk(proj: dict[str, Any]) -> tuple[int, str]:
    tokens = sum(r["input_tokens"] + r["output_tokens"] for r in proj["calls"])
    return int(tokens * LOG_BYTES_PER_TOKEN), "guess: compressed logs, ~1 byte a token"


# -- time --------------------------------------------------------------------------


def work_units(kind: str, proj: dict[str, Any]) -> float:
    """What a node's time scales with: calls (data and evals), tokens (training)."""
    if kind in TRAINING:
        return float(proj.get("train_tokens", 0))
    return float(sum(r["calls"] for r in proj.get("calls", [])))


def measured_rates(
    run: Path, plan: list[Node], projs: dict[str, dict[str, Any]], statuses: dict[str, str]
) -> dict[str, tuple[float, int]]:
    """kind -> (seconds per work unit, nodes measured), from nodes done in ``run``."""
    secs: dict[str, float] = {}
    units: dict[str, float] = {}
    count: dict[str, int] = {}
    for n in plan:
        if statuses.get(n.id) != "done":
            continue
        s = done_seconds(run, n)
        u = work_units(n.kind, projs.get(n.id, {}))
        if s is None or u <= 0:
            continue
        secs[n.kind] = secs.get(n.kind, 0.0) + s
        units[n.kind] = units.get(n.kind, 0.0) + u
        count[n.kind] = count.get(n.kind, 0) + 1
    return {k: (secs[k] / units[k], count[k]) for k in secs}


def done_seconds(run: Path, node: Node) -> float | None:
    p = RunFolder(run).node_state(node.id)
    try:
        s = json.loads(p.read_text(encoding="utf-8")).get("seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(s) if isinstance(s, int | float) and s > 0 else None


def _gpus(cfg: Any) -> int:
    """Processes of an accelerate config (GPUs), 1 without one."""
    if getattr(cfg, "launcher", "none") != "accelerate" or not cfg.accelerate_config:
        return 1
    import yaml

    try:
        data = yaml.safe_load(Path(cfg.accelerate_config).read_text(encoding="utf-8"))
        return max(1, int(data.get("num_processes", 1)))
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return 1


def _on_gpu(exp: Experiment, params: int | None) -> bool:
    """The device a guess assumes: GPUs for accelerate, vLLM or models from 1B up."""
    launchers = {str(s.get("launcher", "none")) for s in (exp.train.midtrain, exp.train.aft)}
    return "accelerate" in launchers or exp.eval.engine == "vllm" or (params or 0) >= 10**9


def guess_seconds(exp: Experiment, node: Node, proj: dict[str, Any]) -> tuple[float | None, str]:
    """(seconds, basis) for a node nothing was measured for."""
    facts = model_facts(exp.base_model)
    embedded = exp.base_model == "embedded"
    return _GUESSES[node.kind](exp, node, proj, facts, embedded)


def _generation_seconds(
    exp: Experiment, node: Node, proj: dict[str, Any], facts: Any, embedded: bool
) -> tuple[float | None, str]:
    """A generation stage's calls: local decoding, or API latency and speed at its
    concurrency."""
    cfg: Any = node.config
    total, local = 0.0, False
    if not any(r["calls"] for r in proj.get("calls", [])):
        return 1.0, "none: no LLM calls"
    for r in proj.get("calls", []):
        if not r["calls"]:
            continue
        per_call = r["output_tokens"] / r["calls"]
        if r["model"].startswith("fake"):
            continue
        if r["model"] in ("embedded",) or r["model"].startswith("hf/"):
            local = True
            total += r["output_tokens"] / _local_decode_rate()
            continue
        total += r["calls"] * (API_LATENCY_S + per_call / API_TOKENS_PER_S) / cfg.concurrency
    if local:
        return total, "benchmark: generation.json (local generation, CPU)"
    return total, (
        f"guess: {API_LATENCY_S:.0f} s + {API_TOKENS_PER_S:.0f} tokens/s a call, "
        f"{cfg.concurrency} at once"
    )


def _local_decode_rate() -> float:
    gen = _bench("generation") or {}
    rate = ((gen.get("results") or {}).get("msm_batched") or {}).get("tokens_per_s")
    return float(rate) if rate else 50.0


def _train_seconds(
    exp: Experiment, node: Node, proj: dict[str, Any], facts: Any, embedded: bool
) -> tuple[float | None, str]:
    cfg: Any = node.config
    tokens = proj.get("train_tokens", 0)
    if embedded:
        tp = _bench("train_throughput") or {}
        res = (tp.get("results") or {}).get(f"msm_{cfg.method}") or {}
        rate = res.get("tokens_per_s")
        if rate:
            secs = tokens / float(rate) + _load_s(facts)
            return secs, "benchmark: train_throughput.json (CPU)"
    if facts.params is None:
        return None, "unknown: model size unknown"
    flops = (6 if cfg.method == "full" else 4) * facts.params * tokens
    if _on_gpu(exp, facts.params):
        gpus = _gpus(cfg)
        secs = flops / (gpus * GPU_FLOPS * TRAIN_MFU) + _load_s(facts)
        return secs, f"guess: {gpus} H100-class GPU(s) at {TRAIN_MFU:.0%} of peak"
    return flops / CPU_FLOPS + _load_s(facts), "guess: CPU at ~60 GFLOP/s"


def _load_s(facts: Any) -> float:
    """Loading the weights once (and saving them): ~2 s a GB, at least 10 s."""
    size = (facts.params or 0) * facts.bytes_per_param
    return max(10.0, LOAD_S_PER_GB * size / 1e9)


def _eval_seconds(
    exp: Experiment, node: Node, proj: dict[str, Any], facts: Any, embedded: bool
) -> tuple[float | None, str]:
    """Samples overlap: with C in flight, time = generation at the server's aggregate rate
    + each sample's grader latency / C (and a prompt pass per call)."""
    mut = next((r for r in proj["calls"] if r["role"] == "model under test"), None)
    grader = next((r for r in proj["calls"] if r["role"] == "grader"), None)
    if mut is None or not mut["calls"]:
        return 0.0, "no samples"
    if embedded:
        conc, rate, prompt_s = 16, _local_decode_rate(), _local_prompt_s()
        basis = "benchmark: generation.json, values_scoring.json (CPU)"
    elif facts.params is None:
        return None, "unknown: model size unknown"
    elif _on_gpu(exp, facts.params):
        conc = INSPECT_CONCURRENCY
        # decoding reads every weight once a step, for every sequence in flight at once
        step = facts.params * facts.bytes_per_param / (GPU_BANDWIDTH * DECODE_EFFICIENCY)
        rate = min(conc / step, GPU_FLOPS * TRAIN_MFU / (2 * facts.params))
        prompt_s = 0.01
        basis = f"guess: one H100-class GPU, {conc} samples at once (Inspect's adaptive ceiling)"
    else:
        conc, rate, prompt_s = 16, CPU_FLOPS / (2 * facts.params), 0.1
        basis = "guess: CPU at ~60 GFLOP/s"
    # a prompt pass per call (log-likelihood passes are nothing else); measured per item
    # on the CPU, where batching is already in the figure
    passes = mut["calls"] * prompt_s / (1 if embedded else conc)
    secs = _load_s(facts) + mut["output_tokens"] / rate + passes
    if grader is not None and grader["calls"]:
        per = API_LATENCY_S + grader["output_tokens"] / grader["calls"] / API_TOKENS_PER_S
        secs += grader["calls"] * per / conc
        basis += f"; grader {API_LATENCY_S:.0f} s + {API_TOKENS_PER_S:.0f} tokens/s a call"
    return secs, basis


def _local_prompt_s() -> float:
    vs = _bench("values_scoring") or {}
    per_item = ((vs.get("results") or {}).get("loglik") or {}).get("wall_s_per_item")
    return float(per_item) / 2 if per_item else 0.1  # two option passes an item


# node kind -> its time guess: (experiment, node, its projection, the base model's facts,
# whether the base model is the bundled one)
_Guess = Callable[[Experiment, Node, dict[str, Any], Any, bool], tuple[float | None, str]]
_GUESSES: dict[NodeKind, _Guess] = {
    "corpus": _generation_seconds,
    "aftdata": _generation_seconds,
    "evalgen": _generation_seconds,
    "midtrain": _train_seconds,
    "aft": _train_seconds,
    "eval": _eval_seconds,
}
