"""msm's uses of Inspect AI's private modules (``msm.llm.inspect_private``) were checked
on one Inspect version: an upgrade fails here until someone re-checks them and moves
the pin in ``constraints.txt``."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from msm.llm import inspect_private as ip

ROOT = Path(__file__).resolve().parents[2]
CHECKED_ON = "0.3.285"


def test_the_installed_inspect_is_the_version_the_private_uses_were_checked_on() -> None:
    pinned = re.search(r"^inspect_ai==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert pinned is not None and pinned.group(1) == CHECKED_ON
    assert importlib.metadata.version("inspect_ai") == CHECKED_ON


def test_each_private_use_still_resolves() -> None:
    assert ip.provider_registered("openai") and not ip.provider_registered("no-such-provider")
    assert ip.http_logger_name().startswith("inspect_ai.")
    assert ip.openai_batcher().__name__ == "OpenAIBatcher"
    assert ip.anthropic_batcher().__name__ == "AnthropicBatcher"
    r = ip.batch_check_result(1, 0, 0, None)
    assert (r.completed_count, r.failed_count, r.completion_info) == (1, 0, None)


def test_no_other_module_imports_inspect_privates() -> None:
    private = re.compile(r"^\s*(from|import) inspect_ai\.(\w+\.)*_\w+", re.M)
    users = [
        p.relative_to(ROOT / "src").as_posix()
        for p in (ROOT / "src").rglob("*.py")
        if private.search(p.read_text(encoding="utf-8"))
    ]
    assert users == ["msm/llm/inspect_private.py"]


SKIP_CHILD = """
import sys
from msm.llm.names import get_inspect_model
from msm.llm.inspect_private import provider_registered
get_inspect_model("fake")
import inspect_ai.hooks._startup as startup
startup.init_hooks()  # what Inspect's eval() runs: every extension's hooks
print(sorted(m for m in sys.modules if m.startswith("inspect_evals")) == [],
      provider_registered("msm-local"), provider_registered("msm-fake"))
if sys.argv[1:] == ["control"]:
    from inspect_ai._util import entrypoints as eps
    eps.clear_entry_points_state()
    eps.ensure_entry_points()
    print("inspect_evals._registry" in sys.modules)
"""


def test_inspect_evals_benchmarks_are_not_imported_but_other_extensions_load() -> None:
    """Building a model and initialising Inspect's hooks no longer imports inspect_evals'
    ~200 benchmarks (2.8 s a process); msm's own entry point (its providers) still loads.
    Positive control: Inspect's own loading, in the same process, imports them."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", SKIP_CHILD, "control"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True", "True", "True", "True"]
