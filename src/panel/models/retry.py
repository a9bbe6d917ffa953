"""Retry policy for model calls: which failures are transient, how long to wait (the provider's
Retry-After when it gives one), and how a failure is described in one line."""

from __future__ import annotations

import email.utils
import random
import time

from .providers import get_litellm
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
# AuthenticationError): retrying it can only fail again.
_CREDENTIAL_TEXT = ("missing credentials", "api_key client option must be set", "no api key provided")


def is_credentials_error(exc: BaseException) -> bool:
    """An authentication failure or a missing key: never retried; it stops the batch for that model."""
    if isinstance(exc, get_litellm().AuthenticationError):
        return True
    text = str(getattr(exc, "message", "") or exc).lower()
    return any(marker in text for marker in _CREDENTIAL_TEXT)


def is_transient(exc: BaseException) -> bool:
    """Rate limits, 5xx, timeouts and dropped connections; never auth or bad-request errors."""
    lt = get_litellm()
    permanent = (lt.AuthenticationError, lt.BadRequestError, lt.NotFoundError, lt.PermissionDeniedError)
    if isinstance(exc, permanent) or is_credentials_error(exc):
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

