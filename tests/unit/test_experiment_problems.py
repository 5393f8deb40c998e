"""Every problem of an experiment file in one run, across all sections, each with its line;
a YAML syntax error with its line and column."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from msm._util.config_io import ConfigError, key_lines
from msm.errors import MsmError
from msm.experiment.load import load_experiment

HEAD = "name: x\nbase_model: embedded\ngenerator: fake\nspecs: {a: builtin:equanimity}\n"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def test_schema_and_stage_section_typos_come_together_with_lines(tmp_path):
    # the schema fails (aft.nn) and three stage sections have typos: all in one error
    p = _write(tmp_path, HEAD + (
        "corpus:\n  n_asertions: 2\n"            # line 5-6
        "aft: {kind: preference, spec: a, nn: 3}\n"  # line 7
        "train:\n  midtrain:\n    lr: 3\n"       # line 8-10
        "  aft: {epochz: 2}\n"                   # line 11
    ))  # fmt: skip
    with pytest.raises(ConfigError) as e:
        load_experiment(p)
    assert set(e.value.details) == {
        "conditions: Field required",  # not in the file: no line to name
        "aft.n: Field required (line 7)",
        "unknown key 'aft.nn' (did you mean 'aft.n'?) (line 7)",
        "unknown key 'corpus.n_asertions' (did you mean 'corpus.n_assertions'?) (line 6)",
        "unknown key 'train.midtrain.lr' (line 10)",
        "unknown key 'train.aft.epochz' (did you mean 'train.aft.epochs'?) (line 11)",
    }
    assert e.value.header == f"{p}: 6 errors"


def test_checks_after_the_schema_report_every_section_at_once(tmp_path):
    # the schema passes; stage settings in two sections and the eval are wrong
    p = _write(tmp_path, HEAD + (
        "corpus: {n_ideas: 0}\n"                                 # line 5
        "train: {aft: {learning_rate: -1}}\n"                    # line 6
        "conditions: [base, msm_only]\n"
        "eval:\n  suites: [values]\n  items: [no_such_set]\n"    # line 8-10
    ))  # fmt: skip
    with pytest.raises(ConfigError) as e:
        load_experiment(p)
    d = e.value.details
    assert len(d) == 3, d
    assert d[0].startswith("corpus.n_ideas: Input should be greater") and d[0].endswith("(line 5)")
    assert d[1].startswith("train.aft.learning_rate: Input should be greater")
    assert d[1].endswith("(line 6)")
    assert d[2].startswith("eval: unknown value item set 'no_such_set'")
    assert d[2].endswith("(line 8)")


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    p = _write(tmp_path, HEAD + "corpus:\n  n_ideas: 1\n   bad: 2\n")
    with pytest.raises(MsmError) as e:
        load_experiment(p)
    assert str(e.value).endswith("(line 7, column 7)"), str(e.value)
    assert "is not valid YAML" in str(e.value)


def test_key_lines_walks_each_aliased_node_once():
    # nine levels of ten aliases each would be 10**9 paths if aliases were expanded
    text = "a0: &a0 [x, y]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]\n" for i in range(1, 10)
    )
    t0 = time.monotonic()
    lines = key_lines(text)
    assert time.monotonic() - t0 < 2
    assert lines[("a0",)] == 1 and lines[("a9",)] == 10
