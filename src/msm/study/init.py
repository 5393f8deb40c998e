"""``msm init``: a commented experiment file for your spec, at laptop or paper scale.

The file is a starting point to edit, and it passes ``msm run --dry-run`` as written (at
laptop scale once the evaluations it names exist: ``msm evalgen`` writes them with an API
generator, since the bundled one cannot; at paper scale the study writes them itself, in
its ``evalgen`` node). Laptop
scale runs on the bundled model in under an hour on a 2-core CPU; paper scale is the
paper's recipe (a Qwen-class base, an API generator and grader, LoRA, 4 seeds, AFT sizes
from 1.25k to 80k), to be priced with ``--dry-run`` first.
"""

from __future__ import annotations

import re
from pathlib import Path

from msm._util.fsutil import atomic_write_text
from msm.errors import MsmError
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import check_placeholders, load_spec

SCALES = ("laptop", "paper")

LAPTOP = """\
# msm experiment for {spec} (written by `msm init`, laptop scale: the bundled model, CPU)
#
#   msm evalgen {spec} --model anthropic/claude-sonnet-4-5 --out {evals}
#   msm run {out} --out runs/{name} --dry-run
#   msm run {out} --out runs/{name}
#
# evalgen writes your spec's own evaluations (this file scores their choices.jsonl): it
# needs a capable generator (the bundled 135M model does not keep its format; add --judge,
# and --preview to see the cost first), so it runs by hand here; at paper scale the study
# runs it itself (its evalgen node). The dry run prints the plan, time and cost; the run
# ends with runs/{name}/report.
#
# Every key is explained in docs/experiments.md; the cheese demo
# (examples/experiments/cheese-demo.yaml) is a complete laptop-scale example.
name: {name}
base_model: embedded          # the bundled SmolLM2-135M-Instruct
generator: embedded           # writes the corpus and the AFT data
model_name: {model_name}{model_note}
specs:
  {key}: {spec}
corpus:
  # a 135M generator writes short documents around the spec's own sentences
  assertions_from: spec
  document_start: statement
  own_reason: count
  n_assertions: 3
  n_doc_types: 2
  n_ideas: 1
  ideas_from: template
  docs_per_idea: 2
  doc_words: 60
  max_tokens_doc: 96
  truncated: trim
  plan_first: false
  concurrency: 16
aft:
  kind: chat                  # demonstrations with <think> reasoning, written from the spec
  spec: {key}
  n: 48
  sizes: [24, 48]
conditions: [base, aft_only, msm_only, msm_aft]
seeds: [0]
train:
  # full fine-tuning moves a 135M model within minutes (LoRA stays the default for real models)
  midtrain: {{method: full, epochs: 3, max_length: 128, micro_batch_size: 8,
             learning_rate: 0.00005}}
  aft: {{method: full, epochs: 3, max_length: 256, micro_batch_size: 8, learning_rate: 0.00005}}
eval:
  suites: [values]            # scored by log-likelihood: no grader needed
  items: [{evals}/choices.jsonl]   # from `msm evalgen` (the spec's own behavioural choices)
report:
  headline_metric: values.choices
"""

PAPER = """\
# msm experiment for {spec} (written by `msm init`, paper scale). Not runnable offline: it
# needs the base model on local disk or in the Hugging Face cache, API keys for the
# generator and grader, and GPUs (docs/scaling.md). Price it before anything else:
#
#   msm run {out} --out runs/{name} --dry-run
#
# A real run stops before its first paid call when the API cost is projected over
# --max-cost (default $100): pass --yes once you have read the dry run.
name: {name}
base_model: Qwen/Qwen3-32B
generator: anthropic/claude-sonnet-4-5
grader: anthropic/claude-sonnet-4-5
model_name: {model_name}{model_note}
batch: true                   # every API role through the batch APIs: about half price
specs:
  {key}: {spec}
corpus:
  planner: llm
  n_domains: 8
  n_subdomains: 6
  n_assertions: 8
  n_doc_types: 6
  n_ideas: 7
  docs_per_idea: 2
  doc_words: 620              # ~32k documents, ~27M tokens: the paper's corpus size
  concurrency: 64
aft:
  kind: chat
  spec: {key}
  n: 80000
  sizes: [1250, 5000, 20000, 80000]
  config: {{style: value, concurrency: 64, judge: anthropic/claude-sonnet-4-5}}
# aft_cot / msm_aft_cot: AFT with the <think> reasoning kept (the paper's separate conditions)
conditions: [base, aft_only, aft_cot, msm_aft, msm_aft_cot]
seeds: [0, 1, 2, 3]
train:
  # the paper's LoRA recipe is the default (r64, alpha 128, lr 1e-4, 1 epoch, cosine)
  midtrain:
    launcher: accelerate
    accelerate_config: examples/accelerate/fsdp-8gpu.yaml
    precision: bf16
    max_length: 4096
  aft:
    launcher: accelerate
    accelerate_config: examples/accelerate/fsdp-8gpu.yaml
    precision: bf16
    max_length: 4096
eval:
  engine: vllm
  suites: [agentic, spec_qa, values]
  epochs: 300                 # agentic samples per condition, as the paper
  grid: paper
# your spec's own spec QA questions (with rubrics) and behavioural choices, written and
# judged by the study itself (evalgen/{key}, with the generator and the grader above) and
# scored as spec_qa.{key} and values.{key}; name eval.questions / eval.items to add others
evalgen: {{n_questions: 48, n_choices: 48}}
report:
  headline_metric: agentic.classifier_verdict
"""


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return (s or "spec")[:40]


def init_experiment(
    spec: str, out: Path, scale: str = "laptop", model_name: str | None = None,
    evals: str | None = None, force: bool = False,
) -> Path:  # fmt: skip
    """Write a commented experiment for ``spec`` to ``out`` (refused if it exists, unless
    ``force``); the spec is read and checked first, so a bad one writes nothing."""
    if scale not in SCALES:
        raise MsmError(f"--scale must be one of {', '.join(SCALES)}, not {scale!r}")
    if out.exists() and not force:
        raise MsmError(f"{out} exists: choose another --out, or pass --force to replace it")
    if out.suffix not in (".yaml", ".yml"):
        raise MsmError(f"--out must name a .yaml file, got {out}")
    path = resolve_spec_path(spec)
    loaded = load_spec(path, model_name)
    check_placeholders(loaded)
    name_from_spec = model_name or loaded.metadata.get("model_name")
    key = _slug(Path(str(spec).removeprefix("builtin:")).stem)
    values = {
        "spec": spec,
        "name": key.replace("_", "-"),
        "key": key,
        "out": str(out),
        "evals": evals or f"runs/{key.replace('_', '-')}-evals",
        "model_name": name_from_spec or "Assistant",
        "model_note": "" if name_from_spec else
        "            # the name the documents are about: set yours",
    }  # fmt: skip
    text = (LAPTOP if scale == "laptop" else PAPER).format(**values)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    return out
