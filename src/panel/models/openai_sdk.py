"""Calls to OpenAI-compatible endpoints through the official `openai` SDK, in this process.

OpenAI's own API, vLLM, llama.cpp's and llama-cpp-python's servers, Ollama's /v1, LM Studio and
LiteLLM's proxy all speak one API. Sending those calls through `openai.AsyncOpenAI` directly
instead of through litellm saves the ~4 s litellm import and about half the CPU of every call
(bench/bench_batch.py): from one process the SDK keeps up with 200 calls in flight, where litellm
needed worker processes. Every other provider still goes through litellm
(panel.models.backends says which backend serves a model string).

The seam builds litellm-style keyword arguments for every backend; `send` turns them into the
SDK's. One client per endpoint and key, per event loop (an httpx pool belongs to the loop that
opened it), with the SDK's own retries off: the seam retries, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from .providers import settle_heap

# The litellm-style arguments that go into the request body under the same name.
_PASSED = ("response_format", "temperature", "max_tokens", "seed")

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {(base_url, key): client}


def model_name(model: str) -> str:
    """The name the endpoint knows: the model string without panel's provider prefix."""
    return model.split("/", 1)[1] if "/" in model else model


def client(base_url: str | None, api_key: str | None):
    """The running loop's client for this endpoint and key. Without a base URL or key the SDK reads
    OPENAI_BASE_URL and OPENAI_API_KEY itself (and raises OpenAIError when no key is set at all)."""
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    key = (base_url, api_key)
    if key not in clients:
        import openai  # ~0.7 s: only when a call to such an endpoint is made

        clients[key] = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        settle_heap()
    return clients[key]


def body(messages: list[dict], kwargs: dict) -> dict:
    """The chat-completions request body for the seam's litellm-style `kwargs`."""
    sent: dict[str, Any] = {"model": model_name(kwargs["model"]), "messages": messages}
    sent.update((name, kwargs[name]) for name in _PASSED if kwargs.get(name) is not None)
    return sent


# LiteLLM's proxy says what it charged for a call in this header (its own prices, which may be a
# team's negotiated ones): that figure is stored, not the price map's.
CHARGED_HEADER = "x-litellm-response-cost"


@dataclass
class Reply:
    """A chat completion, and what the endpoint said it charged (None: it did not say)."""

    completion: Any
    charged: float | None = None

    @property
    def choices(self):
        return self.completion.choices

    @property
    def usage(self):
        return self.completion.usage


async def send(messages: list[dict], kwargs: dict, router=None) -> Reply:
    """One chat completion; raises the SDK's own exceptions (panel.models.retry classifies them).
    Posted through the SDK's generic `post` rather than `chat.completions.create`, which walks every
    message and the whole JSON schema against its type hints on every call (~1.5 ms of CPU,
    bench/bench_batch.py) only to send them unchanged; asked as an AsyncAPIResponse, so that the
    headers can be read too."""
    from openai import AsyncAPIResponse
    from openai.types.chat import ChatCompletion

    sdk = client(kwargs.get("api_base"), kwargs.get("api_key"))
    raw = await sdk.post("/chat/completions", body=body(messages, kwargs),
                         cast_to=AsyncAPIResponse[ChatCompletion], options={"timeout": kwargs.get("timeout")})
    return Reply(await raw.parse(), _number(raw.headers.get(CHARGED_HEADER)))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
