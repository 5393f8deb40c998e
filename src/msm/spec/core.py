"""Model Specs: load, template, hash, section and count tokens (lint: :mod:`msm.spec.lint`).

A spec is Markdown or plain text in UTF-8. Two placeholders are filled in:
``{model_name}`` and ``{provider_name}``. Everything else with braces is left
exactly as written (JSON examples, ``{#anchor}`` ids, ``{{`` in code); an
unknown ``{identifier}`` is reported with its line number, never crashed on.
``{{model_name}}`` is the escape for a literal ``{model_name}``. A spec written
for one model, with its name in the text (e.g. "Llama") instead of the
placeholder, is loaded with ``literal_name="Llama"``: that name, as a whole word,
becomes ``{model_name}``.

Example::

    spec = load_spec("cheese.md", model_name="Llama", provider_name="Meta")
    for s in spec.sections:
        print(s.id, s.title, s.start_line)
    print(spec.sha256[:12], len(spec.text))
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from msm._util.config_io import load_yaml
from msm._util.fsutil import read_user_file
from msm.errors import MsmError, warn_once

KNOWN_PLACEHOLDERS = ("model_name", "provider_name")
DEFAULT_MODEL_NAME = "the assistant"
DEFAULT_PROVIDER_NAME = "its developer"
MAX_SPEC_BYTES = 50 * 1024 * 1024

# {name} not part of a doubled brace; group 1 = leading '{' if escaped
_PLACEHOLDER = re.compile(r"(\{?)\{([A-Za-z_][A-Za-z0-9_]*)\}(\}?)")
# an opening brace and a name with no closing brace after it: "{model_name said"
_UNCLOSED = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_}])")
NEAR_MISS_RATIO = 0.8  # difflib's ratio at which a name reads as a typo of a known one


@dataclass(frozen=True)
class Placeholder:
    """An unknown ``{identifier}`` found in the spec (left untouched)."""

    name: str
    line: int


@dataclass
class Section:
    """One heading and the text under it (up to the next heading of any level)."""

    id: str
    title: str
    level: int
    path: list[str]
    start_line: int
    end_line: int
    text: str
    tokens: int = 0

    @property
    def body(self) -> str:
        """The section text without its heading line."""
        return self.text.split("\n", 1)[1] if "\n" in self.text else ""


@dataclass
class Spec:
    """A loaded, templated spec."""

    path: str
    source: str
    text: str
    model_name: str
    provider_name: str
    unknown_placeholders: list[Placeholder]
    sections: list[Section] = field(default_factory=list)
    # "{model_name" with no closing brace: the name of a known placeholder, or near it
    unclosed_placeholders: list[Placeholder] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the templated text: what downstream stages actually see."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @functools.cached_property
    def source_sha256(self) -> str:
        """Hash of the file as written."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


def read_spec_text(path: str | Path) -> str:
    """Read a spec file as UTF-8 text, with one-line errors for every bad case."""
    p = Path(path)
    raw = read_user_file(p, "spec", MAX_SPEC_BYTES)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MsmError(f"spec file is UTF-16, not UTF-8: {p}; re-save it as UTF-8")
    if b"\x00" in raw:
        raise MsmError(f"spec file looks binary (contains NUL bytes): {p}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MsmError(
            f"spec file is not valid UTF-8 (byte {e.start}): {p}; re-save it as UTF-8"
        ) from e
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise MsmError(f"spec file is empty: {p}")
    return text


def render_template(text: str, values: dict[str, str]) -> tuple[str, list[Placeholder]]:
    """Fill ``{name}`` for the names in ``values``; report other identifiers.

    Substitution is a single pass, so a value containing braces is never
    re-expanded, and ``{{name}}`` yields a literal ``{name}``.
    """
    unknown: list[Placeholder] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def sub(m: re.Match[str]) -> str:
        left, name, right = m.group(1), m.group(2), m.group(3)
        if left and right:
            # {{name}}: an escape for known names, untouched otherwise
            return "{" + name + "}" if name in values else m.group(0)
        if name in values:
            return left + values[name] + right
        unknown.append(Placeholder(name, line_of(m.start(2))))
        return m.group(0)

    return _PLACEHOLDER.sub(sub, text), unknown


def near_miss(name: str) -> str | None:
    """The known placeholder ``name`` is a typo of (``modelname``, ``model_nmae``,
    ``Model_Name``), or None: for a known name itself or a name unlike any."""
    if name in KNOWN_PLACEHOLDERS:
        return None
    squeezed = re.sub(r"[^a-z0-9]", "", name.lower())
    for known in KNOWN_PLACEHOLDERS:
        if squeezed == known.replace("_", ""):
            return known
    close = difflib.get_close_matches(name.lower(), KNOWN_PLACEHOLDERS, 1, NEAR_MISS_RATIO)
    return close[0] if close else None


def unclosed_placeholders(template: str) -> list[Placeholder]:
    """``{model_name`` (or a near miss of a known name) with no closing brace."""
    found, line, at = [], 1, 0
    for m in _UNCLOSED.finditer(template):
        line += template.count("\n", at, m.start())  # in one pass over the text
        at = m.start()
        if m.group(1) in KNOWN_PLACEHOLDERS or near_miss(m.group(1)):
            found.append(Placeholder(m.group(1), line))
    return found


def placeholder_problems(spec: Spec) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the spec's placeholders, each one line with its line number.

    Errors: a placeholder that nearly spells a known one (``{modelname}``: the model's
    name would never be filled in) and an unclosed ``{model_name``. Warnings: any other
    unknown ``{word}``, left as written (specs hold braces on purpose: JSON, templates).
    ``{{word}}`` is the escape: it is neither.
    """
    where = spec.path
    errors: list[tuple[int, str]] = []
    warnings: list[str] = []
    for ph in spec.unclosed_placeholders:
        want = ph.name if ph.name in KNOWN_PLACEHOLDERS else near_miss(ph.name)
        errors.append(
            (ph.line, f"{where}:{ph.line}: '{{{ph.name}' has no closing brace; did you mean "
                      f"{{{want}}}?")
        )  # fmt: skip
    others: dict[str, list[int]] = {}  # other words: one warning per word, with its lines
    for ph in spec.unknown_placeholders:
        known = near_miss(ph.name)
        if known:
            errors.append(
                (ph.line, f"{where}:{ph.line}: unknown placeholder {{{ph.name}}}; did you mean "
                          f"{{{known}}}? (write {{{{{ph.name}}}}} to keep it as written)")
            )  # fmt: skip
        else:
            others.setdefault(ph.name, []).append(ph.line)
    for name, lines in others.items():
        also = ""
        if len(lines) > 1:
            rest = sorted(set(lines) - {lines[0]})
            shown = ", ".join(map(str, rest[:5])) + (", ..." if len(rest) > 5 else "")
            also = f" ({len(lines)} times" + (f"; also line(s) {shown})" if rest else ")")
        warnings.append(
            f"{where}:{lines[0]}: unknown placeholder {{{name}}}{also} left as written "
            "(msm fills only {model_name} and {provider_name})"
        )
    return [e for _, e in sorted(errors, key=lambda x: x[0])], warnings


def check_placeholders(spec: Spec, warn: bool = True) -> list[str]:
    """Raise the first placeholder error (with how many more there are) before anything is
    generated; return the warnings, printed to stderr as ``warning: ...`` when ``warn``
    (each once per process)."""
    errors, warnings = placeholder_problems(spec)
    if errors:
        more = f" (and {len(errors) - 1} more placeholder error(s))" if len(errors) > 1 else ""
        raise MsmError(errors[0] + more)
    if warn:
        for w in warnings:
            warn_once(w)
    return warnings


def literal_name_pattern(name: str) -> re.Pattern[str]:
    """Whole-word, case-sensitive occurrences of ``name`` ("Llama's" counts as "Llama")."""
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")


def replace_literal_name(source: str, name: str, where: str) -> str:
    """Turn a name written literally in a spec (e.g. ``Llama``) into ``{model_name}``.

    For specs written for one model, with its name in the text instead of the
    placeholder. The name must occur as a whole word, or the call fails: a
    misspelt name would otherwise silently leave the spec about another model.
    """
    name = name.strip()
    if not name:
        raise MsmError(f"{where}: the literal name is empty")
    pattern = literal_name_pattern(name)
    if not pattern.search(source):
        raise MsmError(
            f"{where}: literal name {name!r} does not occur in the spec "
            "(it must appear as a whole word, with the same capitals)"
        )
    return pattern.sub("{model_name}", source)


def load_spec(
    path: str | Path,
    model_name: str | None = None,
    provider_name: str | None = None,
    count_tokens: Callable[[Sequence[str]], list[int]] | None = None,
    literal_name: str | None = None,
    name_required: bool = False,
) -> Spec:
    """Load, template and section a spec file.

    Names: ``model_name`` / ``provider_name`` as given, else the spec's front matter
    (``model_name:``, ``provider_name:``), else (model name) the literal name the spec
    writes, else generic defaults; with ``name_required``
    (generation, whose checks look for the model's name) a missing model name is an error.
    ``literal_name``: a name written literally in the spec (e.g. ``Llama``) that is
    treated as ``{model_name}``; it must occur in the file.
    """
    source = read_spec_text(path)
    metadata, body_offset = split_front_matter(source, str(path))
    if model_name is None and "model_name" not in metadata and literal_name is not None:
        model_name = literal_name  # the name the spec itself writes
    values = {
        "model_name": _name(model_name, metadata, "model_name", DEFAULT_MODEL_NAME),
        "provider_name": _name(provider_name, metadata, "provider_name", DEFAULT_PROVIDER_NAME),
    }
    template = source
    if literal_name is not None:
        template = replace_literal_name(source, literal_name, f"spec file {path}")
    if name_required and model_name is None and "model_name" not in metadata:
        raise MsmError(
            f"{path}: no model name: give --model-name NAME (model_name in an experiment) or "
            "write model_name: NAME in the spec's front matter (documents and answers are "
            "checked for naming the model)"
        )
    text, unknown = render_template(template, values)
    spec = Spec(
        path=str(path),
        source=source,
        text=text,
        model_name=values["model_name"],
        provider_name=values["provider_name"],
        unknown_placeholders=unknown,
    )
    spec.metadata = metadata
    spec.unclosed_placeholders = unclosed_placeholders(template)
    spec.sections = split_sections(text, skip_lines=body_offset)
    counter = count_tokens or approx_token_counts
    for s, n in zip(spec.sections, counter([s.text for s in spec.sections]), strict=True):
        s.tokens = n
    return spec


def _name(given: str | None, metadata: dict[str, Any], key: str, default: str) -> str:
    if given is not None:
        return given
    v = metadata.get(key)
    if v is None:
        return default
    if not isinstance(v, str) or not v.strip() or "{" in v:
        raise MsmError(f"front matter {key} must be a plain non-empty name, not {v!r}")
    return v.strip()


# Markdown structure: headings (with an optional {#anchor}) and code fences
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_ANCHOR = re.compile(r"\s*\{#([A-Za-z0-9_.:-]+)\}\s*$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def prose_mask(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it is prose: not a code-fence line nor inside a fence."""
    out: list[bool] = []
    fence: str | None = None
    for line in lines:
        fm = _FENCE.match(line)
        if fm:
            mark = fm.group(1)
            if fence is None:
                fence = mark[0] * len(mark)
            elif mark.startswith(fence):
                fence = None
            out.append(False)
        else:
            out.append(fence is None)
    return out


def _slug(title: str) -> str:
    norm = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")
    return slug[:80] or "section"


def split_front_matter(text: str, where: str = "spec") -> tuple[dict[str, Any], int]:
    """Parse optional YAML front matter (``---`` ... ``---`` at the top).

    Returns the metadata and the number of lines it occupies; the lines stay in
    the text (so line numbers match the file) and are skipped by sectioning.
    Machine-readable facts live there, e.g. the preferences of a cheese spec.
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            try:
                data = load_yaml("\n".join(lines[1:i])) or {}
            # ValueError: a bad date (2001-13-01) or an overlong integer; RecursionError:
            # deep nesting. PyYAML raises both from inside the parser.
            except (yaml.YAMLError, ValueError, RecursionError) as e:
                first = (str(e).splitlines() or [type(e).__name__])[0]
                raise MsmError(f"{where}: front matter is not valid YAML: {first}") from e
            if not isinstance(data, dict):
                raise MsmError(f"{where}: front matter must be a YAML mapping")
            return data, i + 1
    raise MsmError(f"{where}: front matter starts with '---' on line 1 but never ends")


def split_sections(text: str, skip_lines: int = 0) -> list[Section]:
    """Split text at ATX headings (``#`` .. ``######``), ignoring fenced code.

    Text before the first heading becomes a ``preamble`` section. Ids come from
    explicit ``{#anchor}`` markers where present, else from the title; repeats
    get ``-2``, ``-3``... so ids are unique and deterministic.
    """
    lines = text.split("\n")
    heads: list[tuple[int, int, str, str | None]] = []  # (line index, level, title, anchor)
    for i, (line, prose) in enumerate(zip(lines, prose_mask(lines), strict=True)):
        if i < skip_lines or not prose:
            continue
        hm = _HEADING.match(line)
        if hm:
            title = hm.group(2)
            anchor = None
            am = _ANCHOR.search(title)
            if am:
                anchor = am.group(1)
                title = title[: am.start()].rstrip()
            heads.append((i, len(hm.group(1)), title, anchor))

    sections: list[Section] = []
    seen: dict[str, int] = {}

    def unique(base: str) -> str:
        n = seen.get(base, 0) + 1
        seen[base] = n
        return base if n == 1 else f"{base}-{n}"

    first = heads[0][0] if heads else len(lines)
    pre_lines = lines[skip_lines:first]
    lead = next((k for k, x in enumerate(pre_lines) if x.strip()), None)
    if lead is not None:
        pre = "\n".join(pre_lines[lead:]).rstrip("\n")
        start = skip_lines + lead + 1
        sections.append(Section(unique("preamble"), "(preamble)", 0, [], start, first, pre))
    stack: list[tuple[int, str]] = []
    for k, (i, level, title, anchor) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        while stack and stack[-1][0] >= level:
            stack.pop()
        path = [t for _, t in stack] + [title]
        stack.append((level, title))
        body = "\n".join(lines[i:end]).rstrip("\n")
        sections.append(
            Section(unique(anchor or _slug(title)), title, level, path, i + 1, end, body)
        )
    return sections


_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_token_counts(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free estimate (words and punctuation marks).

    Used only when no tokenizer is available; ``msm spec`` uses the bundled
    model's tokenizer by default.
    """
    return [len(_WORDISH.findall(t)) for t in texts]


def tokenizer_counter(tokenizer_json: str | Path) -> Callable[[Sequence[str]], list[int]]:
    """Token counter from a ``tokenizer.json`` (fast, no transformers import)."""
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(tokenizer_json))
    except Exception as e:  # noqa: BLE001 - tokenizers raises a bare Exception for bad files
        first = " ".join(str(e).split())[:200] or type(e).__name__
        raise MsmError(f"cannot load tokenizer {tokenizer_json}: {first}") from e

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    return count
