"""Spec lint: directives that come without reasons.

The MSM paper found that specs which explain *why* (values, reasons) generalize
better after midtraining than bare rules. This lint flags sections that issue
directives (must / never / always / should ...) but give no reason anywhere in
the section, with line numbers, and scores the spec by the share of
directive-bearing sections that do explain themselves. It is a heuristic over
words, not an understanding of the text: treat it as a reviewer's prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from msm.spec import Section, Spec, prose_mask

_DIRECTIVE = re.compile(
    r"\b(must(?:\s+not)?|mustn't|never|always|should(?:\s+not)?|shouldn't|shall(?:\s+not)?"
    r"|do\s+not|don't|may\s+not|is\s+required\s+to|are\s+required\s+to|required\s+to"
    r"|prohibited|forbidden)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(because|since|so\s+that|in\s+order\s+to|the\s+reason|reasons?\s+(?:is|are|why)|why"
    r"|rationale|otherwise|given\s+that|as\s+a\s+result|which\s+(?:means|helps|ensures|protects)"
    r"|this\s+(?:helps|ensures|protects|matters|is\s+important|prevents|keeps)"
    r"|to\s+(?:ensure|avoid|prevent|protect|help|keep|preserve|respect|maintain)"
    r"|(?:it|this)\s+matters|values?|cares?\s+about|believes?)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class LintWarning:
    """One finding, tied to a line of the spec file."""

    line: int
    section: str
    kind: str
    message: str


@dataclass
class LintReport:
    """All findings plus the summary score."""

    warnings: list[LintWarning] = field(default_factory=list)
    directive_sections: int = 0
    explained_sections: int = 0

    @property
    def score(self) -> float:
        """Percent of directive-bearing sections that give a reason (100 if none)."""
        if self.directive_sections == 0:
            return 100.0
        return 100.0 * self.explained_sections / self.directive_sections


def _prose_lines(section: Section) -> list[tuple[int, str]]:
    """Body lines with their file line numbers, outside fenced code."""
    lines = section.text.split("\n")[1:] if section.level else section.text.split("\n")
    first = section.start_line + (1 if section.level else 0)
    return [
        (first + k, line)
        for k, (line, prose) in enumerate(zip(lines, prose_mask(lines), strict=True))
        if prose
    ]


def lint_spec(spec: Spec) -> LintReport:
    """Lint a loaded spec. Deterministic; linear in the spec's size."""
    report = LintReport()
    for ph in spec.unknown_placeholders:
        report.warnings.append(
            LintWarning(
                ph.line,
                "",
                "unknown-placeholder",
                f"unknown placeholder {{{ph.name}}} left as written "
                f"(known: {{model_name}}, {{provider_name}})",
            )
        )
    for section in spec.sections:
        lines = _prose_lines(section)
        directives = [(n, m.group(1)) for n, text in lines for m in [_DIRECTIVE.search(text)] if m]
        if not directives:
            continue
        report.directive_sections += 1
        if any(_REASON.search(text) for _, text in lines):
            report.explained_sections += 1
            continue
        for lineno, word in directives:
            report.warnings.append(
                LintWarning(
                    lineno,
                    section.id,
                    "unexplained-directive",
                    f"'{word.lower()}' in section '{section.title}' with no reason given "
                    "(say why: specs that explain their values generalize better)",
                )
            )
    report.warnings.sort(key=lambda w: (w.line, w.kind))
    return report
