"""Eval settings owned once: what ``scoring: auto`` means (``resolve_scoring``)."""

from __future__ import annotations

import pytest

from msm.errors import MsmError
from msm.evals.config import resolve_scoring


def test_auto_scoring_is_loglik_exactly_where_the_model_gives_logliks() -> None:
    assert resolve_scoring("auto", True) == "loglik"
    assert resolve_scoring("auto", False) == "letter"
    for given in ("loglik", "letter"):  # an explicit mode stands, whatever the model
        assert resolve_scoring(given, True) == resolve_scoring(given, False) == given
    with pytest.raises(MsmError, match="unknown scoring mode 'logprob'"):
        resolve_scoring("logprob", True)
