"""The model seam: every model call panel makes goes through `ModelSeam`.

One call shape for every provider: `ModelSeam.review(...)` sends a persona's messages with the
verdict JSON schema as `response_format`, retries transient failures (honouring Retry-After),
re-asks the model with the validation error when its reply does not fit the schema, and
returns a `CallOutcome` that records everything the audit trail needs. `ModelSeam.complete_text`
is the same path for a plain-text answer (the comparison editor). One semaphore caps the calls
in flight, and `--max-cost` is enforced here.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from dataclasses import dataclass, field

from ..core.errors import VerdictParseError
from ..core.verdict import Status, Verdict, parse_verdict, reask_message, verdict_schema
from .providers import get_litellm
from .retry import MAX_ATTEMPTS, describe_error, is_transient, wait_for_retry

DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 120.0
MAX_REASKS = 2  # after the first answer: at most two more chances to fit the schema


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


@dataclass
class CallOutcome:
    """One call as the audit trail keeps it: the conversation as sent (re-asks included), the last
    raw reply, attempts, latency, tokens, cost, and the verdict or error it came to."""

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


def _verdict_schema() -> dict:
    """The verdict JSON schema for `response_format`: built once (pydantic takes ~1 ms to generate
    it), copied per call so nothing downstream can change the cached one."""
    return json.loads(_verdict_schema_json())


@functools.lru_cache(maxsize=1)
def _verdict_schema_json() -> str:
    return json.dumps(verdict_schema())


VERDICT_FORMAT = "verdict"  # the response_format a review asks for; None asks for plain text


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
        """A verdict from the model: asked, validated, re-asked with the error if it does not fit."""
        outcome = CallOutcome(persona=persona, persona_version=version, model=settings.model, status="error")
        await self._gated(settings, outcome, self._converse(settings, messages, outcome))
        return outcome

    async def complete_text(self, settings: ModelSettings, messages: list[dict], label: str = "") -> CallOutcome:
        """A plain-text answer (no schema, no re-asks) through the same cap, budget and retries.
        The text is in `raw`; `status` is "ok" unless the call failed."""
        outcome = CallOutcome(persona=label, persona_version="", model=settings.model, status="error")

        async def ask() -> None:
            outcome.request = list(messages)
            try:
                outcome.raw = await self._complete(settings, messages, outcome, response_format=None)
            except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
                self._fail(settings, outcome, exc)
                return
            outcome.status = "ok"

        await self._gated(settings, outcome, ask())
        return outcome

    async def _gated(self, settings: ModelSettings, outcome: CallOutcome, work) -> None:
        """Run `work` (a coroutine filling `outcome`) inside the concurrency cap and the budget;
        a model with a known-bad key or a passed budget is not attempted."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            if settings.model in self._fatal:
                work.close()
                outcome.error = f"not attempted: {self._fatal[settings.model]}"
                return
            if self.max_cost is not None:
                await self._wait_for_first_price()
            if self._over_budget():
                work.close()
                self.budget_skipped += 1
                outcome.error = f"not attempted: the --max-cost budget of ${self.max_cost:.4f} would be passed"
                return
            self.calls_started += 1
            self._in_flight += 1
            started = time.perf_counter()
            try:
                await work
            finally:
                outcome.latency = round(time.perf_counter() - started, 4)
                self.spent += outcome.cost
                self._in_flight -= 1
                if self._priced is not None:
                    self._priced.set()

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
                text = await self._complete(settings, convo, outcome, response_format=VERDICT_FORMAT)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a stored error outcome
                self._fail(settings, outcome, exc)
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

    def _fail(self, settings: ModelSettings, outcome: CallOutcome, exc: Exception) -> None:
        outcome.status, outcome.error = "error", describe_error(exc)
        if isinstance(exc, get_litellm().AuthenticationError):
            self._fatal[settings.model] = outcome.error  # a bad key fails fast for the rest

    async def _complete(self, settings: ModelSettings, convo: list[dict], outcome: CallOutcome,
                        response_format: str | None) -> str:
        """One answer from the provider; tenacity retries transient errors, honouring Retry-After."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        lt = get_litellm()
        kwargs = self._call_kwargs(settings, response_format)
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

    def _call_kwargs(self, settings: ModelSettings, response_format: str | None = VERDICT_FORMAT) -> dict:
        kwargs = {"model": settings.model, "num_retries": 0, "timeout": settings.timeout}
        if response_format == VERDICT_FORMAT:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": _verdict_schema(), "strict": False},
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
