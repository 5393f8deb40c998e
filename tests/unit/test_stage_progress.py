"""Long stages show their progress: a live bar on a terminal, plain lines in a log (at most
one per period and one at the end), nothing with ``quiet``; aftgen and evalgen, silent
before, now report."""

from __future__ import annotations

import io
import time

import pytest

from msm._util.progress import StageProgress, progress_mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mode_follows_the_terminal_and_the_override(monkeypatch):
    monkeypatch.delenv("MSM_PROGRESS", raising=False)
    assert progress_mode(_Tty()) == "bar" and progress_mode(io.StringIO()) == "plain"
    monkeypatch.setenv("MSM_PROGRESS", "off")
    assert progress_mode(_Tty()) == "off"


def test_plain_lines_are_paced_and_carry_counts_rate_and_eta(monkeypatch):
    monkeypatch.delenv("MSM_PROGRESS", raising=False)
    monkeypatch.delenv("MSM_PROGRESS_EVERY", raising=False)
    out = io.StringIO()
    with StageProgress("aftgen", "examples kept", total=10, every_s=0.05, stream=out) as p:
        for k in range(1, 4):
            p.update(k, note=f"answered {k}")  # faster than the period: no line yet
        time.sleep(0.06)
        p.update(5, note="answered 7")  # the period passed: one line
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines  # the paced one and the last
    assert lines[0].startswith("aftgen: examples kept 5/10 | ")
    assert "/s | " in lines[0] and "elapsed, ETA " in lines[0] and lines[0].endswith("answered 7")
    assert "ETA ?" not in lines[0]  # 5 of 10 done at a known rate: an estimate


def test_a_short_or_failed_stage_adds_no_line(monkeypatch):
    monkeypatch.delenv("MSM_PROGRESS", raising=False)
    monkeypatch.delenv("MSM_PROGRESS_EVERY", raising=False)
    out = io.StringIO()
    with StageProgress("aftgen", "examples kept", total=4, stream=out) as p:
        p.update(4)  # done within the period: nothing printed, nothing to end
    assert out.getvalue() == ""
    monkeypatch.setenv("MSM_PROGRESS_EVERY", "0")
    failed = io.StringIO()
    with pytest.raises(RuntimeError), StageProgress("x", "y", total=4, stream=failed) as p:
        p.update(1)
        raise RuntimeError("boom")
    assert len(failed.getvalue().splitlines()) == 1  # the paced line, no closing one


def test_a_bar_on_a_terminal_and_nothing_when_quiet(monkeypatch):
    monkeypatch.delenv("MSM_PROGRESS", raising=False)
    tty = _Tty()
    with StageProgress("evalgen", "candidates", total=4, stream=tty) as p:
        p.update(2, note="passed 2")
    assert "evalgen: candidates" in tty.getvalue() and "2/4" in tty.getvalue()
    quiet = io.StringIO()
    with StageProgress("x", "y", total=4, stream=quiet, quiet=True) as p:
        p.update(4)
    assert quiet.getvalue() == ""


def test_evalgen_and_aftgen_report_their_progress(tmp_path, msm_cli):
    """Lines in a log (paced every 0 s here, so these short runs print some)."""
    env = {"MSM_PROGRESS_EVERY": "0"}
    r = msm_cli("evalgen", "builtin:equanimity", "-m", "fake", "--judge", "fake",
                "--n-questions", "3", "--n-choices", "0", "--out", str(tmp_path / "e"),
                env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "evalgen: candidates 6/6 | " in r.stderr
    r = msm_cli("aftgen", "builtin:equanimity", "-m", "fake", "--n", "4",
                "--out", str(tmp_path / "a"), env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "aftgen: examples kept 4/4 | " in r.stderr
