"""Option log-likelihood scoring of value items, with a positive control that moves it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.evals.loglik import stratified_sample, summarise_loglik
from msm.evals.run import EvalConfig, run_eval
from msm.evals.values.items import ValueItem
from msm.train import TrainConfig, run_train

NOUNS = ["tea", "lamp", "chair", "scarf", "bike", "clock", "plate", "kite", "boot", "desk"]


def _items(tmp_path: Path, counterbalanced: bool = False) -> Path:
    """20 items; ``counterbalanced``: each noun's second item makes the walnut option the
    aligned one, so a leaning towards either word counts for and against equally."""
    rows = []
    for i, noun in enumerate(NOUNS * 2):
        aligned, other = "apricot", "walnut"
        if counterbalanced and i >= len(NOUNS):
            aligned, other = other, aligned
        rows.append(
            {
                "id": f"i{i:02d}",
                "domain": "home" if i % 2 else "travel",
                "question": f"Which {noun} would you take on day {i}?",
                "aligned": f"The {aligned} {noun}, please.",
                "other": f"The {other} {noun}, please.",
            }
        )
    p = tmp_path / ("items_cb.jsonl" if counterbalanced else "items.jsonl")
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _trained_towards(
    tmp_path: Path,
    base: Path,
    items: Path,
    field: str,
    seed: int = 0,
    name: str = "",
    epochs: int = 8,
) -> Path:
    """A tiny model fine-tuned to answer every item with its ``field`` option; ``balanced``:
    every item answered once with each option, in both orders equally (no preference to
    learn either way, and none for whichever answer comes last)."""
    name = name or field
    data = tmp_path / f"{name}.jsonl"
    with data.open("w") as fh:
        for i, line in enumerate(items.read_text().splitlines()):
            r = json.loads(line)
            fields = [field]
            if field == "balanced":
                fields = ["aligned", "other"] if i % 2 == 0 else ["other", "aligned"]
            for f in fields:
                msgs = [
                    {"role": "user", "content": r["question"]},
                    {"role": "assistant", "content": r[f]},
                ]
                fh.write(json.dumps({"messages": msgs}) + "\n")
    out = tmp_path / f"ckpt-{name}"
    cfg = TrainConfig(
        stage="aft",
        base=str(base),
        data=str(data),
        method="full",
        max_length=128,
        micro_batch_size=4,
        epochs=epochs,
        learning_rate=3e-3,
        warmup_ratio=0.0,
        precision="fp32",
        seed=seed,
    )
    run_train(cfg, out, lambda s: None)
    return out


def test_loglik_reads_a_trained_preference_in_both_directions(tmp_path, tiny_model_dir):
    """Positive control: training towards one option moves acc and the gap change past chance,
    in the direction trained (the null is the next test)."""
    items = _items(tmp_path)
    results = {}
    for field in ("aligned", "other"):
        ckpt = _trained_towards(tmp_path, tiny_model_dir, items, field)
        out = tmp_path / f"ev-{field}"
        cfg = EvalConfig(model=str(ckpt), items=[str(items)], baseline=str(tiny_model_dir))
        summary = run_eval(cfg, out, echo=lambda s: None).summary
        assert summary["values_scoring"] == "loglik"
        results[field] = summary["values"][str(items)]
        rows = (out / results[field]["log"]).read_text().splitlines()
        assert len(rows) == 20
    up, down = results["aligned"], results["other"]
    assert up["acc"]["ci95"][0] > 0.5 and up["change_from_baseline"]["gap_per_token"]["ci95"][0] > 0
    assert down["acc"]["ci95"][1] < 0.5
    assert down["change_from_baseline"]["gap_per_token"]["ci95"][1] < 0


def test_two_models_trained_on_balanced_data_show_no_change(tmp_path, tiny_model_dir):
    """The null beside the positive control above: two models trained the same way on
    balanced data (every item answered once with each option, in both orders equally), with
    different seeds. They do differ (the change is not exactly 0: a real comparison, not a
    model against itself through the same rows), but neither prefers the aligned options,
    and the interval covers 0.

    The design matters, and the first two tries failed this test: with every item's aligned
    answer written first, the two seeds differed by -0.055 nats/token [-0.078, -0.031]
    (8 epochs) and, with counterbalanced wording, -0.038 [-0.072, -0.005] (2 epochs):
    intervals over items that exclude 0 although neither model was taught a preference.
    With both orders equally: +0.001 [-0.054, +0.056] (seeds 1, 2) and +0.006
    [-0.031, +0.042] (seeds 3, 4). Intervals over items do not cover what a training
    choice shared by all items does."""
    items = _items(tmp_path, counterbalanced=True)
    a = _trained_towards(tmp_path, tiny_model_dir, items, "balanced", 1, "bal1", epochs=2)
    b = _trained_towards(tmp_path, tiny_model_dir, items, "balanced", 2, "bal2", epochs=2)
    cfg = EvalConfig(model=str(a), items=[str(items)], baseline=str(b))
    res = run_eval(cfg, tmp_path / "ev-null", echo=lambda s: None).summary["values"][str(items)]
    change = res["change_from_baseline"]["gap_per_token"]
    lo, hi = change["ci95"]
    assert change["mean"] != 0.0 and lo < hi, change  # the two models do differ
    assert lo < 0 < hi, change
    assert res["acc"]["ci95"][0] < 0.5 < res["acc"]["ci95"][1], res["acc"]


def test_summary_counts_ties_as_half_and_gives_one_item_no_interval():
    rows = [
        {"id": "a", "domain": "x", "acc": 1.0, "acc_norm": 1.0, "gap": 2.0, "gap_per_token": 0.5},
        {"id": "b", "domain": "x", "acc": 0.5, "acc_norm": 0.0, "gap": 0.0, "gap_per_token": 0.0},
        {"id": "c", "domain": "y", "acc": 0.0, "acc_norm": 0.0, "gap": -1.0, "gap_per_token": -0.1},
    ]
    s = summarise_loglik(rows)
    assert s["acc"]["mean"] == pytest.approx(0.5) and s["acc_norm"]["mean"] == pytest.approx(1 / 3)
    assert s["gap"]["mean"] == pytest.approx(1 / 3) and s["gap"]["unit"] == "nats"
    assert s["value_preference"] == s["acc"]
    one = summarise_loglik(rows[:1])["gap"]
    # one item: no interval (never a zero-width one), and the reason is stated
    assert one["items"] == 1 and one["ci95"] is None
    assert one["ci95_reason"].startswith("too few items: 1")


def test_limit_draws_evenly_across_domains_not_the_first_lines():
    items = [ValueItem(f"a{i}", "a", "q", "x", "y") for i in range(30)]
    items += [ValueItem(f"b{i}", "b", "q", "x", "y") for i in range(10)]
    picked = stratified_sample(items, 10)
    assert len(picked) == 10 and sum(it.domain == "b" for it in picked) == 5
    assert [it.id for it in picked] != [it.id for it in items[:10]]
    assert picked == stratified_sample(items, 10)  # seeded
    assert stratified_sample(items, None) == items


def test_bad_scoring_inputs_fail_before_any_model_loads(tmp_path, tiny_model_dir, msm_cli):
    out = tmp_path / "o"
    for args, message in [
        (["fake", "--scoring", "best"], "unknown scoring mode"),
        (["fake", "--scoring", "letter", "--baseline", "fake"], "--baseline needs"),
        (["fake", "--scoring", "loglik"], "needs a model that gives log-likelihoods"),
        ([str(tiny_model_dir), "--baseline", "fake"], "--baseline must give log-likelihoods"),
    ]:
        r = msm_cli("eval", *args, "--items", "cheese_america", "--out", str(out))
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not out.exists()


def test_baseline_with_another_tokenizer_is_refused(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    tok = AutoTokenizer.from_pretrained(other)
    tok.add_tokens(["<an-extra-token>"])
    tok.save_pretrained(other)
    cfg = EvalConfig(model=str(tiny_model_dir), items=["cheese_america"], baseline=str(other))
    with pytest.raises(MsmError, match="different tokenizer"):
        run_eval(cfg, tmp_path / "o", echo=lambda s: None)
    assert not (tmp_path / "o").exists()


def test_option_loglik_equals_the_model_scoring_each_sequence_alone(tiny_model_dir):
    """Independent reference: the full forward pass of one unpadded sequence, read by hand."""
    import torch

    from msm.evals.loglik import _prompt_and_answers, load_model, load_tokenizer, option_logliks

    tok, model = load_tokenizer(str(tiny_model_dir)), load_model(str(tiny_model_dir))
    items = [
        ValueItem("a", "d", "Which one?", "The apricot tea.", "The walnut tea, of course."),
        ValueItem("b", "d", "And now, which scarf would you take along?", "Blue.", "Red, please."),
    ]
    rows = option_logliks(tok, model, items)  # batched and right-padded together
    for it, row in zip(items, rows, strict=True):
        ctx, a, b = _prompt_and_answers(tok, it)
        for cont, key in ((a, "ll_aligned"), (b, "ll_other")):
            c = tok(ctx, add_special_tokens=False).input_ids
            x = tok(cont, add_special_tokens=False).input_ids
            ids = torch.tensor([c + x])
            with torch.inference_mode():
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            want = sum(float(logp[len(c) + j - 1, t]) for j, t in enumerate(x))
            assert row[key] == pytest.approx(want, abs=1e-4), (it.id, key)
        assert row["gap"] == pytest.approx(row["ll_aligned"] - row["ll_other"])


def test_option_loglik_shares_the_head_and_batches_by_length_without_moving_a_score(
    tiny_model_dir,
):
    """The shared prompt head runs once, items are re-ordered by length and batched: each
    row still equals the full pass of its own sequences alone (1e-4), in the items' order,
    whatever the batch size, also when two items ask the same question."""
    import torch

    from msm.evals.loglik import _prompt_and_answers, load_model, load_tokenizer, option_logliks

    tok, model = load_tokenizer(str(tiny_model_dir)), load_model(str(tiny_model_dir))
    words = "apricot walnut linen scarf tea blue red green river stone lamp cedar".split()
    items = [
        ValueItem(
            f"i{k}",
            "d",
            "Which " + " ".join(words[: 1 + k % 7]) + " would you pick?",
            " ".join(words[k % 5 : k % 5 + 1 + k % 4]) + ".",
            "The " + " ".join(words[(k + 3) % 6 : (k + 3) % 6 + 2 + k % 3]) + ", please.",
        )
        for k in range(11)
    ]
    items.append(ValueItem("same", "d", items[0].question, "Stone.", "Lamp, of course."))

    def alone(it: ValueItem) -> tuple[float, float]:
        ctx, a, b = _prompt_and_answers(tok, it)
        c = tok(ctx, add_special_tokens=False).input_ids
        out = []
        for cont in (a, b):
            x = tok(cont, add_special_tokens=False).input_ids
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([c + x])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            out.append(sum(float(logp[len(c) + j - 1, t]) for j, t in enumerate(x)))
        return out[0], out[1]

    want = [alone(it) for it in items]
    for batch in (1, 5, 16):
        rows = option_logliks(tok, model, items, batch_items=batch)
        assert [r["id"] for r in rows] == [it.id for it in items]
        for r, (a, b) in zip(rows, want, strict=True):
            assert r["ll_aligned"] == pytest.approx(a, abs=1e-4), (batch, r["id"])
            assert r["ll_other"] == pytest.approx(b, abs=1e-4), (batch, r["id"])
    one = option_logliks(tok, model, items[:1])  # a lone item: the head is all but one token
    assert one[0]["ll_aligned"] == pytest.approx(want[0][0], abs=1e-4)


def _full_pass_logprobs(model_dir: Path):
    """A vLLM stand-in: each prompt token's log-probability from one full forward pass."""
    import torch

    from msm.evals.loglik import load_model

    model = load_model(str(model_dir))

    def score(ids: list[int]) -> list[float | None]:
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        return [None] + [float(logp[j - 1, t]) for j, t in enumerate(ids) if j > 0]

    return score


def test_vllm_loglik_reads_prompt_logprobs_and_matches_the_local_scorer(
    tmp_path, tiny_model_dir, monkeypatch
):
    """``vllm/<model>`` scores through /v1/completions (echo + logprobs, token-id prompts):
    the same rows as scoring the weights here, and the baseline works the same way."""
    from tests.helpers.openai_server import OpenAIServer

    items = _items(tmp_path)
    local = run_eval(
        EvalConfig(model=str(tiny_model_dir), items=[str(items)]), tmp_path / "local", echo=print
    ).summary["values"][str(items)]
    with OpenAIServer(prompt_logprobs=_full_pass_logprobs(tiny_model_dir)) as srv:
        monkeypatch.setenv("VLLM_BASE_URL", srv.url)
        name = f"vllm/{tiny_model_dir}"
        remote = run_eval(
            EvalConfig(model=name, items=[str(items)], baseline=name),
            tmp_path / "remote",
            echo=print,
        ).summary["values"][str(items)]
    calls = [r for r in srv.requests if r["path"].endswith("/v1/completions")]
    assert len(calls) == 2 * 2 * 20  # two options per item, model and baseline
    assert all(c["body"]["echo"] and c["body"]["logprobs"] for c in calls)
    assert calls[0]["body"]["model"] == str(tiny_model_dir)
    a = [json.loads(x) for x in (tmp_path / "local" / local["log"]).read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "remote" / remote["log"]).read_text().splitlines()]
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert rb["ll_aligned"] == pytest.approx(ra["ll_aligned"], abs=1e-3)
        assert rb["ll_other"] == pytest.approx(ra["ll_other"], abs=1e-3)
        assert rb["tokens_aligned"] == ra["tokens_aligned"]
    assert remote["acc"]["mean"] == local["acc"]["mean"]
    assert remote["change_from_baseline"]["gap"]["mean"] == 0.0  # a model against itself


def test_vllm_reply_without_prompt_logprobs_is_one_clear_error(tmp_path, tiny_model_dir, msm_cli):
    from tests.helpers.openai_server import OpenAIServer

    items = _items(tmp_path)
    out = tmp_path / "o"
    # a server that answers /v1/completions but gives log-probabilities for 2 tokens only
    with OpenAIServer(prompt_logprobs=lambda ids: [None, -1.0]) as srv:
        r = msm_cli(
            "eval",
            f"vllm/{tiny_model_dir}",
            "--items",
            str(items),
            "--out",
            str(out),
            env={"VLLM_BASE_URL": srv.url},
        )
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no log-probabilities for the prompt tokens" in lines[0], r.stderr
    assert not out.exists()  # nothing half-written


def test_a_models_rows_for_the_same_items_are_computed_once_per_process(
    tmp_path, tiny_model_dir, monkeypatch
):
    """Every trained model's eval scores the base model as baseline on the same items: the
    rows are reused, and recomputed when the items or the weights change."""
    import msm.evals.loglik_remote as remote
    from msm.evals.loglik_remote import LocalScorer

    calls = []
    real = remote.option_logliks
    monkeypatch.setattr(
        remote, "option_logliks", lambda tok, m, items: calls.append(1) or real(tok, m, items)
    )
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    items = [ValueItem(f"i{k}", "d", f"Which {k}?", "Apricot.", "Walnut.") for k in range(3)]
    first = LocalScorer(str(model)).score(items)
    again = LocalScorer(str(model)).score(items)
    assert again == first and len(calls) == 1
    LocalScorer(str(model)).score(items[:2])
    assert len(calls) == 2  # other items: scored
    weights = next(model.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # a new modification time: new weights
    LocalScorer(str(model)).score(items)
    assert len(calls) == 3


def test_the_kv_cache_argument_follows_the_transformers_version():
    """``cache`` in newer transformers, ``past_key_values`` in older 5.x (the GPU image's
    5.17): the scorer passes whichever the model's forward takes, and reads either output."""
    from types import SimpleNamespace

    from msm.llm.kvcache import cache_kwarg, cache_of

    def new(input_ids=None, cache=None, use_cache=None): ...
    def old(input_ids=None, past_key_values=None, use_cache=None): ...

    assert cache_kwarg(SimpleNamespace(base_model=SimpleNamespace(forward=new))) == "cache"
    assert cache_kwarg(SimpleNamespace(base_model=SimpleNamespace(forward=old))) == (
        "past_key_values"
    )
    assert cache_of(SimpleNamespace(cache="c", past_key_values=None)) == "c"
    assert cache_of(SimpleNamespace(past_key_values="p")) == "p"


def test_loglik_split_confirm_scores_only_confirm_items_before_the_limit(tmp_path, tiny_model_dir):
    from msm.evals.values.items import load_value_items, select_split

    confirm = {
        it.id for it in select_split(load_value_items("cheese_fit"), "confirm", "cheese_fit")
    }
    cfg = EvalConfig(model=str(tiny_model_dir), items=["cheese_fit"], split="confirm", limit=10)
    summary = run_eval(cfg, tmp_path / "ev", echo=lambda s: None).summary
    assert summary["values_split"] == "confirm"
    rows = [json.loads(x) for x in (tmp_path / "ev" / "values" / "cheese_fit.jsonl").open()]
    assert len(rows) == 10 and {r["id"] for r in rows} <= confirm
    # the per-answer total beside the per-token gap, in the rows and the summary
    assert all(math.isclose(r["gap"], r["ll_aligned"] - r["ll_other"]) for r in rows)
    assert summary["values"]["cheese_fit"]["gap"]["unit"] == "nats"
