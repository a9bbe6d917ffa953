"""Retry policy for model calls: which failures are transient, how long to wait (the provider's
Retry-After when it gives one), and how a failure is described in one line.

Failures are classified on the openai SDK's exception classes. litellm's exceptions subclass
them (litellm.RateLimitError is an openai.RateLimitError, litellm.Timeout an
openai.APITimeoutError...), so one classification serves calls made through the SDK
(panel.models.openai_sdk) and through litellm, and classifying a failure never imports litellm."""

from __future__ import annotations

import email.utils
import random
import re
import time

from .redact import redact

MAX_ATTEMPTS = 4  # per answer, for transient provider errors
MAX_RETRY_AFTER_S = 60.0


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


# litellm reports a missing key for some providers as a 500 "Missing credentials" (not an
# AuthenticationError): retrying it can only fail again. LiteLLM's proxy without a database answers
# any key but its master key with a 400 "No connected db." (it would look the key up there).
_CREDENTIAL_TEXT = ("missing credentials", "api_key client option must be set", "no api key provided")
_PROXY_KEY_TEXT = "no connected db"

# --- LiteLLM's Router and proxy (--router FILE, or a proxy behind --api-base) ---------------------
# Their refusals, as litellm 1.110.2 words them (docs/scale.md):
# - every deployment at its rpm/tpm cap (routing strategy usage-based-routing-v2): a 429 "No
#   deployments available for selected model. Passed model=... Deployments={...current_rpm...}".
#   The counts are per calendar UTC minute, so the wait is until the next minute; the in-process
#   Router says `retry-after: 60` whatever the time, the proxy sends no Retry-After at all.
# - one deployment reaching its cap between being picked and being called ("Deployment over
#   defined rpm limit"): a race with concurrent calls; others may have room, so the usual backoff
#   (not the Router's `retry-after: 60`).
# - every deployment cooling down after failures: `litellm.RouterRateLimitError`, a ValueError
#   with `.cooldown_time` (through the proxy: a 429 whose text says "Try again in N seconds").
# - a deployment or provider budget spent: "No deployments available - crossed budget" (a
#   ValueError in process, a 429 through the proxy). It lasts for the budget's period: permanent.
# - all of a deployment's in-flight slots taken ("max_parallel_requests"): a 429 with no hint;
#   slots free within seconds, so the usual backoff.
_BUDGET_TEXT = ("crossed budget", "exceeded budget")
_WINDOW_TEXT = ("no deployments available for selected model. passed model",)
_RACE_TEXT = ("over defined rpm limit", "over defined tpm limit")
_TRY_AGAIN = re.compile(r"try again in ([0-9]+(?:\.[0-9]+)?) seconds", re.IGNORECASE)
WINDOW_MARGIN_S = 1.0  # past the minute boundary, for clocks a little apart (the proxy's and ours)


def _sdk():
    """The openai package, whose exception classes both paths raise (imported by then: a call failed)."""
    import openai

    return openai


# Statuses worth asking again, as the openai SDK's own retry rule has them: request timeout, lock
# conflict, rate limit, and any server error (502/503 are not InternalServerError under litellm).
_TRANSIENT_STATUS = (408, 409, 429)


def _text(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc).lower()


def is_router_cooldown(exc: BaseException) -> bool:
    """LiteLLM's Router has no deployment to offer: all of the model's deployments are cooling down."""
    return type(exc).__name__ == "RouterRateLimitError" and hasattr(exc, "cooldown_time")


def is_budget_error(exc: BaseException) -> bool:
    """A Router or proxy budget (max_budget, provider_budget_config) is spent: asking again in
    seconds cannot help."""
    return isinstance(exc, (ValueError, _sdk().RateLimitError)) and any(t in _text(exc) for t in _BUDGET_TEXT)


def is_rate_window(exc: BaseException) -> bool:
    """Every deployment at its LiteLLM rpm/tpm cap (in process or behind a proxy) until the minute ends."""
    text = _text(exc)
    return (isinstance(exc, _sdk().RateLimitError) and not is_budget_error(exc)
            and any(marker in text for marker in _WINDOW_TEXT))


def is_deployment_race(exc: BaseException) -> bool:
    """One deployment filled up between the Router picking it and calling it; others may have room."""
    return isinstance(exc, _sdk().RateLimitError) and any(marker in _text(exc) for marker in _RACE_TEXT)


def seconds_to_next_minute(now: float | None = None) -> float:
    """Until the next calendar minute begins (when LiteLLM's per-minute counts start again)."""
    now = time.time() if now is None else now
    return 60.0 - (now % 60.0)


def router_wait_seconds(exc: BaseException, attempt: int = 1) -> float | None:
    """How long a LiteLLM Router or proxy refusal asks to wait, when it is one (None otherwise:
    then the usual rules apply). `attempt` is the attempt that just failed."""
    if is_router_cooldown(exc):
        return max(0.0, float(exc.cooldown_time or 0.0))
    if not isinstance(exc, _sdk().RateLimitError) or is_budget_error(exc):
        return None
    said = _TRY_AGAIN.search(str(getattr(exc, "message", "") or exc))
    if said:
        return float(said.group(1))
    # A race lost twice in a row means every deployment is full (v2 words that either way).
    if is_rate_window(exc) or (is_deployment_race(exc) and attempt >= 2):
        return seconds_to_next_minute() + WINDOW_MARGIN_S * (1 + random.random())
    return None


def is_credentials_error(exc: BaseException) -> bool:
    """An authentication failure or a missing key: never retried; it stops the batch for that model
    (unless it came from one of several deployments behind --router: see is_deployment_refusal)."""
    return _refuses_credentials(exc) and not _from_one_of_many(exc)


def _refuses_credentials(exc: BaseException) -> bool:
    if isinstance(exc, _sdk().AuthenticationError):
        return True
    text = _text(exc)
    return any(marker in text for marker in _CREDENTIAL_TEXT) or is_proxy_key_refused(exc)


def _from_one_of_many(exc: BaseException) -> bool:
    """Raised by a --router model with several deployments (panel.models.router tags it)."""
    return (getattr(exc, "panel_router_deployments", 0) or 0) > 1


def is_deployment_refusal(exc: BaseException) -> bool:
    """A key refused by one of several deployments of a --router model: the Router cools that
    deployment down (after allowed_fails), so asking again reaches another one."""
    return _from_one_of_many(exc) and _refuses_credentials(exc)


def is_proxy_key_refused(exc: BaseException) -> bool:
    """LiteLLM's proxy without a database refusing a key that is not its master key (a 400)."""
    return isinstance(exc, _sdk().BadRequestError) and _PROXY_KEY_TEXT in _text(exc)


def is_transient(exc: BaseException) -> bool:
    """Rate limits, 5xx, timeouts and dropped connections; never auth or bad-request errors."""
    sdk = _sdk()
    if is_router_cooldown(exc) or is_deployment_refusal(exc):
        return True  # all cooling down (a ValueError) ends after cooldown_time; another deployment may take the key
    permanent = (sdk.AuthenticationError, sdk.BadRequestError, sdk.NotFoundError, sdk.PermissionDeniedError)
    if isinstance(exc, permanent) or is_credentials_error(exc) or is_budget_error(exc):
        return False
    if isinstance(exc, sdk.APIConnectionError):  # timeouts (APITimeoutError) included
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, sdk.APIStatusError) and isinstance(status, int) and (
        status in _TRANSIENT_STATUS or status >= 500)


def backoff_seconds(attempt: int, exc: BaseException | None) -> float:
    """The wait a LiteLLM Router or proxy refusal implies (a cooldown, or the next minute for an
    rpm/tpm cap), else the provider's Retry-After, capped; else jittered exponential backoff.
    `attempt` is the attempt that just failed (1 for the first)."""
    hinted = None
    if exc is not None:
        hinted = router_wait_seconds(exc, attempt)
        if hinted is None and not is_deployment_race(exc):
            hinted = retry_after_seconds(exc)
    if hinted is not None:
        return min(hinted, MAX_RETRY_AFTER_S)
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def first_wait(exc: BaseException) -> float:
    """The wait after a first attempt that failed (made before tenacity takes over: ModelSeam._complete)."""
    return backoff_seconds(1, exc)


def wait_for_retry(retry_state) -> float:
    """tenacity wait strategy for the attempts after the first (tenacity's attempt 1 is the second
    in all): see backoff_seconds."""
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    return backoff_seconds(retry_state.attempt_number + 1, exc)


def describe_error(exc: BaseException, endpoint: str | None = None) -> str:
    """One line for a failed call: what kind of failure, in words, and the provider's own message
    without litellm's stacked exception names or Python object reprs. A failure to connect names
    the endpoint (`endpoint`: the --api-base, if one was given)."""
    sdk = _sdk()
    if isinstance(exc, sdk.AuthenticationError):
        prefix = "authentication failed (check the provider's API key variable)"
    elif is_proxy_key_refused(exc):
        prefix = ("authentication failed: the LiteLLM proxy does not accept this key (a proxy without a"
                  " database knows only its master key; check the key you pass)")
    elif is_budget_error(exc):
        prefix = "budget spent (a max_budget in the router file or on the proxy)"
    elif is_router_cooldown(exc):
        prefix = f"no deployment available: all are cooling down after failures for {exc.cooldown_time:g} s"
    elif is_rate_window(exc):
        prefix = "rate limited: every deployment is at its rpm/tpm cap for this minute"
    elif isinstance(exc, sdk.BadRequestError):
        prefix = "the provider rejected the request"
    elif isinstance(exc, sdk.NotFoundError):
        prefix = "model not found"
    elif isinstance(exc, sdk.APITimeoutError):
        prefix = "timed out"
    elif isinstance(exc, sdk.RateLimitError):
        prefix = "rate limited"
    elif isinstance(exc, sdk.APIConnectionError) or "connection error" in _text(exc).lower():
        prefix = f"could not connect to {endpoint or 'the provider'}"
    else:
        prefix = type(exc).__name__
    message = _message(exc).strip().splitlines()
    detail = _OBJECT_REPR.sub("", _EXCEPTION_PREFIXES.sub("", message[0])).strip(" :-")[:300] if message else ""
    if is_proxy_key_refused(exc) or is_budget_error(exc) or is_rate_window(exc) or is_router_cooldown(exc):
        detail = _router_detail(detail)
    return redact(f"{prefix}: {detail}" if detail else prefix)


def _message(exc: BaseException) -> str:
    """The provider's own words: the SDK puts the JSON error's "message" in `body` (its `message`
    is "Error code: 429 - {...}", the whole body as a dict repr); litellm's go in `message`."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"]
    return str(getattr(exc, "message", "") or exc)


# "<ssl.SSLContext object at 0x7f...>": a Python object's repr that some clients put in their messages.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")
# "litellm.RateLimitError: RateLimitError: OpenAIException - " and the like, as LiteLLM stacks them.
_EXCEPTION_PREFIXES = re.compile(r"^(?:(?:litellm\.)?\w*(?:Error|Exception)(?::| -)\s*)+")
_BUDGET_WHO = re.compile(r"exceeded budget for (deployment model_name: [^,]+|provider [^:]+)", re.IGNORECASE)


def _router_detail(detail: str) -> str:
    """The part of a LiteLLM Router or proxy refusal a reader needs: without the stacked exception
    names, every deployment's counters, the ids cooling down or a budget's 64-digit deployment id."""
    detail = _EXCEPTION_PREFIXES.sub("", detail)
    who = _BUDGET_WHO.search(detail)
    if who:
        return f"Exceeded budget for {who.group(1).strip()}"
    return re.split(r"\.? (?:Deployments=|pre-call-checks=)", detail, maxsplit=1)[0]

