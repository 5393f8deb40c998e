"""Spec lint: directives that come without reasons.

The MSM paper found that specs which explain *why* (values, reasons) generalize
better after midtraining than bare rules. This lint finds each directive (a
sentence or list item with a normative marker: must / should / shall /
prohibited ..., never / always / do not / may not opening the sentence or after
its subject (the model's name, "the assistant", "it", "you"), "<the model> does
not ...", or an imperative such as "Refuse ..." / "Avoid ..." / "Only ...") and
judges it by its own sentence and the next sentence only, so a reason elsewhere
in the section does not clear it. Fenced and indented code blocks and inline
code spans are ignored.

A directive is *explained* when

* its own sentence has an explanatory connective ("because", "so that",
  "in order to", ", otherwise", "this is why", ", which protects" ...) or a
  purpose clause ("..., to protect users"; "to VERB" after a verb that takes an
  infinitive, as in "refuse to help" or "try to avoid", is the rule itself, not
  a reason), or
* the next sentence explains it: it opens with "This is because", "That way",
  "This protects", "Otherwise", "The reason", "Why:" ..., or, when it is not
  itself a directive or an example, it gives a reason or a consequence
  (harm, trust, risk ...) in the same paragraph.

Items of a list introduced by a directive ending in ":" ("The model should
never:") are each a directive; the lead-in's own reason covers them all.

Score = 100 * explained directives / directives (100 when there are none).
It is a heuristic over words, not an understanding of the text: treat it as a
reviewer's prompt.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from msm.spec.core import KNOWN_PLACEHOLDERS, Section, Spec, near_miss, prose_mask

# A normative marker anywhere in the sentence.
_DIRECTIVE = re.compile(
    r"\b(must(?:\s+not)?|mustn't|should(?:\s+not)?|shouldn't|shall(?:\s+not)?"
    r"|(?:is|are)\s+required\s+to|prohibited|forbidden"
    r"|(?:is|are)\s+not\s+(?:allowed|permitted)\s+to)\b",
    re.IGNORECASE,
)
# Markers that give a rule only when they open the sentence or follow its subject (the
# model, "the assistant", "it", "you" ...): "many shops never stock it" gives none; and
# "it may not be ..." is a guess, not a rule.
_ADVERB = r"(never|always|do\s+not|don't|may\s+not(?!\s+be\b))\b"
_MODELS = r"the\s+assistant|the\s+model"  # "{model_name} does not ..." states a rule
_SUBJECTS = r"the\s+assistant|the\s+model|it|you"
# "how the model should ..." / "what it must ..." describe a rule, they do not give one.
_EMBEDDED_MODAL = re.compile(
    r"\b(?:how|what|whether|which)\s+(?:[\w'’]+\s+){0,3}?(?:should|must)\b", re.IGNORECASE
)
# An imperative verb opening the sentence (after an optional adverb).
_IMPERATIVE = re.compile(
    r"^(?:(?:please|also|then|instead|first|finally|likewise)\s*,?\s+)?"
    r"(refuse|avoid|ensure|make\s+sure|only|be|use|keep|treat|follow|answer|respond|reply"
    r"|ask|tell|give|provide|prefer|stop|escalate|report|include|cite|check|verify|decline"
    r"|remember|try|take|say|explain|protect|respect|prioriti[sz]e|comply|obey"
    r"|defer|limit|disclose|share|reveal|flag|warn|stay|remain)\b(?![-'’])",
    re.IGNORECASE,
)
# Connectives that give a reason or purpose inside the directive's own sentence.
_REASON = re.compile(
    r"\b(?:(?<!solely\s)(?<!merely\s)(?<!just\s)(?<!only\s)(?<!simply\s)because"
    r"|since(?!\s+\d)|so\s+that|so\s+as\s+to|in\s+order\s+to|the\s+reason"
    r"|reasons?\s+(?:is|are|why)|given\s+that|lest"
    r"|[,;]\s*(?:or\s+)?otherwise\b(?!\s*,)"
    r"|for\s+(?:this|that|these|those)\s+reasons?|for\s+the\s+sake\s+of"
    r"|out\s+of\s+(?:respect|concern|care)\s+for"
    r"|(?:this|that|which)\s+is\s+why|that's\s+why"
    r"|which\s+(?:protects|helps|ensures|prevents|keeps|preserves|builds|matters|reduces"
    r"|means|avoids|safeguards)"
    r"|,\s*which\s+(?:would|could|might|can|may|will)\s+(?:\w+\s+){0,2}?"
    r"(?:harm|hurt|risk|cause|lead|undermine|erode|damage|endanger|mislead|protect|prevent)"
    r"|,\s*as\s+(?:it|this|that|they|these|those|doing\s+so|otherwise|\w+\s+(?:should|must"
    r"|would|could|might|can|cannot|may|is|are|has|have))\b"
    r"|,\s*so\s+(?!far\b|much\b|many\b|long\b)(?:that\s+)?\w+)",
    re.IGNORECASE,
)
# "to VERB" naming a purpose; a reason only when it is not the complement of a verb.
_PURPOSE = re.compile(
    r"(?:^|(\S+)\s+)to\s+(?:avoid|prevent|protect|ensure|keep|preserve|respect|maintain|reduce"
    r"|minimi[sz]e|safeguard|make\s+sure|spare|mitigate|uphold|build|earn|guard|limit"
    r"|facilitate|enable|foster|promote)\b",
    re.IGNORECASE,
)
_COMPLEMENT_TAKERS = frozenset(
    "refuse refuses refused refusing try tries tried trying want wants need needs have has"
    " had able unable decline declines declined seek seeks aim aims attempt attempts choose"
    " chooses agree fail fails continue continues begin begins start starts tend tends like"
    " likes love prefer prefers ought going used allowed permitted required asked told"
    " expected encouraged willing unwilling likely unlikely ready free how what where when"
    " whether who is are be was were not never always strive strives intend intends plan"
    " wish hope promise offer learn remember forget know meant designed supposed careful"
    " sure way ways help helps and or order as".split()
)
# Openers of a following sentence that explains the one before.
_EXPLAINS_PREVIOUS = re.compile(
    r"^(?:(?:this|that|it)(?:'s|’s|\s+is|\s+was)\s+(?:because|important|essential|crucial"
    r"|necessary|why|so|what)\b"
    r"|(?:this|that|these|those|doing\s+so|such\s+\w+|this\s+rule|that\s+rule|the\s+rule)\s+"
    r"(?:\w+\s+){0,2}?(?:protects?|helps?|ensures?|prevents?|keeps?|matters?|avoids?|reduces?"
    r"|preserves?|builds?|maintains?|supports?|safeguards?|means?|lets?|allows?|guards?"
    r"|respects?|exists?\s+(?:to|so|because)|would|could|might|can)\b"
    r"|(?:that|this|in\s+this|in\s+that)\s+way\b"
    r"|otherwise|the\s+(?:reason|rationale|point|goal|aim|purpose)\b|reason\s*:|rationale\s*:"
    r"|why\s*[:?]|because|since|after\s+all|without\s+(?:this|that|it)\b"
    r"|(?:not\s+)?doing\s+(?:so|otherwise|this|that)|failing\s+to|if\s+(?:it|they|we|you|one)"
    r"\s+(?:did|didn't|did\s+not|were|weren't|could|couldn't)\b)",
    re.IGNORECASE,
)
# A plain statement right after a directive that names a consequence or value.
_CONSEQUENCE = re.compile(
    r"\b(?:harm\w*|hurt\w*|damag\w+|danger\w*|risk\w*|unsafe|safety|trust\w*|mislead\w*"
    r"|deceiv\w+|undermin\w+|erod\w+|destroy\w*|matters?|important|essential|crucial"
    r"|depends?\s+on|rel(?:y|ies)\s+on|leads?\s+to|results?\s+in|causes?|consequences?"
    r"|protect\w*|prevent\w*|benefit\w*|wellbeing|well-being|dignity|autonomy|unfair\w*"
    r"|fairness|deserv\w*|exploit\w*|abuse\w*)\b",
    re.IGNORECASE,
)
_EXAMPLE = re.compile(r"^(?:for\s+(?:example|instance)|e\.g\.|example\b|examples\b)", re.I)

_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,3}[.)])\s+")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MARKUP = re.compile(r"\[\^[^\]\s]*\]|<!--.*?-->|</?[A-Za-z][^<>\n]*>|\{#[^}\n]*\}|\*\*|__|[*~]")
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# abbreviations and initials ("U.S.", "J. Smith") do not end a sentence
_ABBREV = re.compile(r"(?:\b(?i:e\.g|i\.e|etc|vs|cf|mr|mrs|ms|dr|st|no|fig)|\b[A-Z])\.$")
_WS = re.compile(r"\s+")
_LETTER = re.compile(r"[A-Za-z]")
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
    directives: int = 0
    explained: int = 0

    @property
    def score(self) -> float:
        """100 * explained directives / directives (100 when the spec has none)."""
        if self.directives == 0:
            return 100.0
        return 100.0 * self.explained / self.directives

    @property
    def bare(self) -> list[LintWarning]:
        """The directives that give no reason, in file order."""
        return [w for w in self.warnings if w.kind == "unexplained-directive"]


@dataclass
class _Sentence:
    line: int
    text: str  # markup removed, whitespace collapsed
    block: int  # paragraph / list item index within the section
    item: bool  # first sentence of a list item
    in_item: bool  # part of a list item
    directive: str = ""  # the marker found ("" when not a directive)
    inherited: bool = False  # an item under a directive lead-in ending in ":"
    lead_reason: bool = False  # that lead-in gives a reason


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group(0))


def _clean(text: str) -> str:
    """Drop code spans and markup, keeping every character's offset."""
    text = _CODE_SPAN.sub(_blank, text)
    text = _LINK.sub(
        lambda m: " " + m.group(1) + " " * (len(m.group(0)) - len(m.group(1)) - 1), text
    )
    return _MARKUP.sub(_blank, text)


def _blocks(section: Section) -> list[tuple[bool, list[tuple[int, str]]]]:
    """Paragraphs and list items of a section's prose: (is_item, [(line_no, text)])."""
    raw = section.text.split("\n")
    lines = raw[1:] if section.level else raw
    first = section.start_line + (1 if section.level else 0)
    blocks: list[tuple[bool, list[tuple[int, str]]]] = []
    current: list[tuple[int, str]] | None = None
    container = False  # inside a list or an admonition, where indented lines are prose
    for k, (line, prose) in enumerate(zip(lines, prose_mask(lines), strict=True)):
        stripped = line.strip()
        if not prose or not stripped or stripped.startswith(("!!!", "|", "<")):
            current = None  # fences, blank lines, admonition heads, tables, HTML end a block
            container = container or stripped.startswith("!!!")
            if prose and stripped.startswith("|"):
                blocks.append((False, [(first + k, stripped.strip("|"))]))
            continue
        indented = line.startswith(("    ", "\t"))
        if current is None and indented and not container:
            continue  # an indented code block (it cannot interrupt a paragraph)
        if current is None:  # a new block: a plain paragraph ends any list
            container = (container and indented) or bool(_LIST_ITEM.match(line))
        line = re.sub(r"^\s*>\s?", "", line)  # block quotes read as prose
        m = _LIST_ITEM.match(line)
        if m:
            current = [(first + k, " " * m.end() + line[m.end() :])]
            blocks.append((True, current))
        elif current is None:
            current = [(first + k, line)]
            blocks.append((False, current))
        else:
            current.append((first + k, line))
    return blocks


def _sentences(section: Section) -> list[_Sentence]:
    """Split a section's prose into sentences, each with the line it starts on."""
    out: list[_Sentence] = []
    for b, (is_item, lines) in enumerate(_blocks(section)):
        offsets, linenos, parts = [], [], []
        pos = 0
        for lineno, text in lines:
            offsets.append(pos)
            linenos.append(lineno)
            parts.append(text)
            pos += len(text) + 1
        text = _clean("\n".join(parts))
        cuts = [0]
        for m in _SPLIT.finditer(text):
            # look back a few characters only: linear even where nothing splits
            if not _ABBREV.search(text, max(cuts[-1], m.start() - 8), m.start()):
                cuts.append(m.end())
        cuts.append(len(text))
        for n, (a, z) in enumerate(zip(cuts, cuts[1:], strict=False)):
            sentence = _WS.sub(" ", text[a:z]).strip()
            if not _LETTER.search(sentence):
                continue
            lead = len(text[a:z]) - len(text[a:z].lstrip())
            line = linenos[bisect.bisect_right(offsets, a + lead) - 1]
            out.append(_Sentence(line, sentence, b, is_item and n == 0, is_item))
    return out


def _subject_adverb(spec: Spec) -> re.Pattern[str]:
    """``never`` / ``always`` / ``do not`` opening a sentence or after its subject."""
    names = "|".join(re.escape(n) for n in (spec.model_name, spec.provider_name) if n.strip())
    subjects = f"{names}|{_SUBJECTS}" if names else _SUBJECTS
    models = f"{names}|{_MODELS}" if names else _MODELS
    return re.compile(
        rf"(?:^|\b(?:{subjects})(?:['’]s\s+\w+)?\s+(?:[a-z]+\s+){{0,2}}?){_ADVERB}"
        rf"|\b(?:{models})\s+(?:also\s+|still\s+)?(does\s+not|doesn't|will\s+not|won't)\b",
        re.IGNORECASE,
    )


def _directive(text: str, adverb: re.Pattern[str]) -> str:
    """The normative marker of a sentence, or "" when it gives no directive."""
    body = re.sub(r"^[^:]{1,60}:\s+(?=\S)", "", text) if text[:1].isupper() else text
    for t in (body, text):
        m = _IMPERATIVE.match(t) or adverb.search(t)
        if m:
            return next(g for g in m.groups() if g)
    m = _DIRECTIVE.search(_EMBEDDED_MODAL.sub(" ", text))
    return m.group(1) if m else ""


def _has_reason(text: str) -> bool:
    """Whether a sentence gives a reason or purpose for what it says."""
    if _REASON.search(text):
        return True
    for m in _PURPOSE.finditer(text):
        before = m.group(1)
        if (
            before is None
            or before.endswith((",", ";", "—", "-"))
            or before.lower() not in _COMPLEMENT_TAKERS
        ):
            return True
    return False


def _explains(prev: _Sentence, nxt: _Sentence | None) -> bool:
    """Whether ``nxt`` explains the directive ``prev`` just before it."""
    if nxt is None:
        return False
    rule = bool(nxt.directive or nxt.inherited)
    if _EXPLAINS_PREVIOUS.match(nxt.text):
        # "Otherwise, do Y." is the alternative rule, not the reason for this one
        return not (rule and nxt.text.lower().startswith("otherwise"))
    if rule or nxt.block != prev.block or _EXAMPLE.match(nxt.text):
        return False
    return _has_reason(nxt.text) or bool(_CONSEQUENCE.search(nxt.text))


def _mark(sentences: list[_Sentence], adverb: re.Pattern[str]) -> list[_Sentence]:
    """Find directives; list items under a directive lead-in ending in ':' inherit it.

    Returns the sentences to judge (a lead-in with items is judged through them).
    """
    for s in sentences:
        s.directive = _directive(s.text, adverb)
    judged: list[_Sentence] = []
    lead: _Sentence | None = None
    for i, s in enumerate(sentences):
        if lead is not None and s.block > lead.block:
            if not s.in_item:
                lead = None  # a paragraph after the list ends it
            elif s.item:
                s.inherited = True
                s.directive = lead.directive
                s.lead_reason = lead.lead_reason
        nxt = sentences[i + 1] if i + 1 < len(sentences) else None
        if s.directive and s.text.endswith(":") and nxt is not None and nxt.item:
            lead = s
            s.lead_reason = _has_reason(s.text)
            continue
        if s.directive:
            judged.append(s)
    return judged


def _snippet(text: str, limit: int = 90) -> str:
    text = _CTRL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def lint_spec(spec: Spec) -> LintReport:
    """Lint a loaded spec. Deterministic; linear in the spec's size."""
    report = LintReport()
    for ph in spec.unknown_placeholders:
        known = near_miss(ph.name)
        report.warnings.append(
            LintWarning(ph.line, "", "placeholder-typo",
                        f"unknown placeholder {{{ph.name}}}; did you mean {{{known}}}? "
                        "(docgen, aftgen and msm run stop on it)")
            if known else
            LintWarning(ph.line, "", "unknown-placeholder",
                        f"unknown placeholder {{{ph.name}}} left as written "
                        f"(known: {{model_name}}, {{provider_name}})")
        )  # fmt: skip
    for ph in spec.unclosed_placeholders:
        want = ph.name if ph.name in KNOWN_PLACEHOLDERS else near_miss(ph.name)
        report.warnings.append(
            LintWarning(ph.line, "", "unclosed-placeholder",
                        f"'{{{ph.name}' has no closing brace; did you mean {{{want}}}? "
                        "(docgen, aftgen and msm run stop on it)")
        )  # fmt: skip
    adverb = _subject_adverb(spec)
    for section in spec.sections:
        sentences = _sentences(section)
        index = {id(s): i for i, s in enumerate(sentences)}
        for s in _mark(sentences, adverb):
            report.directives += 1
            i = index[id(s)]
            nxt = sentences[i + 1] if i + 1 < len(sentences) else None
            if s.lead_reason or _has_reason(s.text) or _explains(s, nxt):
                report.explained += 1
                continue
            report.warnings.append(
                LintWarning(
                    s.line,
                    section.id,
                    "unexplained-directive",
                    f"'{s.directive.lower()}' with no reason in its sentence or the next "
                    f"(section '{_snippet(section.title, 60)}'): \"{_snippet(s.text)}\"",
                )
            )
    report.warnings.sort(key=lambda w: (w.line, w.kind))
    return report
