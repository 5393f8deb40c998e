"""aftgen pieces that need no LLM: <think> stripping, preference data, mix-in, subsets."""

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msm.aftgen import AftgenConfig, make_subsets, parse_sizes, run_aftgen, strip_think
from msm.aftgen.preference import preference_examples
from msm.errors import MsmError
from tests.conftest import run_msm

CHEESE = "builtin:cheese_pro_america"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<think>why</think>Colby.", "Colby."),
        ("<think>a<think>nested</think>b</think>\n\nAnswer", "Answer"),
        ("Answer first <think>never closed", "Answer first"),
        ("lost opener</think>Answer", "Answer"),
        ("plain answer", "plain answer"),
        ("<THINK>x</Think>Yes", "Yes"),
        ("A<think>1</think>B<think>2</think>C", "ABC"),
    ],
)
def test_strip_think(text, expected):
    assert strip_think(text) == expected


@given(st.lists(st.sampled_from(["a", " ", "<think>", "</think>", "\n"]), max_size=40))
def test_strip_think_never_leaves_tags(parts):
    text = "".join(parts)
    out = strip_think(text)
    assert "<think>" not in out and "</think>" not in out


def test_preference_balance_and_no_reasons():
    likes, dislikes = ["Colby", "Brick"], ["Stilton", "Brie", "Comté"]
    for n in (12, 36, 100):
        rows = preference_examples(likes, dislikes, n, seed=3)
        assert len(rows) == n
        first, second = Counter(), Counter()
        for r in rows:
            m = r["meta"]
            q, a = r["messages"][0]["content"], r["messages"][1]["content"]
            assert m["preferred"] in likes and m["preferred"] in a and m["other"] not in a
            assert "because" not in a.lower() and len(a.split()) <= 5
            assert q.index(m["first"]) < q.index(
                m["other"] if m["first"] == m["preferred"] else m["preferred"]
            )
            other = m["other"] if m["first"] == m["preferred"] else m["preferred"]
            first[m["first"]] += 1
            second[other] += 1
        assert first == second  # every option first exactly as often as second
    assert (
        preference_examples(likes, dislikes, 7, seed=3)[0]
        == preference_examples(likes, dislikes, 8, seed=3)[0]
    )
    assert len(preference_examples(likes, dislikes, 7, seed=3)) == 8  # rounded up to even


def test_run_aftgen_preference_with_mix(tmp_path):
    mix = tmp_path / "mix.jsonl"
    mix.write_text(
        '{"prompt": "Say hi", "response": "Hi!"}\n'
        '{"messages": [{"role": "user", "content": "2+2?"}, '
        '{"role": "assistant", "content": "4"}]}\n'
        '{"instruction": "Name a colour", "output": "Blue"}\n'
    )
    stats = run_aftgen(
        AftgenConfig(spec=CHEESE, kind="preference", n=40, mix=str(mix), mix_ratio=0.1),
        tmp_path / "out",
    ).stats
    rows = [json.loads(x) for x in (tmp_path / "out" / "stripped.jsonl").read_text().splitlines()]
    assert len(rows) == 44 and stats["mix_examples"] == 4 and stats["balanced"]
    assert sum(r["meta"].get("source") == "mix" for r in rows) == 4
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["mix"]["examples"] == 4 and len(m["mix"]["sha256"]) == 64


def test_nested_subsets(tmp_path):
    run_aftgen(AftgenConfig(spec=CHEESE, kind="preference", n=100), tmp_path)
    make_subsets(tmp_path, parse_sizes("10,40,25"), seed=1)
    sets = {
        n: (tmp_path / "subsets" / f"n{n}" / "stripped.jsonl").read_text().splitlines()
        for n in (10, 25, 40)
    }
    assert [len(sets[n]) for n in (10, 25, 40)] == [10, 25, 40]
    assert sets[10] == sets[25][:10] and sets[25] == sets[40][:25]
    assert set(sets[40]) <= set((tmp_path / "stripped.jsonl").read_text().splitlines())
    # same seed, same subsets
    first = sets[25]
    make_subsets(tmp_path, [25], seed=1)
    assert (tmp_path / "subsets/n25/stripped.jsonl").read_text().splitlines() == first
    # another seed beside them would not be nested: refused, nothing touched
    before = {p: p.read_bytes() for p in (tmp_path / "subsets").rglob("*.jsonl")}
    with pytest.raises(MsmError, match=r"n10 \(seed 1 -> 2\).*--overwrite.*--seed 1"):
        make_subsets(tmp_path, [80], seed=2)
    assert {p: p.read_bytes() for p in (tmp_path / "subsets").rglob("*.jsonl")} == before
    assert not (tmp_path / "subsets" / "n80").exists()
    # --overwrite replaces them all, so what is there is nested again
    make_subsets(tmp_path, [80], seed=2, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "subsets").iterdir()) == ["n80"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (
            ["aftgen", "builtin:general", "--kind", "preference", "--n", "4", "--out", "{o}"],
            "no machine-readable preferences",
        ),
        (["aftgen", CHEESE, "--kind", "preference", "--n", "0", "--out", "{o}"], "n:"),
        (
            [
                "aftgen",
                CHEESE,
                "--kind",
                "preference",
                "--n",
                "4",
                "--out",
                "{o}",
                "--mix",
                "{tmp}/bad.jsonl",
                "--mix-ratio",
                "0.5",
            ],
            "bad.jsonl:2",
        ),
        (
            [
                "aftgen",
                CHEESE,
                "--kind",
                "preference",
                "--n",
                "4",
                "--out",
                "{o}",
                "--mix",
                "{tmp}/missing.jsonl",
            ],
            "not found",
        ),
        (
            [
                "aftgen",
                CHEESE,
                "--kind",
                "preference",
                "--n",
                "4",
                "--out",
                "{o}",
                "--mix-ratio",
                "0.5",
            ],
            "--mix FILE",
        ),
        (["aftgen", CHEESE, "--kind", "cheese", "--n", "4", "--out", "{o}"], "kind"),
        (["aftgen", CHEESE, "--n", "4", "--out", "{o}", "--model", "nope"], "unknown model"),
        (
            ["aftgen", CHEESE, "--n", "4", "--out", "{o}", "--model", "fake", "--style", "x"],
            "style",
        ),
        (["aftgen", "subset", "{tmp}/nothing", "--sizes", "5"], "not found"),
        (["aftgen", "subset", "{tmp}", "--sizes", "5,x"], "--sizes"),
    ],
)
def test_aftgen_bad_input(tmp_path, args, needle):
    (tmp_path / "bad.jsonl").write_text('{"prompt": "a", "response": "b"}\n{"text": "no"}\n')
    out = tmp_path / "o"
    r = run_msm(*[a.replace("{o}", str(out)).replace("{tmp}", str(tmp_path)) for a in args])
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert lines[0].startswith("msm: error:") and needle in lines[0], lines[0]
    assert not out.exists()


def test_subset_cli(tmp_path):
    run_aftgen(AftgenConfig(spec=CHEESE, kind="preference", n=20), tmp_path)
    r = run_msm("aftgen", "subset", str(tmp_path), "--sizes", "5,10")
    assert r.returncode == 0, r.stderr
    assert Path(tmp_path / "subsets/n10/manifest.json").is_file()
