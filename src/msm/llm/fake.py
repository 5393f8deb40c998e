"""``fake``: a deterministic, scriptable model for tests and dry runs.

The answer is a pure function of (messages, seed, attempt): no network, no
weights. msm passes the sample index as the seed, so different samples of the
same prompt differ while a rerun reproduces them exactly.

A script is a list of rules, tried in order against the transcript (all message
texts joined by newlines); the first whose regex ``match`` hits decides:

* ``response``: text, or a list of texts picked by ``seed``. In it, ``{n}`` is
  the seed, ``{prompt_hash}`` a short hash of the transcript, ``{g:NAME}`` the
  text captured by the named group ``NAME`` of ``match``, and ``{words:K}`` K
  pseudo-random words drawn from a fixed vocabulary (seeded by the transcript,
  the seed and the position), so scripted documents differ from each other, and
  ``{pick:X|Y|Z}`` one of the listed words, drawn the same way (a grader's score,
  say, that varies between transcripts although the grader is called without a seed);
* ``options``: instead of ``response``, a forced choice: each option gets a
  pseudo-random log-probability (from the transcript and the seed), the answer is
  the likeliest one, and when the request asks for logprobs the first token's top
  logprobs list every option, as a provider's would (value items' A/B letters);
* ``error``: ``rate_limit`` | ``timeout`` | ``server`` (transient, retried) or
  ``fatal`` (not retried), raised on the first ``times`` attempts of each
  distinct (transcript, seed), forever if ``times`` is absent;
* ``fail_rate``: fail that fraction of attempts with ``error`` instead,
  chosen by a hash so the same attempts fail on every rerun;
* ``stop_reason``: force a stop reason (e.g. ``content_filter``).

Fault injection (``faults``, in a script or as ``fake:faults=0.3``): a given
fraction of all attempts fails, each with one kind picked by hash: ``rate_limit``,
``timeout``, ``server`` (raised, retried by msm), ``malformed`` (broken JSON with
no words in it), ``truncated`` (half the answer, stop reason ``max_tokens``) and
``refusal`` (a refusal, stop reason ``content_filter``). Choices are a pure
function of (transcript, seed, attempt, fault seed), so a rerun sees the same
faults. Every injected fault is tallied (:func:`injected_faults`) so tests can
check that msm's own counts add up.

Without a matching rule the answer is a short deterministic pseudo-sentence.
Tokens are counted as whitespace-separated words; an answer longer than
``max_tokens`` words is cut and marked ``max_tokens``, like a real provider.
From the CLI: ``--model fake``, ``--model fake/path/to/script.yaml`` and either
with options, e.g. ``--model fake:faults=0.3,kinds=rate_limit+refusal,fault_seed=1``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import random
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput, modelapi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from tenacity import wait_exponential

from msm.errors import MsmError
from msm.llm.api_base import MsmModelAPI, model_output

_WORDS = (
    "the model explains its reasons clearly and cares about honest careful work "
    "while documents describe values principles trade offs memos reports forums"
).split()

M = TypeVar("M", bound=BaseModel)


_VOCAB = (
    "able account across action actually advice after again agree allow almost alone along "
    "already always among answer anyone appear apply approach area argue around arrive aside "
    "assume attention audience author avoid balance basic before begin behind belief benefit "
    "better between board borrow bottom branch brief bright bring budget build burden button "
    "calm campaign candle careful carry case cause center chance change chapter choice claim "
    "clear climb close coast cold collect colour common community compare concern confirm "
    "consider context control corner count course cover craft create credit culture current "
    "custom daily damage data debate decide deep defend degree deliver depend describe design "
    "detail develop differ direct discuss distance divide doctor draft dream drive early earn "
    "easy edge effort either element emerge energy enjoy enough enter equal escape even event "
    "evidence exact example expect explain extend fabric factor fair faith family farm favour "
    "feature field figure final finger focus follow forest forget formal frame fresh friend "
    "future garden gather general gentle giant glass global grade grain ground group growth "
    "guide habit handle harbor health heavy height hidden history holiday honest horizon human "
    "idea image impact improve include income index inform inside invite island issue journey "
    "judge keep kitchen label ladder language large later launch layer leader learn letter "
    "level light limit listen local logic lucky machine manage market matter meaning measure "
    "memory method middle minute model moment morning motion narrow nation native nature "
    "notice number object offer office open option order origin outcome owner paper parent "
    "partner pattern people period person phrase picture place plain planet plenty policy "
    "position power practice prefer present pretty print private problem process produce "
    "project proper public purpose quality quarter question quiet radio range rather reach "
    "reason record reduce region remain remote repair report request result return review "
    "river routine rural safety sample scale school season second section secure select "
    "sense series service settle shape share shelter signal simple single skill social solid "
    "source space speak special spirit spring stable staff stage standard station steady "
    "story street strong student study subject summer supply support surface system table "
    "talent target teacher theory thread ticket timber title topic toward track trade travel "
    "trust typical union unique update useful valley value vendor village visit voice volume "
    "wander wealth weather welcome window winter wisdom wonder worker writer yard young"
).split()
_DIRECTIVE = re.compile(r"\{(n|prompt_hash|g|words|pick)(?::([A-Za-z0-9_|]+))?\}")


class FakeTransientError(Exception):
    """A retryable failure (rate limit, timeout, 5xx); ``msm_reason`` names it."""

    msm_reason = "server_error"


class FakeRateLimitError(FakeTransientError):
    msm_reason = "rate_limit"


class FakeTimeoutError(FakeTransientError):
    msm_reason = "timeout"


class FakeFatalError(Exception):
    """A non-retryable failure (bad request)."""

    msm_reason = "provider_error"


_ERRORS: dict[str, type[Exception]] = {
    "rate_limit": FakeRateLimitError,
    "timeout": FakeTimeoutError,
    "server": FakeTransientError,
    "fatal": FakeFatalError,
}
FAULT_KINDS = ("rate_limit", "timeout", "server", "malformed", "truncated", "refusal")
MALFORMED = '{"": [{"": ['  # broken JSON with no words: no parser can use it
REFUSAL = "I'm sorry, but I can't help with that request."

_injected: Counter[str] = Counter()
_injected_lock = threading.Lock()


def injected_faults(reset: bool = False) -> dict[str, int]:
    """Faults injected so far in this process, by kind, plus ``attempts``: all attempts
    made by fault-injecting fakes (``reset`` clears the tally)."""
    with _injected_lock:
        out = dict(_injected)
        if reset:
            _injected.clear()
    return out


class FaultSpec(BaseModel):
    """Inject faults into a fraction of all attempts."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0.0, le=1.0)
    kinds: list[Literal[FAULT_KINDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(FAULT_KINDS), min_length=1
    )
    seed: int = 0


def parse_fake_options(text: str, name: str) -> FaultSpec:
    """``faults=0.3,kinds=rate_limit+refusal,fault_seed=1`` -> a FaultSpec (one-line errors)."""
    raw: dict[str, Any] = {}
    for part in text.split(","):
        k, eq, v = part.partition("=")
        k, v = k.strip(), v.strip()
        if not eq or not k or not v:
            raise MsmError(f"model {name!r}: options are key=value pairs separated by commas")
        if k == "faults":
            raw["rate"] = v
        elif k == "kinds":
            raw["kinds"] = [x for x in v.split("+") if x]
        elif k == "fault_seed":
            raw["seed"] = v
        else:
            raise MsmError(f"model {name!r}: unknown option {k!r} (use faults, kinds, fault_seed)")
    if "rate" not in raw:
        raise MsmError(f"model {name!r}: options need faults=<fraction>")
    return _validated(FaultSpec, raw, f"model {name!r}")


class FakeRule(BaseModel):
    """One scripted behaviour."""

    model_config = ConfigDict(extra="forbid")

    match: str = ".*"
    response: str | list[str] | None = None
    options: list[str] | None = Field(default=None, min_length=2)
    error: Literal["rate_limit", "timeout", "server", "fatal"] | None = None
    times: int | None = Field(default=None, ge=0)
    fail_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    stop_reason: Literal["stop", "max_tokens", "content_filter"] | None = None
    delay_s: float = Field(default=0.0, ge=0.0)

    @field_validator("match")
    @classmethod
    def _valid_regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regular expression {v!r}: {e}") from e
        return v

    @model_validator(mode="after")
    def _one_answer(self) -> FakeRule:
        if self.options is not None and self.response is not None:
            raise ValueError("give response or options, not both")
        return self


class FakeScript(BaseModel):
    """An ordered list of rules."""

    model_config = ConfigDict(extra="forbid")

    rules: list[FakeRule] = Field(default_factory=list)
    faults: FaultSpec | None = None


def load_fake_script(path: str | Path) -> FakeScript:
    """Read a YAML/JSON fake script with one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise MsmError(f"fake script not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        # ValueError: UnicodeDecodeError, and PyYAML on impossible dates (2001-13-01)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MsmError(f"fake script {p} is not valid YAML/JSON: {first}") from e
    if isinstance(data, list):
        data = {"rules": data}
    return _validated(FakeScript, data, f"fake script {p}")


def _validated(model: type[M], data: Any, where: str) -> M:
    """``model`` from ``data``, or a one-line error naming the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise MsmError(f"{where}: {loc}: {err['msg']}") from e


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> tuple[re.Pattern[str], str]:
    """The compiled pattern and its leading literal text (for a fast pre-check)."""
    body = pattern[4:] if pattern.startswith("(?s)") else pattern
    m = re.match(r"[A-Za-z0-9 ,:'\-]+", body)
    literal = m.group(0) if m else ""
    if "|" in body:
        literal = ""  # an alternative may match without the leading text
    if literal and len(body) > len(literal) and body[len(literal)] in "*?{":
        literal = literal[:-1]  # a quantifier applies to the last character
    return re.compile(pattern, re.S), literal


def builtin_script(name: str) -> FakeScript:
    """A script shipped as package data (``msm/data/fake/<name>.yaml``)."""
    from importlib import resources

    text = resources.files("msm").joinpath(f"data/fake/{name}.yaml").read_text("utf-8")
    return FakeScript.model_validate(yaml.safe_load(text))


def fake_args(model: str, args: dict[str, Any] | None, script: str) -> dict[str, Any]:
    """Model args for a stage: ``fake`` (with or without options) gets the stage's script."""
    out = dict(args or {})
    if (model == "fake" or model.startswith("fake:")) and "script" not in out:
        out["script"] = builtin_script(script)
    return out


def _h(*parts: object) -> int:
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def _option_logprobs(options: list[str], tkey: int, seed: int) -> dict[str, float]:
    """Each option's pseudo-random log-probability (they sum to probability 1): a pure
    function of (transcript, seed), so a rerun picks the same option with the same odds."""
    logits = {o: (_h("option", tkey, seed, o) % 4001) / 1000 for o in options}
    top = max(logits.values())
    norm = top + math.log(sum(math.exp(v - top) for v in logits.values()))
    return {o: v - norm for o, v in logits.items()}


@modelapi(name="msm-fake")
class FakeModelAPI(MsmModelAPI):
    """Inspect model API for the ``fake`` model. Model args: ``script`` (FakeScript)."""

    def setup(self, model_args: dict[str, Any]) -> None:
        script = model_args.pop("script", None)
        if script is None and self.model_name not in ("", "default"):
            script = load_fake_script(self.model_name)
        self.script: FakeScript = script if isinstance(script, FakeScript) else FakeScript()
        faults = model_args.pop("faults", None)
        self.faults: FaultSpec | None = (
            FaultSpec.model_validate(faults) if faults is not None else self.script.faults
        )
        self.attempts: Counter[tuple[int, int]] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    async def answer(self, input: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        transcript = "\n".join(m.text for m in input)
        seed = config.seed if config.seed is not None else 0
        tkey = _h(transcript)
        key = (tkey, seed)
        with self._lock:
            self.calls += 1
            self.attempts[key] += 1
            attempt = self.attempts[key]
        rule, groups = None, {}
        for r in self.script.rules:
            pattern, literal = _compiled(r.match)
            if literal and literal not in transcript:
                continue  # cheap pre-check: the pattern's leading literal text is absent
            m = pattern.search(transcript)
            if m:
                rule, groups = r, {k: v for k, v in m.groupdict().items() if v is not None}
                break
        if rule is not None and rule.delay_s:
            await asyncio.sleep(rule.delay_s)
        if rule is not None and rule.error is not None:
            fail = (
                (_h(key, attempt) % 10_000) < rule.fail_rate * 10_000
                if rule.fail_rate is not None
                else rule.times is None or attempt <= rule.times
            )
            if fail:
                kind = rule.error
                raise _ERRORS[kind](f"fake {kind} error (attempt {attempt})")
        fault = self._fault(key, attempt)
        if fault in ("rate_limit", "timeout", "server"):
            raise _ERRORS[fault](f"fake {fault} error (injected, attempt {attempt})")
        choice = None
        if rule is not None and rule.options is not None:
            choice = _option_logprobs(rule.options, tkey, seed)
            text = max(choice, key=choice.__getitem__)
        else:
            text = self._answer(rule, tkey, seed, groups)
        words = text.split()
        limit = config.max_tokens
        stop = rule.stop_reason if rule is not None and rule.stop_reason else "stop"
        if limit is not None and len(words) > limit:
            # cut after the limit-th word, keeping the original line breaks
            ends = [m.end() for m in re.finditer(r"\S+", text)]
            text, stop = text[: ends[limit - 1]], "max_tokens"
        if fault == "malformed":
            text, stop = MALFORMED, "stop"
        elif fault == "truncated":
            ends = [m.end() for m in re.finditer(r"\S+", text)]
            text, stop = text[: ends[max(0, len(ends) // 2 - 1)]] if ends else "", "max_tokens"
        elif fault == "refusal":
            text, stop = REFUSAL, "content_filter"
        logprobs = None
        if choice is not None and fault is None and config.logprobs and text in choice:
            top = sorted(choice.items(), key=lambda kv: -kv[1])[: config.top_logprobs or None]
            logprobs = [(text, choice[text], top)]
        # words ~ tokens; counting spaces is enough for a fake and cheap on long prompts
        n_in = sum(m.text.count(" ") + 1 for m in input)
        return model_output(self.model_name, text, stop, n_in, len(text.split()), logprobs)

    def _fault(self, key: tuple[int, int], attempt: int) -> str | None:
        """The fault injected into this attempt, if any (and tally it)."""
        f = self.faults
        if f is None:
            return None
        with _injected_lock:
            _injected["attempts"] += 1
        if _h("fault", f.seed, key, attempt) % 10_000 >= f.rate * 10_000:
            return None
        kind: str = f.kinds[_h("kind", f.seed, key, attempt) % len(f.kinds)]
        with _injected_lock:
            _injected[kind] += 1
        return kind

    def _answer(self, rule: FakeRule | None, tkey: int, seed: int, groups: dict[str, str]) -> str:
        phash = f"{tkey % 16**8:08x}"
        if rule is not None and rule.response is not None:
            resp = rule.response
            text = resp[seed % len(resp)] if isinstance(resp, list) else resp
            rng = random.Random(_h(tkey, seed))

            def fill(m: re.Match[str]) -> str:
                kind, arg = m.group(1), m.group(2)
                if kind == "n":
                    return str(seed)
                if kind == "prompt_hash":
                    return phash
                if kind == "g":
                    return groups.get(arg or "", "")
                if kind == "pick":
                    return rng.choice((arg or "").split("|"))
                count = min(int(arg or "0"), 5000)
                return " ".join(rng.choices(_VOCAB, k=count))

            # one pass, so captured text containing {...} is never expanded again
            return _DIRECTIVE.sub(fill, text)
        h = _h(tkey, seed)
        picked = [_WORDS[(h >> (4 * i)) % len(_WORDS)] for i in range(8)]
        return f"Fake answer {phash}-{seed}: " + " ".join(picked) + "."

    def should_retry(self, ex: Exception) -> bool:
        return isinstance(ex, FakeTransientError)

    msm_backoff_s = 0.01  # first retry wait in msm's direct path: tests stay fast

    def retry_wait(self) -> Any:
        # real backoff shape, tiny scale: tests stay fast
        return wait_exponential(multiplier=0.01, min=0.01, max=0.2)

    def max_connections(self) -> int:
        return 64
