"""The model seam: every model call panel makes goes through `ModelSeam`.

One call shape for every provider: `ModelSeam.review(...)` sends a persona's messages with the
verdict JSON schema as `response_format`, retries transient failures (honouring Retry-After),
re-asks the model with the validation error when its reply does not fit the schema, and
returns a `CallOutcome` that records everything the audit trail needs. `ModelSeam.complete_text`
is the same path for a plain-text answer (the comparison editor). One semaphore caps the calls
in flight, and `--max-cost` is enforced here. With worker processes (panel.models.workers), a
remote model's calls are made by a worker's seam, still under this seam's cap and budget. What
differs between backends (how a call is sent and priced, where it may run, its key) is asked of
the model's record in panel.models.backends; the seam itself tests no model string.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from ..core.defaults import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_S
from ..core.errors import VerdictParseError
from ..core.verdict import Status, Verdict, parse_answer, reask_message
from .backends import Backend, backend_for, endpoint_identity
from .formats import MODES, is_format_refusal, next_mode, prepare_messages, response_format
from .retry import MAX_ATTEMPTS, describe_error, first_wait, is_credentials_error, is_transient, wait_for_retry

MAX_REASKS = 2  # after the first answer: at most two more chances to fit the schema


@dataclass(frozen=True)
class ModelSettings:
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    api_base: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    sample: int = 0  # with --samples K: which of the K independent answers (0 is the plain one)

    def params(self) -> dict:
        """What changes which answer this call gets: the sampling params and, for a self-hosted server,
        its endpoint (panel.models.backends.endpoint_identity); part of the cache key. The sample
        index is there only from the second sample on, so a plain review's key is what it always was."""
        params = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.sample:
            params["sample"] = self.sample
        endpoint = endpoint_identity(self.model, self.api_base)
        if endpoint:
            params["endpoint"] = endpoint
        return params


@dataclass
class CallOutcome:
    """One call as the audit trail keeps it: the conversation as sent (re-asks included), the last
    raw reply, attempts, latency, tokens, cost, and the verdict or error it came to."""

    persona: str
    persona_version: str
    model: str
    status: Status
    answer: BaseModel | None = None  # the parsed answer: a Verdict, or a Judgment for a head-to-head
    raw: str = ""
    error: str | None = None
    request: list[dict] = field(default_factory=list)
    attempts: int = 0
    latency: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    response_mode: str | None = None  # the structured-output mode the server took (panel.models.formats)
    deployment: str | None = None  # with a router: which deployment answered (its api_base or id)
    began: float = 0.0  # perf_counter when the call started (for "n attempts in s seconds"); not stored


def _worth_retrying(exc: BaseException) -> bool:
    return is_transient(exc) and not is_format_refusal(exc)


class ModelSeam:
    """Makes every model call of a batch. One semaphore caps calls in flight across all briefs."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY, max_cost: float | None = None,
                 modes: dict[tuple[str, str], str] | None = None, router=None):
        self.concurrency = concurrency
        # A LiteLLM Router (panel.models.router) that serves the model names it lists; every other
        # model goes to its own backend (panel.models.backends).
        self.router = router
        self.modes = dict(modes or {})  # (api_base, model) -> the structured-output mode it takes
        self._probing: dict[tuple[str, str], asyncio.Lock] = {}  # servers whose mode is being found
        self.max_cost = max_cost
        self.spent = 0.0
        self.calls_started = 0
        self.budget_skipped = 0  # calls not started because --max-cost would be passed
        self._in_flight = 0
        self._priced: asyncio.Event | None = None  # set once a call has finished and reported its cost
        self._semaphore: asyncio.Semaphore | None = None
        self._fatal: dict[str, str] = {}  # model -> auth error, so a bad key fails fast for the rest
        self.workers = None  # a WorkerPool (panel.models.workers) making the remote calls, if started

    def backend(self, settings: ModelSettings) -> Backend:
        """The record of the backend serving this call (panel.models.backends)."""
        return backend_for(settings.model, settings.api_base, self.router)

    def is_remote(self, settings: ModelSettings) -> bool:
        """A call that can go to a worker process: not the embedded or scripted model, nor one the Router serves."""
        return not self.backend(settings).in_process

    def failed_for_good(self, model: str) -> bool:
        """Did a call to `model` show that its key is bad (so no further call to it is attempted)?"""
        return model in self._fatal

    async def review(self, settings: ModelSettings, persona: str, version: str, messages: list[dict],
                     answer: type[BaseModel] = Verdict) -> CallOutcome:
        """A structured answer from the model (a Verdict; a Judgment for a head-to-head): asked,
        validated, re-asked with the error if it does not fit."""
        outcome = CallOutcome(persona=persona, persona_version=version, model=settings.model, status="error")
        if self.workers is not None and self.is_remote(settings):
            work = self._in_worker(settings, messages, outcome, answer)
        else:
            work = self._converse(settings, messages, outcome, answer)
        await self._gated(settings, outcome, work)
        return outcome

    async def _in_worker(self, settings: ModelSettings, messages: list[dict], outcome: CallOutcome,
                         answer: type[BaseModel]) -> None:
        """The call made by a worker's seam; its record of the call becomes this one's (an error
        outcome if the worker died: the pool never raises)."""
        answered, fatal = await self.workers.review(settings, outcome.persona, outcome.persona_version,
                                                    messages, answer)
        vars(outcome).update(vars(answered))  # latency is this process's, set by _gated afterwards
        if fatal:
            self._fatal[settings.model] = outcome.error

    async def complete_text(self, settings: ModelSettings, messages: list[dict], label: str = "") -> CallOutcome:
        """A plain-text answer (no schema, no re-asks) through the same cap, budget and retries.
        The text is in `raw`; `status` is "ok" unless the call failed."""
        outcome = CallOutcome(persona=label, persona_version="", model=settings.model, status="error")

        async def ask() -> None:
            outcome.request = list(messages)
            try:
                outcome.raw = await self._complete(settings, messages, outcome, mode=None)
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
        try:
            async with self._semaphore:
                if self.max_cost is not None:
                    await self._wait_for_first_price()
                if self._may_start(settings, outcome):
                    await self._timed(outcome, work)
        finally:
            work.close()  # a call never started (refused, or cancelled while waiting) is dropped quietly

    def _may_start(self, settings: ModelSettings, outcome: CallOutcome) -> bool:
        """False, with the reason in `outcome`, for a model with a known-bad key or a passed budget."""
        if settings.model in self._fatal:
            outcome.error = f"not attempted: {self._fatal[settings.model]}"
            return False
        if self._over_budget():
            self.budget_skipped += 1
            outcome.error = f"not attempted: the --max-cost budget of ${self.max_cost:.4f} would be passed"
            return False
        return True

    async def _timed(self, outcome: CallOutcome, work) -> None:
        self.calls_started += 1
        self._in_flight += 1
        started = outcome.began = time.perf_counter()
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

    async def _converse(self, settings: ModelSettings, messages: list[dict], outcome: CallOutcome,
                        answer: type[BaseModel]) -> None:
        """The first call to a server not met before finds its structured-output mode while the
        batch's other calls to it wait, so a thousand-call batch probes once, not a thousand times."""
        where = (settings.api_base or "", settings.model)
        if self.backend(settings).any_schema:
            self.modes.setdefault(where, MODES[0])  # the embedded and scripted models take any schema: no probe
        if where not in self.modes:
            async with self._probing.setdefault(where, asyncio.Lock()):
                if where not in self.modes:  # still unknown: this call probes; the rest wait for it
                    return await self._converse_in_mode(settings, messages, outcome, answer)
        return await self._converse_in_mode(settings, messages, outcome, answer)

    async def _converse_in_mode(self, settings: ModelSettings, messages: list[dict], outcome: CallOutcome,
                                answer: type[BaseModel]) -> None:
        """Ask, validate, and re-ask with the error (at most MAX_REASKS times). The structured-output
        mode starts at the one this server took before (json_schema for a new one); a reply that
        is not JSON at all means the server ignored the format, so the next ask uses the next mode."""
        where = (settings.api_base or "", settings.model)
        convo, mode = list(messages), self.modes.get(where, MODES[0])
        for _ in range(MAX_REASKS + 1):
            try:
                text, mode = await self._complete_structured(settings, convo, outcome, mode, answer)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a stored error outcome
                self._fail(settings, outcome, exc)
                return
            outcome.raw = text
            try:
                outcome.answer = parse_answer(text, answer)
            except VerdictParseError as exc:
                outcome.status, outcome.error = "unscored", str(exc)
                convo = convo + [{"role": "assistant", "content": text}, reask_message(str(exc), answer)]
                if "{" not in text:
                    mode = next_mode(mode) or mode
                continue
            outcome.status, outcome.error = "ok", None
            self.modes[where] = mode
            return

    async def _complete_structured(self, settings: ModelSettings, convo: list[dict], outcome: CallOutcome,
                                   mode: str, answer: type[BaseModel]) -> tuple[str, str]:
        """One answer, asked in `mode`; a server refusing that response format moves the ask to the
        next mode at once (not through retries). Returns the text and the mode that answered."""
        while True:
            sent = prepare_messages(mode, convo, answer)
            outcome.request, outcome.response_mode = sent, mode
            try:
                return await self._complete(settings, sent, outcome, mode, answer), mode
            except Exception as exc:
                following = next_mode(mode) if is_format_refusal(exc) else None
                if following is None:
                    raise
                mode = following

    def _fail(self, settings: ModelSettings, outcome: CallOutcome, exc: Exception) -> None:
        error = describe_error(exc, settings.api_base)
        if is_credentials_error(exc):
            self._fatal[settings.model] = error  # a bad key fails fast for the rest
        took = time.perf_counter() - outcome.began if outcome.began else None
        outcome.status = "error"
        outcome.error = error if took is None else f"{error} ({outcome.attempts} attempt(s) in {took:.1f} s)"

    async def _complete(self, settings: ModelSettings, convo: list[dict], outcome: CallOutcome,
                        mode: str | None, answer: type[BaseModel] = Verdict) -> str:
        """One answer from the provider. A transient failure is asked again (tenacity, honouring
        Retry-After); a server refusing the response format is not transient, whatever its status
        code. The first attempt is made directly: most calls need no retry, and tenacity's
        bookkeeping cost ~0.1 ms of CPU per call (bench/bench_batch.py)."""
        backend = self.backend(settings)
        kwargs = self._call_kwargs(settings, mode, answer)
        outcome.attempts += 1
        try:
            response = await backend.send(convo, kwargs, self.router)
        except Exception as exc:
            if not _worth_retrying(exc):
                raise
            response = await self._retried(backend, convo, kwargs, outcome, exc)
        self._account(response, settings, outcome)
        choices = getattr(response, "choices", None) or []
        return (choices[0].message.content or "") if choices else ""

    async def _retried(self, backend: Backend, convo: list[dict], kwargs: dict, outcome: CallOutcome,
                       first: Exception):
        """The attempts after a transient first failure, up to MAX_ATTEMPTS in all."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        await asyncio.sleep(first_wait(first))
        retrying = AsyncRetrying(retry=retry_if_exception(_worth_retrying), stop=stop_after_attempt(MAX_ATTEMPTS - 1),
                                 wait=wait_for_retry, reraise=True)
        async for attempt in retrying:
            with attempt:
                outcome.attempts += 1
                return await backend.send(convo, kwargs, self.router)

    def _call_kwargs(self, settings: ModelSettings, mode: str | None = MODES[0],
                     answer: type[BaseModel] = Verdict) -> dict:
        """One request's arguments, in litellm's terms (the openai SDK backend maps them to its own);
        `mode` is a structured-output mode, None for plain text."""
        kwargs = {"model": settings.model, "num_retries": 0, "timeout": settings.timeout}
        shape = response_format(mode, answer, strict=self.backend(settings).strict) if mode else None
        if shape is not None:
            kwargs["response_format"] = shape
        if settings.temperature is not None:
            kwargs["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            kwargs["max_tokens"] = settings.max_tokens
        if settings.sample:
            # Another sample must be another draw: a seed where the provider takes one (dropped
            # where it does not; such providers sample anew on every call anyway).
            kwargs["seed"] = settings.sample
            kwargs["drop_params"] = True
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
            key = self.backend(settings).api_key(settings.model)  # a self-hosted server's stand-in key
            if key is not None:
                kwargs["api_key"] = key
        return kwargs

    def _account(self, response, settings: ModelSettings, outcome: CallOutcome) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            outcome.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            outcome.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        backend = self.backend(settings)
        if backend.deployment_of is not None:
            outcome.deployment = backend.deployment_of(response, self.router)
        outcome.cost += backend.cost(response, settings.model)
