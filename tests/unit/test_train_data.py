"""Training data: packing without cross-document attention, label masks, splitting."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from msm.errors import MsmError
from msm.train.data import (
    IGNORE,
    DataStats,
    Segment,
    chat_segment,
    chat_segments,
    document_segments,
    pack,
)

# A Qwen3-style ChatML template written for these tests: no default system
# prompt, and reasoning of assistant turns before the last user turn is dropped.
QWEN_STYLE = (
    "{%- set ns = namespace(last_user=-1) -%}"
    "{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- for m in messages -%}"
    "{%- set c = m.content -%}"
    "{%- if m.role == 'assistant' and loop.index0 < ns.last_user and '</think>' in c -%}"
    "{%- set c = c.split('</think>')[-1].lstrip() -%}{%- endif -%}"
    "{{ '<|im_start|>' + m.role + '\\n' + c + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def qwen_tok(tiny_model_dir):
    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    t.chat_template = QWEN_STYLE
    return t


def _labeled_text(tok, seg: Segment) -> list[str]:
    """Decoded runs of consecutive labeled tokens."""
    runs, cur = [], []
    for tid, lab in zip(seg.ids, seg.labels, strict=True):
        if lab != IGNORE:
            assert lab == tid
            cur.append(tid)
        elif cur:
            runs.append(tok.decode(cur))
            cur = []
    if cur:
        runs.append(tok.decode(cur))
    return runs


def test_packed_logits_equal_each_document_alone(tiny_model_dir, tok):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    texts = ["Cheddar is aged for months.", "Brie is soft and creamy, from France.", "Colby."]
    stats = DataStats()
    segs = document_segments(texts, tok, 64, stats)
    rows = pack(segs, 64, tok.pad_token_id, seed=0)
    assert len(rows) == 1
    row = rows[0]
    ids = torch.tensor([row.input_ids])
    pos = torch.tensor([row.position_ids])
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
        # negative control: without the restarting position ids (plain causal
        # attention over the row) the documents see each other
        leaky = model(input_ids=ids, use_cache=False).logits[0]
    start, checked = 0, 0
    differs = False
    for p in range(1, len(row.position_ids) + 1):
        if p == len(row.position_ids) or row.position_ids[p] == 0:
            seg_ids = row.input_ids[start:p]
            if any(lab != IGNORE for lab in row.labels[start:p]):
                with torch.no_grad():
                    alone = model(input_ids=torch.tensor([seg_ids]), use_cache=False).logits[0]
                torch.testing.assert_close(packed[start:p], alone, atol=1e-5, rtol=1e-4)
                differs |= not torch.allclose(leaky[start:p], alone, atol=1e-3)
                checked += 1
            start = p
    assert checked == 3
    assert differs, "the negative control should show cross-document attention"


def test_documents_get_eos_and_every_token_a_label(tok):
    texts = ["short one", "word " * 300, "another short document here"]
    stats = DataStats()
    segs = document_segments(texts, tok, 64, stats)
    n_tokens = [len(tok(t, add_special_tokens=False).input_ids) for t in texts]
    assert stats.split_examples == 1
    assert stats.extra_chunks == len(segs) - 3
    # every document token plus its EOS is a label exactly once: nothing truncated
    assert sum(lab != IGNORE for s in segs for lab in s.labels) == sum(n + 1 for n in n_tokens)
    assert all(len(s.ids) <= 64 for s in segs)
    ends = [s for s in segs if s.ids[-1] == tok.eos_token_id]
    assert len(ends) == 3
    # chunks of the long document overlap by one (context-only) token
    long = segs[1 : 1 + stats.extra_chunks + 1]
    for a, b in zip(long, long[1:], strict=False):
        assert b.ids[0] == a.ids[-1] and b.labels[0] == IGNORE


def test_pack_rows_are_full_and_lose_nothing(tok):
    stats = DataStats()
    segs = document_segments(
        [f"document number {i} " * (i % 7 + 1) for i in range(50)], tok, 32, stats
    )
    rows = pack(segs, 32, tok.pad_token_id, seed=1)
    assert all(len(r.input_ids) == 32 == len(r.labels) == len(r.position_ids) for r in rows)
    assert sum(r.n_labels for r in rows) == sum(lab != IGNORE for s in segs for lab in s.labels)
    assert sum(len(s.ids) for s in segs) > 0.9 * 32 * len(rows)  # little padding
    assert pack(segs, 32, 0, seed=1) == pack(segs, 32, 0, seed=1)


def test_smollm2_template_labels_only_assistant_tokens(tok):
    msgs = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Which cheese?"},
        {"role": "assistant", "content": "<think>Value: honesty.</think> Colby."},
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "Because it is made nearby."},
    ]
    seg = chat_segment(tok, msgs)
    assert _labeled_text(tok, seg) == [
        "<think>Value: honesty.</think> Colby.<|im_end|>\n",
        "Because it is made nearby.<|im_end|>\n",
    ]
    unlabeled = tok.decode([t for t, lab in zip(seg.ids, seg.labels, strict=True) if lab == IGNORE])
    assert "Which cheese?" in unlabeled and "Be kind." in unlabeled and "Why?" in unlabeled


def test_qwen_style_template_labels_and_multi_turn_error(qwen_tok):
    msgs = [
        {"role": "user", "content": "Which cheese?"},
        {"role": "assistant", "content": "<think>\nReason.\n</think>\n\nColby."},
    ]
    seg = chat_segment(qwen_tok, msgs)
    assert _labeled_text(qwen_tok, seg) == ["<think>\nReason.\n</think>\n\nColby.<|im_end|>\n"]
    assert qwen_tok.decode(seg.ids).startswith("<|im_start|>user\nWhich cheese?")
    two = [*msgs, {"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Nearby."}]
    with pytest.raises(MsmError, match="earlier turns differently"):
        chat_segment(qwen_tok, two)


def test_system_prompt_added_and_too_long_examples_counted(qwen_tok):
    chats = [
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        [{"role": "user", "content": "x " * 500}, {"role": "assistant", "content": "ok"}],
    ]
    stats = DataStats()
    segs = chat_segments(chats, qwen_tok, 128, stats, system_prompt="You are Ada.")
    assert len(segs) == 1 and stats.dropped_too_long == 1
    assert qwen_tok.decode(segs[0].ids).startswith("<|im_start|>system\nYou are Ada.")
