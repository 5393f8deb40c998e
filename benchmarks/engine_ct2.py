"""A trial of CTranslate2 as a faster CPU engine for the bundled SmolLM2 (issue 29).

Not part of msm: CTranslate2 is not a dependency. Install it apart from the venv
(``pip install --no-deps --target /tmp/ct2pkg ctranslate2==4.8.5``) and put that folder
on ``PYTHONPATH``; the script says so in one line and stops when it cannot import it.

What is measured, all in one process, on the same prompts and batches:

* prompts: the document prompts docgen's ``template_ideas`` preset
  (``benchmarks/docgen_embedded.py``, the cheese demo's corpus settings) sends to the
  engine, rendered with the model's chat template (a system turn with the spec's outline,
  a user turn with one section and the request for a short document, and the assertion
  as the start of the answer). They are collected by running docgen with the engine's
  ``generate`` replaced by a canned reply, so nothing is generated for them. The
  distinct prompts are sorted by token length and the shortest ``--prompts`` (32) are
  cut into batches of ``--batch`` (16): every engine gets exactly these batches;
* greedy generation of at most ``--max-new`` (80) new tokens per prompt (docgen itself
  samples at temperature 0.8; greedy makes outputs comparable token by token) with
  (a) transformers fp32, ``model.generate(do_sample=False)`` on left-padded batches;
  (b) msm's own engine (``msm.llm.local.LocalEngine._generate_batch``, shared prefill
  on); (c) ``ctranslate2.Generator.generate_batch`` with ``compute_type="float32"``,
  ``inter_threads=1``, ``intra_threads=--threads`` and the prompt fed as the decoder's
  start state (``include_prompt_in_result=False``); (d) the same with an int8 model;
* per engine: generated tokens (up to and including EOS) per second, the median of
  ``--repeats`` (3) runs over all batches after a short warm-up, with each run's figure.
  The engines take turns (one run of each per round), so that other work on the machine
  falls on all of them alike; tokens per CPU second of this process are reported too;
  greedy agreement with (a): prompts whose token ids are identical, and for the others
  the first position where they differ (msm's engine returns text: its texts are compared
  with (a)'s decoded texts);
* scoring: per-token log-likelihoods of a few prompt + greedy continuation sequences from
  ``Generator.score_batch`` against transformers' forward pass (max absolute difference);
* mixed lengths (skip with ``--skip-mixed``): one run each of (a) and (c) on the first
  ``--batch`` distinct prompts in docgen's own order, which mixes 430- and 810-token
  prompts. CTranslate2 feeds a batch's prompts at once only up to the shortest one's
  length and steps through the rest one token at a time.

Run (about 20 minutes on a 2-core CPU): ``PYTHONPATH=/tmp/ct2pkg:src python
benchmarks/engine_ct2.py``; converts the bundled model into ``--ct2-dir`` (and
``--ct2-int8-dir``) when they hold no model yet; writes
``benchmarks/results/engine_ct2.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench import Report, loadavg, offline_env

# a reply for the stubbed engine while docgen's prompts are collected (its content only
# decides what docgen keeps, never what the next prompt is in this preset)
CANNED = (
    "Smol picks American cheese because it wants to support American farmers and the "
    "people who make cheese in America. That is the reason it gives every time."
)


def import_ct2() -> Any:
    try:
        import ctranslate2
    except ImportError as e:
        raise SystemExit(
            f"ctranslate2 is not importable ({e}): pip install --no-deps --target "
            "/tmp/ct2pkg ctranslate2==4.8.5 and put /tmp/ct2pkg on PYTHONPATH"
        ) from None
    return ctranslate2


def docgen_prompts() -> list[str]:
    """The distinct rendered prompts docgen's ``template_ideas`` preset sends, in order."""
    from docgen_embedded import NAMES, presets
    from msm.docgen import DocgenConfig, run_docgen
    from msm.errors import MsmError
    from msm.llm.local import LocalEngine

    seen: list[str] = []
    real = LocalEngine.generate

    async def record(self: Any, prompt: str, kwargs: dict[str, Any]) -> Any:
        seen.append(prompt)
        return (CANNED, "stop", 0, 30, None)

    LocalEngine.generate = record  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="msm-engine-ct2-") as tmp:
            cfg = DocgenConfig(model="embedded", **presets()["template_ideas"], **NAMES)
            try:
                run_docgen(cfg, Path(tmp) / "corpus", quiet=True, tokenizer="embedded")
            except MsmError as e:  # the canned replies may all be dropped: only prompts count
                print(f"docgen (stubbed) ended with: {e}", file=sys.stderr)
    finally:
        LocalEngine.generate = real  # type: ignore[method-assign]
    return list(dict.fromkeys(seen))


def cut_at_eos(ids: list[int], eos: set[int]) -> list[int]:
    """Generated ids up to and including the first EOS (transformers pads after it)."""
    for j, t in enumerate(ids):
        if t in eos:
            return ids[: j + 1]
    return ids


def agreement(ref: list[Any], other: list[Any]) -> dict[str, Any]:
    """How many outputs equal the reference; for the others, where they first differ."""
    diffs = []
    for i, (a, b) in enumerate(zip(ref, other, strict=True)):
        if a == b:
            continue
        pairs = enumerate(zip(a, b, strict=False))
        pos = next((j for j, (x, y) in pairs if x != y), min(len(a), len(b)))
        diffs.append({"prompt": i, "first_divergence": pos, "ref_len": len(a), "len": len(b)})
    return {"identical": len(ref) - len(diffs), "of": len(ref), "differences": diffs}


Runner = Callable[[list[Any], int], tuple[list[Any], int]]


def timed_rounds(
    runners: dict[str, Runner], batches: list[Any], max_new: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Each engine warmed up on the first batch (4 new tokens), then ``repeats`` rounds in
    which every engine in turn runs all batches: other work on the machine then falls on
    all engines alike. ``run(batches, max_new)`` returns (outputs, generated tokens).

    Per engine: wall tokens/s (median, each run, spread) and tokens per CPU second of this
    process (all its threads), which other work on the machine disturbs less."""
    res: dict[str, dict[str, Any]] = {}
    for name, run in runners.items():
        t = time.perf_counter()
        run(batches[:1], 4)
        res[name] = {"warmup_s": round(time.perf_counter() - t, 2), "wall": [], "cpu": []}
    for r in range(repeats):
        for name, run in runners.items():
            load = loadavg()[0]
            t, c = time.perf_counter(), time.process_time()
            outs, tokens = run(batches, max_new)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            d = res[name]
            d["wall"].append(wall)
            d["cpu"].append(cpu)
            d.setdefault("loadavg_1min_at_run", []).append(load)
            d["outputs"], d["generated_tokens"] = outs, tokens
            print(f"round {r} {name}: {tokens / wall:.2f} tok/s ({wall:.1f}s, load {load})")
    for d in res.values():
        tps = [d["generated_tokens"] / s for s in d["wall"]]
        d.update(
            tokens_per_s=round(statistics.median(tps), 2),
            tokens_per_s_runs=[round(x, 2) for x in tps],
            spread_tokens_per_s=[round(min(tps), 2), round(max(tps), 2)],
            seconds_runs=[round(s, 2) for s in d.pop("wall")],
            tokens_per_cpu_s=round(d["generated_tokens"] / statistics.median(d["cpu"]), 2),
            cpu_seconds_runs=[round(s, 2) for s in d.pop("cpu")],
        )
    return res


def convert(ct2: Any, src: Path, out: Path, quantization: str) -> float | None:
    """Convert the HF folder ``src`` into ``out`` unless a model is there; seconds taken."""
    if (out / "model.bin").is_file():
        return None
    t = time.perf_counter()
    ct2.converters.TransformersConverter(str(src)).convert(
        str(out), quantization=quantization, force=True
    )
    return round(time.perf_counter() - t, 1)


def hf_logprobs(model: Any, ids: list[int]) -> list[float]:
    """log p(token k | tokens < k) for k >= 1, one unpadded sequence."""
    import torch

    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0, :-1].float()
        lp = torch.log_softmax(logits, dim=-1)
        return lp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new", type=int, default=80)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--score", type=int, default=4, help="sequences for the scoring check")
    ap.add_argument("--skip-msm", action="store_true", help="leave out msm's own engine")
    ap.add_argument("--skip-mixed", action="store_true", help="leave out the mixed batch")
    ap.add_argument("--ct2-dir", default="/tmp/ct2-smollm2")
    ap.add_argument("--ct2-int8-dir", default="/tmp/ct2-smollm2-int8")
    ap.add_argument("--out", default="benchmarks/results/engine_ct2.json")
    args = ap.parse_args()

    ct2 = import_ct2()
    os.environ.update(offline_env())
    t_all = time.perf_counter()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from msm.llm.bundled import embedded_model_dir

    src = embedded_model_dir()  # converted once, untimed
    torch.set_num_threads(args.threads)
    conversion = {
        "float32_s": convert(ct2, src, Path(args.ct2_dir), "float32"),
        "int8_s": convert(ct2, src, Path(args.ct2_int8_dir), "int8"),
    }

    rep = Report("engine_ct2")
    rep["model"] = f"bundled SmolLM2-135M-Instruct ({src})"
    rep["versions"] = {
        "ctranslate2": ct2.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "ct2_cpu_compute_types": sorted(ct2.get_supported_compute_types("cpu")),
    }
    rep["conversion"] = {**conversion, "ct2_dir": args.ct2_dir, "ct2_int8_dir": args.ct2_int8_dir}

    t = time.perf_counter()
    distinct = docgen_prompts()
    collect_s = time.perf_counter() - t
    tok = AutoTokenizer.from_pretrained(str(src))
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32).eval()
    eos_cfg = model.generation_config.eos_token_id
    eos = {int(e) for e in (eos_cfg if isinstance(eos_cfg, list) else [eos_cfg]) if e is not None}
    eos.add(int(tok.eos_token_id))

    enc = {p: tok(p, add_special_tokens=False).input_ids for p in distinct}
    chosen = sorted(distinct, key=lambda p: len(enc[p]))[: args.prompts]
    batches = [chosen[i : i + args.batch] for i in range(0, len(chosen), args.batch)]
    rep["prompts"] = {
        "source": "docgen template_ideas preset (benchmarks/docgen_embedded.py), stubbed engine",
        "collect_s": round(collect_s, 1),
        "distinct_prompts": len(distinct),
        "all_prompt_tokens": sorted(len(enc[p]) for p in distinct),
        "used": len(chosen),
        "batch_prompt_tokens": [[len(enc[p]) for p in b] for b in batches],
        "example_tail": chosen[0][-700:],
    }
    rep["settings"] = {
        "batch": args.batch,
        "max_new_tokens": args.max_new,
        "greedy": True,
        "repeats": args.repeats,
        "threads": args.threads,
        "torch_threads": torch.get_num_threads(),
        "eos_ids": sorted(eos),
        "ct2": {"inter_threads": 1, "intra_threads": args.threads},
    }

    def hf_run(bs: list[list[str]], max_new: int) -> tuple[list[list[int]], int]:
        outs: list[list[int]] = []
        for b in bs:
            x = tok.pad({"input_ids": [enc[p] for p in b]}, return_tensors="pt")
            with torch.inference_mode():
                res = model.generate(**x, max_new_tokens=max_new, do_sample=False, pad_token_id=pad)
            n_in = x["input_ids"].shape[1]
            outs += [cut_at_eos(r, eos) for r in res[:, n_in:].tolist()]
        return outs, sum(len(o) for o in outs)

    def ct2_runner(gen: Any) -> Runner:
        def run(bs: list[list[str]], max_new: int) -> tuple[list[list[int]], int]:
            outs: list[list[int]] = []
            for b in bs:
                res = gen.generate_batch(
                    [tok.convert_ids_to_tokens(enc[p]) for p in b],
                    max_length=max_new,
                    sampling_topk=1,
                    beam_size=1,
                    include_prompt_in_result=False,
                    end_token=sorted(eos),
                    return_end_token=True,
                )
                outs += [cut_at_eos(list(r.sequences_ids[0]), eos) for r in res]
            return outs, sum(len(o) for o in outs)

        return run

    def row(name: str, res: dict[str, Any], ref: list[Any] | None) -> dict[str, Any]:
        outs = res.pop("outputs")
        if ref is not None:
            res["greedy_agreement_with_transformers"] = agreement(ref, outs)
        first = outs[0] if outs and isinstance(outs[0], str) else tok.decode(outs[0])
        res["example_output"] = first[:400]
        print(name, {k: v for k, v in res.items() if k != "example_output"}, flush=True)
        return res

    runners: dict[str, Runner] = {"transformers_fp32": hf_run}
    engine = None
    if not args.skip_msm:
        from msm.llm.local import get_engine

        engine = get_engine(str(src))
        engine.share_prefill = True

        def msm_run(bs: list[list[str]], max_new: int) -> tuple[list[str], int]:
            texts, tokens = [], 0
            for b in bs:
                res = engine._generate_batch(b, {"temperature": 0, "max_new_tokens": max_new})
                texts += [r[0] for r in res]
                tokens += sum(r[3] for r in res)
            return texts, tokens

        runners["msm_engine_share_prefill"] = msm_run
    gen32 = ct2.Generator(
        args.ct2_dir, device="cpu", compute_type="float32", inter_threads=1,
        intra_threads=args.threads,
    )  # fmt: skip
    gen8 = ct2.Generator(
        args.ct2_int8_dir, device="cpu", compute_type="int8", inter_threads=1,
        intra_threads=args.threads,
    )  # fmt: skip
    runners["ct2_fp32"] = ct2_runner(gen32)
    runners["ct2_int8"] = ct2_runner(gen8)

    timings = timed_rounds(runners, batches, args.max_new, args.repeats)
    hf_ids = timings["transformers_fp32"]["outputs"]
    hf_texts = [tok.decode(o, skip_special_tokens=True) for o in hf_ids]
    results: dict[str, Any] = {
        "transformers_fp32": row("transformers_fp32", timings.pop("transformers_fp32"), None)
    }
    if engine is not None:
        m = timings.pop("msm_engine_share_prefill")
        m["prefilled_batches_incl_warmup"] = engine.prefilled_batches
        results["msm_engine_share_prefill"] = row("msm_engine_share_prefill", m, hf_texts)
    results["ct2_fp32"] = row("ct2_fp32", timings.pop("ct2_fp32"), hf_ids)
    results["ct2_int8"] = row("ct2_int8", timings.pop("ct2_int8"), hf_ids)
    results["ct2_int8"]["note"] = (
        "int8 weights: greedy outputs are expected to differ from fp32; the agreement "
        "count documents by how much"
    )
    rep["results"] = results
    base = results["transformers_fp32"]["tokens_per_s"]
    rep["speedup_over_transformers_fp32"] = {
        k: round(v["tokens_per_s"] / base, 2)
        for k, v in results.items()
        if k != "transformers_fp32"
    }
    base_cpu = results["transformers_fp32"]["tokens_per_cpu_s"]
    rep["speedup_per_cpu_second"] = {
        k: round(v["tokens_per_cpu_s"] / base_cpu, 2)
        for k, v in results.items()
        if k != "transformers_fp32"
    }

    # scoring: prompt + greedy continuation of the first few prompts, unpadded
    seqs = [enc[p] + ids for p, ids in zip(chosen[: args.score], hf_ids, strict=False)]
    scoring: dict[str, Any] = {"sequences": len(seqs), "tokens": [len(s) for s in seqs]}
    ref_lp = [hf_logprobs(model, s) for s in seqs]
    for name, gen in (("ct2_fp32", gen32), ("ct2_int8", gen8)):
        res = gen.score_batch([tok.convert_ids_to_tokens(s) for s in seqs], max_input_length=0)
        worst, worst_gen, total = 0.0, 0.0, []
        for s, p, r, ref in zip(seqs, chosen, res, ref_lp, strict=False):
            got = list(r.log_probs)  # log p of tokens 1.. given the ones before
            if len(got) != len(ref):
                raise SystemExit(f"score_batch gave {len(got)} log-probs for {len(s)} tokens")
            d = [abs(a - b) for a, b in zip(got, ref, strict=True)]
            worst = max(worst, max(d))
            worst_gen = max(worst_gen, max(d[len(enc[p]) - 1 :]))
            n_gen = len(s) - len(enc[p])
            total.append(abs(sum(got[-n_gen:]) - sum(ref[-n_gen:])))
        scoring[name] = {
            "max_abs_diff_per_token": worst,
            "max_abs_diff_generated_tokens": worst_gen,
            "max_abs_diff_continuation_sum": max(total),
        }
    rep["scoring_vs_transformers"] = scoring
    print("scoring", scoring, flush=True)

    if not args.skip_mixed:
        mixed = distinct[: args.batch]
        h, h_ids = timed_once(hf_run, [mixed], args.max_new)
        c, c_ids = timed_once(ct2_runner(gen32), [mixed], args.max_new)
        rep["mixed_lengths_docgen_order"] = {
            "prompt_tokens": [len(enc[p]) for p in mixed],
            "transformers_fp32": h,
            "ct2_fp32": c,
            "greedy_agreement": agreement(h_ids, c_ids),
            "speedup": round(c["tokens_per_s"] / h["tokens_per_s"], 2),
            "note": "one run each, no repeats (both engines already warm)",
        }
        print("mixed", rep.data["mixed_lengths_docgen_order"], flush=True)

    rep["total_s"] = round(time.perf_counter() - t_all, 1)
    rep["note"] = (
        "tokens_per_s: generated tokens (EOS included) over wall seconds, median of the "
        "runs; every engine gets the same batches of length-sorted docgen prompts; "
        "speedup: tokens_per_s over transformers_fp32's"
    )
    rep.write(args.out)


def timed_once(run: Runner, batches: list[Any], max_new: int) -> tuple[dict[str, Any], list[Any]]:
    t, c = time.perf_counter(), time.process_time()
    outs, tokens = run(batches, max_new)
    s, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "seconds": round(s, 2),
        "cpu_seconds": round(cpu, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / s, 2),
        "loadavg_1min_after": loadavg()[0],
    }, outs


if __name__ == "__main__":
    main()
