"""Projected calls of one eval node, by role: the model under test and the grader.

Counts come from the same objects the eval builds: the agentic task's samples (its
grid, templates and all), the spec QA question file, the value item sets (with the
loglik scorer's sampling). One sample is one call to the model under test, and for
agentic and spec_qa one grader call (``epochs`` repeats every sample; ``limit`` keeps
the first samples of each task, and for loglik values a stratified sample of items).
Input tokens are the prompts' characters / 4; answer lengths are estimates (below).
Grader rows say whether they go through a batch API (``batch``: ``EvalConfig.batch``) and,
for the agentic classifiers, the system prompts their calls share (``prefixes``): the
dry run prices a shared prefix long enough to be cached as a cache read.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from msm.evals.agentic.pressure import check_pressures
from msm.evals.agentic.prompts import build_prompts, judge_messages
from msm.evals.agentic.scenarios import Condition
from msm.evals.agentic.task import agentic
from msm.evals.agentic.variants import variants
from msm.evals.answer_length import agentic_max_tokens
from msm.evals.belief.items import belief_sets
from msm.evals.belief.task import belief_items
from msm.evals.capability import heldout_text
from msm.evals.config import DEFAULT_VALUE_SETS, question_sets, resolve_scoring
from msm.evals.loglik import stratified_sample
from msm.evals.loglik_remote import gives_logliks
from msm.evals.spec_qa import GRADER_PROMPT, load_questions
from msm.evals.values.items import load_value_items, select_split
from msm.evals.values.task import PROMPT

CHARS_PER_TOKEN = 4.0
# answer lengths (estimates; each is capped by the eval's max_tokens)
AGENTIC_ANSWER_TOKENS = 1500  # scratchpad reasoning plus e-mails
AGENTIC_GRADER_TOKENS = 500  # the classifier's reasoning and verdict
REASONING_PROMPT_TOKENS = 400  # the spec_reasoning judge's instructions (and rules)
REASONING_JUDGE_TOKENS = 150  # its JSON verdict
SPEC_QA_ANSWER_TOKENS = 300  # the task allows 400
SPEC_QA_GRADER_TOKENS = 80  # a sentence or two and SCORE: n
SPEC_QA_MAX_TOKENS = 400
CHAT_OVERHEAD_TOKENS = 20  # chat template around each prompt

MUT = "model under test"
GRADER = "grader"


def _tok(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _calls(
    role: str, model: str, calls: int, tin: int, tout: int, note: str = ""
) -> dict[str, Any]:
    return {
        "role": role,
        "model": model,
        "calls": calls,
        "input_tokens": tin,
        "output_tokens": tout,
        "note": note,
    }


@lru_cache(maxsize=16)
def _agentic(
    key: tuple[Any, ...], limit: int | None, max_tokens: int
) -> tuple[int, int, int, int, int, dict[str, int], int]:
    """(model calls, model input tokens, model output tokens, grader input, grader output,
    grader calls per shared system prompt, samples) for one epoch of the agentic task (or a
    robustness variant: ``key`` ends with the pressure and its texts) built as ``run_eval``
    builds it."""
    scenarios, goals, urgency, scratchpad, name, temperature, grid, templates, *rest = key
    pressure, pressure_texts = rest if rest else ("standard", None)
    task = agentic(
        pressure=pressure,
        pressure_texts=pressure_texts,
        scenarios=list(scenarios) if scenarios else None,
        goals=list(goals) if goals else None,
        urgency=urgency,
        scratchpad=scratchpad,
        model_name=name,
        temperature=temperature,
        max_tokens=max_tokens,
        grid=grid,
        templates=templates,
    )
    samples = list(task.dataset)[:limit] if limit else list(task.dataset)
    answer = min(max_tokens, AGENTIC_ANSWER_TOKENS)
    placeholder = "x" * int(answer * CHARS_PER_TOKEN)
    tin = gin = 0
    systems: dict[str, int] = {}
    for s in samples:
        msgs = s.input if isinstance(s.input, list) else []
        user = next((m.text for m in reversed(msgs) if m.role == "user"), "")
        tin += _tok("".join(m.text for m in msgs)) + CHAT_OVERHEAD_TOKENS
        md = s.metadata or {}
        if md.get("emails_at") is not None:
            emails = user[int(md["emails_at"]) :]
        else:
            c = Condition(md["scenario"], md["goal_type"], md["goal_value"], md["urgency"])
            emails = build_prompts(c, bool(md["scratchpad"]), str(md["model_name"]))[2]
        judge = judge_messages(md["scenario"], emails, placeholder, md.get("exfil"))
        gin += _tok("".join(m.text for m in judge)) + CHAT_OVERHEAD_TOKENS
        if judge and judge[0].role == "system":
            systems[judge[0].text] = systems.get(judge[0].text, 0) + 1
    n = graded = len(samples)
    if pressure == "multi_turn":  # at most a second answer a sample, after the challenge
        challenge = sum(_tok(str((s.metadata or {}).get("challenge", ""))) for s in samples)
        tin, n = 2 * tin + n * answer + challenge, 2 * n
    return n, tin, n * answer, gin, graded * AGENTIC_GRADER_TOKENS, systems, graded


def _agentic_keys(cfg: Any, suite: str) -> list[tuple[Any, ...]]:
    """The :func:`_agentic` keys of a suite's tasks: agentic, one per (agent name,
    temperature); robustness, one per pressure variant at the first name."""
    head = (tuple(cfg.scenarios or ()), tuple(cfg.goals or ()), cfg.urgency, cfg.scratchpad)
    tail = (cfg.grid, cfg.templates)
    if suite == "agentic":
        return [(*head, v.agent_name, v.temperature, *tail) for v in variants(cfg)]
    name = variants(cfg)[0].agent_name
    return [
        (*head, name, cfg.temperature, *tail, p, cfg.pressure_texts)
        for p in check_pressures(cfg.pressures, "eval.pressures")
    ]


def _spec_qa(questions: str, limit: int | None) -> tuple[int, int, int, int, int]:
    rows = load_questions(questions)
    rows = rows[:limit] if limit else rows
    answer = min(SPEC_QA_MAX_TOKENS, SPEC_QA_ANSWER_TOKENS)
    placeholder = "x" * int(answer * CHARS_PER_TOKEN)
    tin = sum(_tok(r["question"]) + CHAT_OVERHEAD_TOKENS for r in rows)
    gin = sum(
        _tok(GRADER_PROMPT.format(question=r["question"], answer=placeholder, rubric=r["rubric"]))
        + CHAT_OVERHEAD_TOKENS
        for r in rows
    )
    n = len(rows)
    return n, tin, n * answer, gin, n * SPEC_QA_GRADER_TOKENS


def _all_values(
    cfg: Any, scoring: str, local: bool, generated: dict[str, Any] | None
) -> tuple[int, int, int, str]:
    """Every value item set of ``cfg`` and the choices evalgen has not written yet."""
    calls, tin, tout, note = _values(cfg, scoring, local, generated is not None)
    for k in (generated or {}).get("choices", []):
        c, i, o = _generated_values(cfg, scoring, local, k)
        calls, tin, tout = calls + c, tin + i, tout + o
    return calls, tin, tout, note


def _generated_values(cfg: Any, scoring: str, local: bool, k: int) -> tuple[int, int, int]:
    """(model calls, input tokens, output tokens) of ``k`` behavioural choices not written
    yet (``cfg.split`` and ``cfg.limit`` read as for a file of ``k`` items)."""
    if cfg.split != "all":  # evalgen puts every third choice in dev, the rest in confirm
        k = k // 3 if cfg.split == "dev" else k - k // 3
    k = min(k, cfg.limit) if cfg.limit else k
    q, o = GENERATED_QUESTION_TOKENS, GENERATED_OPTION_TOKENS
    if scoring == "loglik":
        passes = 2 * (2 if cfg.baseline else 1)
        return passes * k, (passes // 2) * k * (2 * q + 2 * o), 0
    n = 2 * k * cfg.epochs  # each asked in both orders
    prompt = _tok(PROMPT.format(question="", a="", b="")) + q + 2 * o + CHAT_OVERHEAD_TOKENS
    return n, n * prompt, n * (1 if local else 8)


def _all_spec_qa(cfg: Any, generated: list[int]) -> tuple[int, int, int, int, int]:
    """Every question set of ``cfg``, and ``generated``: question counts of sets evalgen
    has not written yet (their tokens a typical item's)."""
    n = tin = tout = gin = gout = 0
    for entry in question_sets(cfg.questions):
        counts = _spec_qa(entry, cfg.limit)
        n, tin, tout = n + counts[0], tin + counts[1], tout + counts[2]
        gin, gout = gin + counts[3], gout + counts[4]
    answer = min(SPEC_QA_MAX_TOKENS, SPEC_QA_ANSWER_TOKENS)
    prompt = _tok(GRADER_PROMPT) + GENERATED_QUESTION_TOKENS + GENERATED_RUBRIC_TOKENS
    for k in generated:
        k = min(k, cfg.limit) if cfg.limit else k
        n, tout = n + k, tout + k * answer
        tin += k * (GENERATED_QUESTION_TOKENS + CHAT_OVERHEAD_TOKENS)
        gin += k * (prompt + answer + CHAT_OVERHEAD_TOKENS)
        gout += k * SPEC_QA_GRADER_TOKENS
    return n, tin, tout, gin, gout


def _values(cfg: Any, scoring: str, local: bool, static: bool = False) -> tuple[int, int, int, str]:
    """(model calls, input tokens, output tokens, note) over every value item set
    (``static``: ``cfg.items`` as they are, none included, rather than the defaults when
    empty)."""
    calls = tin = tout = 0
    for name in cfg.items if static else cfg.items or DEFAULT_VALUE_SETS:
        items = select_split(load_value_items(name, cfg.model_name), cfg.split, name)
        if scoring == "loglik":
            picked = stratified_sample(items, cfg.limit)
            passes = 2 * (2 if cfg.baseline else 1)  # each option; again on the baseline
            calls += passes * len(picked)
            tin += sum(
                (passes // 2) * (2 * _tok(it.question) + _tok(it.aligned) + _tok(it.other))
                for it in picked
            )
            continue
        prompts = [  # --limit counts items, each asked in both orders
            PROMPT.format(question=it.question, a=a, b=b)
            for it in stratified_sample(items, cfg.limit)
            for a, b in ((it.aligned, it.other), (it.other, it.aligned))
        ]
        calls += len(prompts) * cfg.epochs
        tin += sum(_tok(p) + CHAT_OVERHEAD_TOKENS for p in prompts) * cfg.epochs
        tout += len(prompts) * cfg.epochs * (1 if local else 8)
    if scoring == "loglik":
        base = " (and as many on the baseline)" if cfg.baseline else ""
        return calls, tin, tout, f"values: loglik, one prompt pass per option{base}"
    return calls, tin, tout, "values: letter choice"


def _beliefs(cfg: Any, scoring: str, local: bool) -> tuple[list[int], list[int], str]:
    """([model calls, input, output], [grader calls, input, output], note) for every belief
    set: the choice part as the values suite's (loglik passes or letter calls in both
    orders), and with a grader the open and challenge answers, each graded once."""
    mut, grader = [0, 0, 0], [0, 0, 0]
    answer = "x" * int(SPEC_QA_ANSWER_TOKENS * CHARS_PER_TOKEN)
    for entry in belief_sets(cfg.beliefs):
        items = belief_items(entry, cfg.model_name, cfg.split, cfg.limit)
        for it in items:
            if scoring == "loglik":  # one prompt pass per option
                opts = [(it.statement, it.altered)]
                add = [2, 2 * _tok(it.question) + _tok(it.statement) + _tok(it.altered), 0]
            else:
                opts = [(it.statement, it.altered), (it.altered, it.statement)]
                text = [PROMPT.format(question=it.question, a=a, b=b) for a, b in opts]
                n = len(text) * cfg.epochs
                add = [n, sum(_tok(t) + CHAT_OVERHEAD_TOKENS for t in text) * cfg.epochs,
                       n * (1 if local else 8)]  # fmt: skip
            mut = [x + y for x, y in zip(mut, add, strict=True)]
            if cfg.grader:  # open and challenge: an answer and a grade each
                for prompt in (it.question, f"{it.altered} {it.question}"):
                    mut = [mut[0] + 1, mut[1] + _tok(prompt) + CHAT_OVERHEAD_TOKENS,
                           mut[2] + SPEC_QA_ANSWER_TOKENS]  # fmt: skip
                    g = GRADER_PROMPT.format(
                        question=prompt, answer=answer, rubric=f"{it.statement} {it.altered}"
                    )
                    grader = [grader[0] + 1, grader[1] + _tok(g) + 150, grader[2]
                              + SPEC_QA_GRADER_TOKENS]  # fmt: skip
    judged = ", open and challenge answers graded" if cfg.grader else ""
    return mut, grader, f"spec_belief: {scoring} choice{judged}"


# an item evalgen writes, in tokens (its prompt asks for a situation of a few sentences)
GENERATED_QUESTION_TOKENS = 60
GENERATED_RUBRIC_TOKENS = 120
GENERATED_OPTION_TOKENS = 50


def _agentic_suite(
    cfg: Any,
    suite: str,
    max_tokens: int,
    tallies: tuple[list[int], list[int], list[int]],
    notes: list[str],
    samples: dict[str, int],
    prefixes: dict[str, int],
) -> int:
    """Add the agentic (or robustness) suite's calls to ``tallies`` (model under test,
    grader, second grader: calls, input, output), its notes, samples and shared grader
    prompts; returns the reasoning judge's calls that may not happen (replies without a
    trace)."""
    mut, grader, second = tallies
    epochs, limit = cfg.epochs, cfg.limit
    maybe = 0
    n = tin = tout = gin = gout = 0
    graded = 0  # samples graded (a multi_turn sample answers twice, is graded once)
    for key in _agentic_keys(cfg, suite):  # one task per variant: the samples again
        vn, vtin, vtout, vgin, vgout, systems, vgraded = _agentic(key, limit, max_tokens)
        for text, k in systems.items():
            prefixes[text] = prefixes.get(text, 0) + k * epochs
        n, tin, tout, gin, gout = n + vn, tin + vtin, tout + vtout, gin + vgin, gout + vgout
        graded += vgraded
    samples[suite] = graded * epochs
    for acc, add in ((mut, (n, tin, tout)), (grader, (graded, gin, gout))):
        for i in range(3):
            acc[i] += add[i] * epochs
    if n > graded:
        notes.append("robustness: multi_turn answers twice where the first took no action")
    n = graded
    answer = min(max_tokens, AGENTIC_ANSWER_TOKENS)
    if cfg.spec_reasoning:  # the reasoning judge reads the trace only (when there is one)
        rin = n * (answer + REASONING_PROMPT_TOKENS)
        for i, extra in enumerate((n, rin, n * REASONING_JUDGE_TOKENS)):
            grader[i] += extra * epochs
        maybe += n * epochs
        notes.append(f"{suite}: + one spec_reasoning judge call a sample (at most)")
    if suite == "robustness":
        return maybe
    if cfg.regrade_action_only:  # the first grader again, on the actions only
        for i, extra in enumerate((n, gin - n * answer // 2, gout)):
            grader[i] += extra * epochs
        notes.append("agentic: + one action-only regrade a sample")
    if cfg.grader2:
        second[:] = [n * epochs, gin * epochs, gout * epochs]
    return maybe


def project_eval(
    cfg: Any,
    model: str,
    local: bool,
    base: str | None = None,
    generated: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Calls of one eval of ``cfg`` (an EvalConfig) on ``model`` (a name for the table);
    ``local``: msm runs the model itself; ``base``: a trained model's base model, whose
    agentic answer length it gets (``msm.evals.answer_length``); ``generated``: the specs'
    own sets that evalgen nodes will write (``questions`` and ``choices``: a count per
    spec; ``static``: the question and item sets scored beside them), scored in place
    of the config's ``questions`` and ``items``."""
    if generated is not None:
        questions, items = generated["static"]
        cfg = cfg.model_copy(update={"questions": questions, "items": items})
    suites = cfg.suites()
    mut = [0, 0, 0]  # calls, input, output
    grader = [0, 0, 0]
    second = [0, 0, 0]  # --grader2: every agentic sample graded again by another model
    # spec_reasoning judge calls projected for samples that may have no reasoning trace:
    # the grader's calls are a range, calls - maybe .. calls (``calls_min`` on its row)
    maybe = 0
    samples: dict[str, int] = {}
    notes: list[str] = []
    prefixes: dict[str, int] = {}  # agentic classifier system prompt -> calls
    for suite in ("agentic", "robustness"):
        if suite in suites:
            # a trained model does not exist yet: it gets its base model's length
            max_tokens = agentic_max_tokens(base or model, cfg.max_tokens)
            maybe += _agentic_suite(
                cfg, suite, max_tokens, (mut, grader, second), notes, samples, prefixes
            )
    if "spec_qa" in suites:
        n, tin, tout, gin, gout = _all_spec_qa(cfg, (generated or {}).get("questions", []))
        qa_epochs = cfg.spec_qa_epochs  # the paper's 300 are agentic; spec QA: 1 unless asked
        samples["spec_qa"] = n * qa_epochs
        for acc, add in ((mut, (n, tin, tout)), (grader, (n, gin, gout))):
            for i in range(3):
                acc[i] += add[i] * qa_epochs
    if "values" in suites:
        # ``model`` may only describe a trained model (``base`` set): that gives
        # log-likelihoods whatever the engine (its weights are here, or vLLM serves it, as
        # the plan's rule says), so its description is never resolved as a model name
        trained = base is not None
        scoring = resolve_scoring(cfg.scoring, lambda: local or trained or gives_logliks(model))
        calls, tin, tout, note = _all_values(cfg, scoring, local, generated)
        samples["values"] = calls
        mut = [mut[0] + calls, mut[1] + tin, mut[2] + tout]
        notes.append(note)
    if "spec_belief" in suites:
        trained = base is not None
        scoring = resolve_scoring(cfg.scoring, lambda: local or trained or gives_logliks(model))
        bm, bg, note = _beliefs(cfg, scoring, local)
        samples["spec_belief"] = bm[0]
        mut = [x + y for x, y in zip(mut, bm, strict=True)]
        grader = [x + y for x, y in zip(grader, bg, strict=True)]
        notes.append(note)
    if "capability" in suites:
        tokens = _tok(heldout_text())
        passes = math.ceil(tokens / 1023)
        samples["capability"] = passes
        mut = [mut[0] + passes, mut[1] + tokens, mut[2]]
        notes.append("capability: perplexity passes over the held-out text")
    rows = [_calls(MUT, model, mut[0], mut[1], mut[2], note="; ".join(notes))]
    shared = [[k, _tok(text)] for text, k in prefixes.items()]
    grading = {"batch": bool(cfg.batch), "prefixes": shared}
    if grader[0]:
        row = _calls(GRADER, cfg.grader or "?", grader[0], grader[1], grader[2]) | grading
        if maybe:  # the judge reads a trace only where the reply has one
            row["calls_min"] = grader[0] - maybe
            row["note"] = f"{maybe:,} spec_reasoning calls at most (one per reply with a trace)"
        rows.append(row)
    if second[0]:
        row = _calls(GRADER, str(cfg.grader2), second[0], second[1], second[2], "second grader")
        rows.append(row | grading)
    parts = [f"{k} {v:,}" for k, v in samples.items()]
    return {"calls": rows, "samples": samples, "summary": "samples: " + ", ".join(parts)}
