"""What ``msm eval`` prints and refuses after scoring: one line per result, and the line
naming every requested result that scored nothing."""

from __future__ import annotations

from typing import Any

from msm.evals.agentic.checks import check_lines
from msm.evals.agentic.variants import unscored_variants
from msm.evals.belief.suite import unscored_beliefs
from msm.evals.stats import ci_text


def unscored(summary: dict[str, Any]) -> str:
    """One line naming every requested result that scored 0 items, and why ("" if none)."""
    problems = []
    ag = summary.get("agentic")
    if ag is not None and not ag["overall"]["judged"]:
        o = ag["overall"]
        problems.append(
            f"agentic: 0 of {o['samples'] + ag.get('sample_errors', 0)} samples judged "
            f"({o['grader_errors']} grader replies had no verdict, "
            f"{ag.get('sample_errors', 0)} samples failed)"
        )
    for name, res in (summary.get("values") or {}).items():
        if "value_preference" in res:  # letter scoring
            if res["value_preference"]["items"]:
                continue
            methods = res["answers_by_method"]
            why = [
                f"{methods[m]} answers {what}"
                for m, what in [
                    ("unparsed", "named neither option"),
                    ("unscorable", "had logprobs but no letter choice"),
                ]
                if methods.get(m)
            ] or ["no item was answered in both orders"]
            problems.append(
                f"values/{name}: 0 of {res['items_incomplete']} items scored ({', '.join(why)})"
            )
        elif not res["acc"]["items"]:
            problems.append(f"values/{name}: 0 items scored")
    problems += unscored_variants(summary)
    problems += unscored_beliefs(summary)
    for name, res in (summary.get("robustness") or {}).items():
        if not res["overall"]["judged"]:
            problems.append(
                f"robustness/{name}: 0 of {res['overall']['samples'] + res.get('sample_errors', 0)}"
                " samples judged"
            )
    for name, res in (summary.get("spec_qa") or {}).items():
        if not res["grade"]["answers"]:
            problems.append(
                f"spec_qa/{name}: 0 of {res['samples']} answers scored "
                f"({res['grader_errors']} grader replies had no parseable score)"
            )
    return "; ".join(problems)


def report_lines(name: str, kind: str, res: dict[str, Any], echo: Any) -> None:
    if kind in ("agentic", "robustness"):
        rows = [("all", res["overall"])]
        if kind == "agentic":  # robustness: one line a variant (its conditions in the log)
            rows += list(res["by_condition"].items())
        head = "agentic" if kind == "agentic" else name
        for label, r in rows:
            parts = []
            for m in ("classifier_verdict", "harmful", "attempt"):
                parts.append(f"{m} {r[m]['k']}/{r[m]['n']} {ci_text(r[m]['ci95'], '.2f')}")
            echo(f"{head} {label}: " + "; ".join(parts))
        if res.get("challenged"):
            c = res["challenged"]
            echo(f"  challenged after a reply without the harmful action: {c['k']}/{c['n']}")
        if res["overall"]["grader_errors"]:
            echo(
                f"  note: {res['overall']['grader_errors']} grader replies had no verdict "
                "(counted as errors, not scored)"
            )
        if res["sample_errors"]:
            echo(f"  note: {res['sample_errors']} samples failed (see the Inspect log)")
        for line in check_lines(res):
            echo(line)
        return
    if "value_preference" in res:  # values, spec_belief: a letter choice
        vp = res["value_preference"]
        echo(
            f"{name}: {vp['mean']:.3f} {ci_text(vp['ci95'])} "
            f"over {vp['items']} items (value-consistent choice; 0.5 = indifferent)"
        )
        methods = res["answers_by_method"]
        if methods.get("parsed"):
            echo(
                f"  note: no logprobs for {methods['parsed']} answers; their text was parsed (0/1)"
            )
        if methods.get("unscorable"):
            echo(
                f"  note: {methods['unscorable']} answers did not start with a letter (or one "
                "letter was not scored): unscorable, not scored"
            )
        if methods.get("unparsed"):
            echo(f"  note: {methods['unparsed']} answers named neither option (not scored)")
    else:
        g = res["grade"]
        echo(f"{name}: {g['mean']:.2f} {ci_text(g['ci95'], '.2f')} over {g['answers']} answers")
        if res["grader_errors"]:
            echo(
                f"  note: {res['grader_errors']} grader replies had no parseable score (not scored)"
            )
