"""The model seam: the only module that imports litellm, and only when a call is about to happen.

One call shape for every provider: `ModelSeam.review(...)` sends a persona's messages with the
verdict JSON schema as `response_format`, retries transient failures (honouring Retry-After),
re-asks the model with the validation error when its reply does not fit the schema, and
returns a `CallOutcome` that records everything the audit trail needs.

Two providers are registered with litellm here: `scripted/...` (panel.scripted, for tests) and
`local/...` (panel.local, the embedded llama.cpp model).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import gc
import json
import os
import random
import re
import time
from dataclasses import dataclass, field

from pydantic import ValidationError

from .errors import ModelConfigError
from .verdict import Status, Verdict, verdict_schema

DEFAULT_MODEL = "local/smollm2"
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 120.0
MAX_REASKS = 2  # after the first answer: at most two more chances to fit the schema
MAX_ATTEMPTS = 4  # per answer, for transient provider errors
MAX_RETRY_AFTER_S = 60.0

_litellm = None


def get_litellm():
    """Import and configure litellm once. Costs seconds, so only a real call gets here."""
    global _litellm
    if _litellm is None:
        # Offline, litellm would otherwise try to download its cost map at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.num_retries = 0  # litellm retries every error and ignores Retry-After; tenacity does it here
        litellm.custom_provider_map = [
            {"provider": "scripted", "custom_handler": _make_scripted_handler(litellm)()},
            {"provider": "local", "custom_handler": _make_local_handler(litellm)()},
        ]
        _skip_unheard_success_logs(litellm)
        _litellm = litellm
        # litellm leaves ~400k long-lived objects behind its import; every full garbage collection
        # walks them all again, which cost about 1 ms of CPU per call in a batch (measured in
        # bench/bench_batch.py). Freezing moves what exists now out of the collector's sight.
        gc.freeze()
        # A batch allocates a few thousand short-lived objects per call (requests, responses,
        # graph state); collecting the young generation every 700 allocations cost ~0.3 ms of CPU
        # per call. Every 10,000 is still frequent enough that cyclic garbage never piles up.
        threshold0, threshold1, threshold2 = gc.get_threshold()
        gc.set_threshold(max(threshold0, 10_000), threshold1, threshold2)
    return _litellm


# litellm's lists of logging callbacks; panel registers none (its audit trail is the SQLite store).
_LITELLM_LISTENERS = ("callbacks", "success_callback", "_async_success_callback", "input_callback", "service_callback")


def _skip_unheard_success_logs(litellm) -> None:
    """After every successful call litellm queues a coroutine that builds a full logging payload
    (cost breakdown, redacted deep copies of the messages) for its callbacks: ~0.6 ms of CPU per
    call (bench/bench_batch.py), for nobody when no callback is registered. While none is, close
    that coroutine unrun. litellm has no switch for this; if its internals move, nothing changes."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER as worker
    except ImportError:
        return
    enqueue = getattr(worker, "ensure_initialized_and_enqueue", None)
    if enqueue is None:
        return

    def enqueue_if_heard(async_coroutine):
        name = getattr(async_coroutine, "__qualname__", "")
        if name.endswith("async_success_handler") and not any(
            getattr(litellm, attr, None) for attr in _LITELLM_LISTENERS
        ):
            async_coroutine.close()
            return None
        return enqueue(async_coroutine)

    worker.ensure_initialized_and_enqueue = enqueue_if_heard


def _verdict_schema() -> dict:
    """The verdict JSON schema for `response_format`: built once (pydantic takes ~1 ms to generate
    it), copied per call so nothing downstream can change the cached one."""
    return json.loads(_verdict_schema_json())


@functools.lru_cache(maxsize=1)
def _verdict_schema_json() -> str:
    return json.dumps(verdict_schema())


def _fill_response(litellm, model_response, model: str, text: str, prompt_tokens: int, completion_tokens: int):
    model_response.choices[0].message.content = text
    model_response.model = model
    model_response.usage = litellm.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response


def _make_scripted_handler(litellm):
    from . import scripted

    class ScriptedHandler(litellm.CustomLLM):
        async def acompletion(self, model, messages, api_base, custom_prompt_dict, model_response, *args, **kwargs):
            params = kwargs.get("optional_params") or (args[5] if len(args) > 5 else {})
            text = scripted.respond(model, messages, params)
            words = sum(len(m["content"].split()) for m in messages)
            return _fill_response(litellm, model_response, f"scripted/{model}", text, words, len(text.split()))

    return ScriptedHandler


def _make_local_handler(litellm):
    class LocalHandler(litellm.CustomLLM):
        async def acompletion(self, model, messages, api_base, custom_prompt_dict, model_response, *args, **kwargs):
            from . import local

            params = kwargs.get("optional_params") or (args[5] if len(args) > 5 else {})
            out = await local.acomplete(
                model,
                messages,
                temperature=params.get("temperature"),
                max_tokens=params.get("max_tokens"),
                response_format=params.get("response_format"),
            )
            return _fill_response(
                litellm, model_response, f"local/{model}", out.text, out.prompt_tokens, out.completion_tokens
            )

    return LocalHandler


# --- settings and outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSettings:
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    api_base: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S

    def params(self) -> dict:
        """Sampling params that change what a model says: part of the cache key."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    @property
    def is_local(self) -> bool:
        return self.model.startswith("local/")


@dataclass
class CallOutcome:
    persona: str
    persona_version: str
    model: str
    status: Status
    verdict: Verdict | None = None
    raw: str = ""
    error: str | None = None
    request: list[dict] = field(default_factory=list)
    attempts: int = 0
    latency: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class VerdictParseError(ValueError):
    """A reply that is not a valid verdict; its message is sent back to the model."""


class BudgetExceeded(Exception):
    pass


# --- parsing --------------------------------------------------------------------------------------

_FENCED = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.S)


def parse_verdict(text: str) -> Verdict:
    """Parse a reply into a Verdict. Tolerates a code fence or prose around one JSON object."""
    body = (text or "").strip()
    if not body:
        raise VerdictParseError("the reply was empty")
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        start, end = body.find("{"), body.rfind("}")
        try:
            data = json.loads(body[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            raise VerdictParseError(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise VerdictParseError("the reply must be one JSON object")
    try:
        return Verdict.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors()[:6])
        raise VerdictParseError(f"the JSON does not match the verdict schema: {problems}") from None


def reask_message(error: str) -> dict:
    return {
        "role": "user",
        "content": (
            f"Your reply could not be used: {error}. Reply again with only one JSON object with the fields "
            "rationale, verdict (\"ship\" or \"skip\"), confidence (0 to 1), headline, strengths, risks, competitors."
        ),
    }


# --- secrets never leave the process -------------------------------------------------------------

_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|[A-Za-z0-9_\-]{4,}\*{3,}[A-Za-z0-9_\-]*)")
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")


def redact(text: str | None) -> str | None:
    """Remove API keys from provider error messages before they are stored or printed."""
    if not text:
        return text
    for name, value in os.environ.items():
        if value and len(value) >= 8 and _SECRET_ENV.search(name.upper()) and value in text:
            text = text.replace(value, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)


# --- retries ---------------------------------------------------------------------------------------


def retry_after_seconds(exc: BaseException) -> float | None:
    """The provider's Retry-After (seconds or an HTTP date), from the error's HTTP response."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def is_transient(exc: BaseException) -> bool:
    """Rate limits, 5xx, timeouts and dropped connections; never auth or bad-request errors."""
    lt = get_litellm()
    permanent = (lt.AuthenticationError, lt.BadRequestError, lt.NotFoundError, lt.PermissionDeniedError)
    if isinstance(exc, permanent):
        return False
    # 502/503 are not InternalServerError subclasses, and Timeout is not an APIConnectionError.
    transient = (
        lt.RateLimitError,
        lt.InternalServerError,
        lt.ServiceUnavailableError,
        lt.BadGatewayError,
        lt.Timeout,
        lt.APIConnectionError,
    )
    return isinstance(exc, transient)


def backoff_seconds(attempt: int, exc: BaseException | None) -> float:
    """The provider's Retry-After when it gives one (capped), else jittered exponential backoff."""
    hinted = retry_after_seconds(exc) if exc is not None else None
    if hinted is not None:
        return min(hinted, MAX_RETRY_AFTER_S)
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def wait_for_retry(retry_state) -> float:
    """tenacity wait strategy: see backoff_seconds."""
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    return backoff_seconds(retry_state.attempt_number, exc)


def describe_error(exc: BaseException) -> str:
    lt = get_litellm()
    if isinstance(exc, lt.AuthenticationError):
        prefix = "authentication failed (check the provider's API key variable)"
    elif isinstance(exc, lt.BadRequestError):
        prefix = "the provider rejected the request"
    elif isinstance(exc, lt.NotFoundError):
        prefix = "model not found"
    elif isinstance(exc, lt.Timeout):
        prefix = "timed out"
    elif isinstance(exc, lt.RateLimitError):
        prefix = "rate limited"
    else:
        prefix = type(exc).__name__
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()
    detail = message[0][:300] if message else ""
    return redact(f"{prefix}: {detail}" if detail else prefix)


def check_model(model: str) -> None:
    """What can be checked without a call: a model is named, and a local GGUF file is usable."""
    if not model:
        raise ModelConfigError("no model set: pass --model or set PANEL_MODEL")
    if model.startswith("local/"):
        from . import local

        local.resolve_gguf(model.removeprefix("local/"))


# --- the seam ----------------------------------------------------------------------------------------


class ModelSeam:
    """Makes every model call of a batch. One semaphore caps calls in flight across all briefs."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY, max_cost: float | None = None):
        self.concurrency = concurrency
        self.max_cost = max_cost
        self.spent = 0.0
        self.calls_started = 0
        self.budget_skipped = 0  # calls not started because --max-cost would be passed
        self._in_flight = 0
        self._priced: asyncio.Event | None = None  # set once a call has finished and reported its cost
        self._semaphore: asyncio.Semaphore | None = None
        self._fatal: dict[str, str] = {}  # model -> auth error, so a bad key fails fast for the rest

    async def review(self, settings: ModelSettings, persona: str, version: str, messages: list[dict]) -> CallOutcome:
        outcome = CallOutcome(persona=persona, persona_version=version, model=settings.model, status="error")
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            if settings.model in self._fatal:
                outcome.error = f"not attempted: {self._fatal[settings.model]}"
                return outcome
            if self.max_cost is not None:
                await self._wait_for_first_price()
            if self._over_budget():
                self.budget_skipped += 1
                outcome.error = f"not attempted: the --max-cost budget of ${self.max_cost:.4f} would be passed"
                return outcome
            self.calls_started += 1
            self._in_flight += 1
            started = time.perf_counter()
            try:
                await self._converse(settings, messages, outcome)
            finally:
                outcome.latency = round(time.perf_counter() - started, 4)
                self.spent += outcome.cost
                self._in_flight -= 1
                if self._priced is not None:
                    self._priced.set()
        return outcome

    async def _wait_for_first_price(self) -> None:
        """Under a budget the first call runs alone: until one call has reported its cost there is
        nothing to estimate the next by, and a full window of calls could overshoot the budget."""
        if self._priced is None:
            self._priced = asyncio.Event()
        while self._in_flight and not self._priced.is_set():
            await self._priced.wait()

    def _over_budget(self) -> bool:
        """Would one more call pass --max-cost? Calls still in flight are counted at the average
        cost of the finished ones, so concurrency cannot overshoot by a window of calls."""
        if self.max_cost is None:
            return False
        finished = self.calls_started - self._in_flight
        average = self.spent / finished if finished else 0.0
        return self.spent + average * (self._in_flight + 1) > self.max_cost

    async def _converse(self, settings: ModelSettings, messages: list[dict], outcome: CallOutcome) -> None:
        """Ask, validate, and re-ask with the error (at most MAX_REASKS times)."""
        convo = list(messages)
        outcome.request = convo
        for _ in range(MAX_REASKS + 1):
            try:
                text = await self._complete(settings, convo, outcome)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a stored error outcome
                outcome.status, outcome.error = "error", describe_error(exc)
                lt = get_litellm()
                if isinstance(exc, lt.AuthenticationError):
                    self._fatal[settings.model] = outcome.error
                return
            outcome.raw = text
            try:
                outcome.verdict = parse_verdict(text)
            except VerdictParseError as exc:
                outcome.status, outcome.error = "unscored", str(exc)
                convo = convo + [{"role": "assistant", "content": text}, reask_message(str(exc))]
                outcome.request = convo
                continue
            outcome.status, outcome.error = "ok", None
            return

    async def _complete(self, settings: ModelSettings, convo: list[dict], outcome: CallOutcome) -> str:
        """One answer from the provider; tenacity retries transient errors, honouring Retry-After."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        lt = get_litellm()
        kwargs = self._call_kwargs(settings)
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            wait=wait_for_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                outcome.attempts += 1
                response = await lt.acompletion(messages=convo, **kwargs)
        self._account(response, settings, outcome)
        choices = getattr(response, "choices", None) or []
        return (choices[0].message.content or "") if choices else ""

    def _call_kwargs(self, settings: ModelSettings) -> dict:
        kwargs = {
            "model": settings.model,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": _verdict_schema(), "strict": False},
            },
            "num_retries": 0,
            "timeout": settings.timeout,
        }
        if settings.temperature is not None:
            kwargs["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            kwargs["max_tokens"] = settings.max_tokens
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
            # An OpenAI-compatible local server usually needs no key, but the client insists on one.
            if settings.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "no-key-needed"
        return kwargs

    def _account(self, response, settings: ModelSettings, outcome: CallOutcome) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            outcome.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            outcome.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        if settings.model.startswith(("local/", "scripted/")):
            return  # runs on this machine: cost 0
        hidden = getattr(response, "_hidden_params", None) or {}
        cost = hidden.get("response_cost")
        # litellm prices every response itself; None there means the model is not in its price
        # list, and asking completion_cost again would only repeat that search (~2 ms per call).
        if cost is None and "response_cost" not in hidden:
            try:
                cost = get_litellm().completion_cost(completion_response=response, model=settings.model)
            except Exception:  # noqa: BLE001 - unknown price: record 0 rather than fail the verdict
                cost = 0.0
        outcome.cost += float(cost or 0.0)
