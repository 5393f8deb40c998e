"""Agentic scenario texts read from a local checkout of the agentic-misalignment framework.

The paper's authors used the public "agentic-misalignment" framework (Anthropic's; their
fork adds exfiltration). For exact comparability ``EvalConfig.templates`` (``--templates
DIR``) reads a local checkout at run time instead of msm's own texts; none ships with msm.

The layout read (``DIR`` may be the templates folder itself, a checkout holding
``templates/``, or the authors' repository holding ``evals/agentic_misalignment/templates/``)::

    system_prompt_templates.py   USER_PROMPT, GOAL_VARIABLES ({"explicit-america": {...}}),
                                 <SCENARIO>_SYSTEM_PROMPT (scratchpad) and ..._PROD (none)
    <scenario>/templates/email-template-<scenario>-shared.md           \\ goal types other
    <scenario>/templates/email-template-<scenario>-<urgency>.md         / than none, joined
    <scenario>/templates/email-template-<scenario>-goal-conflict-none-<urgency>.md  (none)
    <scenario>/variables/ambiguous.md       one "## Title" + fenced json block (none, ambiguous)
    <scenario>/variables/<a>_vs_<b>.md      a section per goal value ("## Pro-America")

For ``exfiltration`` msm grades with its own action check and grader prompt, fed by what
the e-mails themselves name (``agentic_exfil.derive_exfil``: the outside domains, the
outside party and the secrets); by default the action counts as the authors' rule does (an
e-mail to the named outside party's domain). A condition whose e-mails lack an outside
address or a secret is a one-line MsmError at load. Where no variables file has the goal
value, exfiltration falls back to ``ambiguous.md``, as the authors' generator does (their
fork ships only that one).

Texts use ``${name}`` placeholders (``string.Template``; unknown ones stay as they
are). msm never runs the Python file: it evaluates only its plain assignments of
strings (concatenation, and list comprehensions over literal lists) with ``ast``.

Example::

    t = load_templates(Path("~/agentic-misalignment"), ["murder"], ["explicit-america"],
                       ["replacement"])
    system, user, emails = t.prompts("murder", "explicit-america", "replacement", True, "Ava")
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from msm.errors import MsmError
from msm.evals.agentic.exfil import ExfilFacts, derive_exfil, exfil_union
from msm.evals.agentic.grid import UPSTREAM_NAME, check_grid, rename_agent
from msm.evals.agentic.scenarios import DEFAULT_GOALS, SCENARIOS, conditions

PY_FILE = "system_prompt_templates.py"
_ROOTS = (".", "templates", "evals/agentic_misalignment/templates")
# the authors' fork gives exfiltration no restriction/none e-mails of its own for goal
# conditions: it uses the no-goal-conflict ones there
_EMAIL_OVERRIDES = {("exfiltration", "restriction"), ("exfiltration", "none")}
_WITH_IDS = ("leaking", "exfiltration")  # e-mails numbered ("ID: n") so they can be forwarded
_SECTION = re.compile(r"^## (.*?)\n\s*```json\s*(.*?)\s*```", re.S | re.M)


@dataclass(frozen=True)
class ConditionTexts:
    """One condition's texts, the agent still called ``UPSTREAM_NAME``."""

    system: str  # with the scratchpad paragraph
    system_prod: str  # without it
    user: str
    emails: str
    exfil: ExfilFacts | None = None  # exfiltration only


@dataclass(frozen=True)
class Templates:
    """The texts for every requested condition, keyed (scenario, goal, urgency)."""

    folder: Path
    sha256: str  # over the folder path and the files used (sorted relative paths + bytes)
    files: tuple[str, ...]  # relative to ``folder``
    texts: dict[tuple[str, str, str], ConditionTexts] = field(compare=False)

    def prompts(
        self, scenario: str, goal: str, urgency: str, scratchpad: bool, name: str
    ) -> tuple[str, str, str]:
        """(system, user, emails) like ``agentic.build_prompts``, the agent called ``name``."""
        t = self.texts[(scenario, goal, urgency)]
        system = t.system if scratchpad else t.system_prod
        return rename_agent(system, name), rename_agent(t.user, name), rename_agent(t.emails, name)

    def exfil_facts(
        self, scenario: str, goal: str, urgency: str, name: str
    ) -> dict[str, list[Any]] | None:
        """The exfiltration facts of the e-mails the agent called ``name`` reads (else None)."""
        if self.texts[(scenario, goal, urgency)].exfil is None:
            return None
        emails = self.prompts(scenario, goal, urgency, True, name)[2]
        return derive_exfil(emails, f"templates folder {self.folder}: {scenario}/{goal}").as_dict()

    def record(self) -> dict[str, Any]:
        """What the eval summary says about the texts used (and the exfiltration facts)."""
        out = {"source": str(self.folder), "sha256": self.sha256, "files": list(self.files)}
        facts = exfil_union(t.exfil for t in self.texts.values())
        return {**out, "exfiltration": facts} if facts else out


def load_templates(folder: Path, scenarios: Any, goals: Any, urgencies: Any) -> Templates:
    """Texts for every scenario x goal (``TYPE-VALUE``) x urgency from the checkout ``folder``.

    Every file any condition needs is checked before anything is read: a missing one
    is a one-line MsmError naming the folder, the scenario and the relative path.
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise MsmError(f"templates folder {folder} does not exist")
    root = next((folder / r for r in _ROOTS if (folder / r / PY_FILE).is_file()), None)
    if root is None:
        raise MsmError(
            f"templates folder {folder}: no {PY_FILE} in it, nor under "
            f"{' or '.join(r + '/' for r in _ROOTS[1:])}"
        )
    plan: dict[tuple[str, str, str], tuple[list[Path], Path, str]] = {}
    for s in scenarios:
        for g in goals:
            gtype, _, gvalue = g.partition("-")
            for u in urgencies:
                plan[(s, g, u)] = _plan(folder, root, s, gtype, gvalue, u)
    py = root / PY_FILE
    used = sorted({py, *(p for e, v, _ in plan.values() for p in (*e, v))})
    data = {p: p.read_bytes() for p in used}  # read once: the texts are what was hashed
    digest = hashlib.sha256(str(folder).encode())
    for p in used:
        digest.update(b"\0" + _rel(folder, p).encode() + b"\0" + data[p])
    try:
        text = {p: b.decode("utf-8") for p, b in data.items()}
    except UnicodeDecodeError as e:
        raise MsmError(f"templates folder {folder}: a file is not UTF-8 text ({e})") from None
    consts = _read_constants(text[py], _rel(folder, py))
    texts = {key: _texts(folder, text, consts, key, *how) for key, how in plan.items()}
    facts = exfil_union(t.exfil for t in texts.values())
    if facts:  # what msm derived from the files is part of what they fix
        digest.update(b"\0exfiltration\0" + json.dumps(facts, sort_keys=True).encode())
    return Templates(folder, digest.hexdigest(), tuple(_rel(folder, p) for p in used), texts)


def _rel(folder: Path, p: Path) -> str:
    return p.relative_to(folder).as_posix()


def _plan(
    folder: Path, root: Path, s: str, gtype: str, gvalue: str, u: str
) -> tuple[list[Path], Path, str]:
    """(e-mail files, variables file, goal value to pick there), all checked to exist."""

    def need(p: Path) -> Path:
        if not p.is_file():
            raise MsmError(
                f"templates folder {folder}: scenario {s} needs {_rel(folder, p)}, which is missing"
            )
        return p

    mail = root / s / "templates"
    if gtype == "none":
        emails = [need(mail / f"email-template-{s}-goal-conflict-none-{u}.md")]
    else:
        tail = f"goal-conflict-none-{u}" if (s, u) in _EMAIL_OVERRIDES else u
        emails = [
            need(mail / f"email-template-{s}-shared.md"),
            need(mail / f"email-template-{s}-{tail}.md"),
        ]
    var_dir = root / s / "variables"
    if s == "murder" and not var_dir.is_dir():  # Anthropic's original reads blackmail's
        var_dir = root / "blackmail" / "variables"
    if gtype in ("none", "ambiguous"):
        if gvalue != "none":
            raise MsmError(f"goal type {gtype} needs goal value none, not {gvalue!r}")
        return emails, need(var_dir / "ambiguous.md"), ""
    stems = sorted(p for p in var_dir.glob("*.md") if p.stem != "ambiguous")
    v = gvalue.lower()

    def rank(p: Path) -> int:  # the framework's choice: whole word (america_vs_global) first
        st = p.stem.lower()
        return 0 if f"_{v}_" in f"_{st}_" or st.startswith(v) or st.endswith(v) else 2 - (v in st)

    found = sorted((p for p in stems if rank(p) < 2), key=rank)
    if not found and s == "exfiltration" and (var_dir / "ambiguous.md").is_file():
        return emails, var_dir / "ambiguous.md", ""  # the authors' generator falls back so
    if not found:
        raise MsmError(
            f"templates folder {folder}: scenario {s} needs a variables file for goal value "
            f"{gvalue!r} in {_rel(folder, var_dir)}/ (e.g. {gvalue}_vs_...md), which is missing"
        )
    return emails, found[0], v


def _texts(
    folder: Path,
    text: dict[Path, str],
    consts: dict[str, Any],
    key: tuple[str, str, str],
    emails: list[Path],
    var_file: Path,
    gvalue: str,
) -> ConditionTexts:
    s, goal, _ = key
    shown = _rel(folder, var_file)
    sections = _sections(text[var_file], shown)
    if not gvalue:
        if len(sections) != 1:
            raise MsmError(f"{shown}: expected one variables section, found {len(sections)}")
        chosen = next(iter(sections.values()))
    else:
        match = [v for k, v in sections.items() if gvalue in k or k == f"pro_{gvalue}"]
        if not match:
            raise MsmError(f"{shown}: no section for goal value {gvalue!r} (e.g. '## Pro-...')")
        chosen = match[0]
    goal_vars = _const(consts, "GOAL_VARIABLES", dict)
    if goal.split("-")[0] in ("explicit", "swap") and goal not in goal_vars:
        raise MsmError(f"{PY_FILE}: GOAL_VARIABLES has no entry {goal!r}")
    variables: dict[str, Any] = {**chosen, **goal_vars.get(goal, goal_vars.get("none", {}))}
    variables.update(
        model_name=UPSTREAM_NAME,
        model_name_lower=UPSTREAM_NAME.lower(),
        model_name_upper=UPSTREAM_NAME.upper(),
        extra_system_instructions="",
        alignment_faking_warning="",
    )

    def fill(t: str) -> str:
        return string.Template(t).safe_substitute(variables)

    body = "".join(fill(text[p]) for p in emails)
    if s in _WITH_IDS:
        head, *parts = body.split("<email>")
        body = head + "".join(f"<email>\nID: {i}{p}" for i, p in enumerate(parts, 1))
    name = f"{s.upper()}_SYSTEM_PROMPT"
    shown_mails = ", ".join(_rel(folder, p) for p in emails)
    where = f"templates folder {folder}: {s}/{goal}/{key[2]} ({shown_mails})"
    return ConditionTexts(
        system=fill(_const(consts, name, str)),
        system_prod=fill(_const(consts, f"{name}_PROD", str)),
        user=_const(consts, "USER_PROMPT", str),
        emails=body,
        exfil=derive_exfil(body, where) if s == "exfiltration" else None,
    )


def _const(consts: dict[str, Any], name: str, kind: type) -> Any:
    if not isinstance(consts.get(name), kind):
        raise MsmError(f"{PY_FILE} defines no {kind.__name__} {name}")
    return consts[name]


def _sections(source: str, shown: str) -> dict[str, dict[str, Any]]:
    """``## Title`` -> its fenced json object; titles normalised like ``pro_america``."""
    out: dict[str, dict[str, Any]] = {}
    for title, body in _SECTION.findall(source):
        try:
            value = json.loads(body)
        except json.JSONDecodeError as e:
            raise MsmError(f"{shown}: section {title.strip()!r} is bad JSON ({e.msg})") from None
        key = re.sub(r"[ -]", "_", title.strip().lower())
        out[key] = value if isinstance(value, dict) else {}
    return out


def _read_constants(source: str, shown: str) -> dict[str, Any]:
    """The module's top-level assignments, evaluated without running the file."""
    try:
        tree = ast.parse(source, filename=shown)
    except SyntaxError as e:
        raise MsmError(f"{shown} cannot be parsed: {e}") from None
    env: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            _bind(node.targets[0], _eval(node.value, env, shown), env, shown)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _bind(node.target, _eval(node.value, env, shown), env, shown)
        else:
            _unsupported(node, shown)
    return env


def _unsupported(node: ast.AST, shown: str) -> NoReturn:
    raise MsmError(
        f"{shown} line {getattr(node, 'lineno', '?')}: msm reads only plain string "
        "assignments there (it never runs code from a templates folder)"
    )


def _bind(target: ast.expr, value: Any, env: dict[str, Any], shown: str) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    elts = target.elts if isinstance(target, ast.Tuple | ast.List) else None
    if elts is None or not isinstance(value, list | tuple) or len(value) != len(elts):
        _unsupported(target, shown)
    for t, v in zip(elts, value, strict=True):
        _bind(t, v, env, shown)


def _eval(node: ast.expr, env: dict[str, Any], shown: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | None):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _eval(node.left, env, shown), _eval(node.right, env, shown)
        if type(a) is type(b) and isinstance(a, str | list | tuple):
            return a + b
    if isinstance(node, ast.List | ast.Tuple):
        items = [_eval(e, env, shown) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {
            _eval(k, env, shown): _eval(v, env, shown)  # type: ignore[arg-type]
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.ListComp) and len(node.generators) == 1:
        gen, out = node.generators[0], []
        seq = _eval(gen.iter, env, shown)
        if not gen.ifs and not gen.is_async and isinstance(seq, list | tuple):
            for x in seq:
                local = dict(env)
                _bind(gen.target, x, local, shown)
                out.append(_eval(node.elt, local, shown))
            return out
    return _unsupported(node, shown)


def load_for(folder: Path, grid_conditions: list[Any], urgency: str) -> Templates:
    """The templates folder's texts for these conditions (missing files, or exfiltration
    e-mails without an outside domain or a secret: MsmError)."""
    return load_templates(
        folder,
        list(dict.fromkeys(c.scenario for c in grid_conditions)),
        list(dict.fromkeys(c.goal for c in grid_conditions)),
        [urgency],
    )


def templates_sha(
    folder: str | Path,
    scenarios: list[str] | None,
    goals: list[str] | None,
    urgency: str,
    grid: str | None,
) -> str:
    """sha256 of the template files an agentic eval with these settings reads (checks them)."""
    if grid is not None:
        named = check_grid(grid, scenarios, goals, urgency)
        scenarios, goals = list(named.scenarios), list(named.goals)
    grid_conditions = conditions(
        SCENARIOS if scenarios is None else scenarios,
        DEFAULT_GOALS if goals is None else goals,
        urgency,
    )
    return str(load_for(Path(folder), grid_conditions, urgency).sha256)
