"""One record per model backend, in the style of inspect_ai's provider registry.

A model string reaches one of a few kinds of backend, and each kind differs in the same handful of
ways: how a call is sent, how it is checked before a batch writes anything, whether it must run in
this process (or may go to a worker process), how its answers are priced, and what key it needs.
Those answers used to be spread over the seam, the router and the providers as string-prefix tests;
here each kind says them once, and `backend_for` picks the record for a model string. Adding a
backend is adding a record to `BACKENDS` (plus, for a provider panel registers with litellm itself,
its handler in panel.models.providers).

OpenAI-compatible endpoints (OpenAI's own API, and `openai/`, `hosted_vllm/` or `litellm_proxy/`
models at an --api-base) are called through the official openai SDK (panel.models.openai_sdk) and
priced from litellm's bundled price map read as data (panel.models.prices): a review against one
never imports litellm. Nothing here imports litellm until a hook needs it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ModelConfigError
from . import openai_sdk
from .prices import token_cost
from .providers import get_litellm

# Key rules: what a backend needs for a key.
NO_KEY = "none"  # runs here (or is a test double): no key at all
ENV_KEY = "environment"  # the provider's credentials must be in the environment (litellm says which)
STAND_IN_KEY = "stand-in"  # a server that needs none, behind a client that insists on one: a stand-in is sent
PER_DEPLOYMENT = "per deployment"  # a --router name: each deployment follows its own backend's rule

STAND_IN = "no-key-needed"  # the key a self-hosted OpenAI-compatible server is sent when none is set
# Providers that speak to an OpenAI-compatible server at --api-base, and the variable a real key for
# one would be in (when it is set, it is sent and no stand-in is needed).
SELF_HOSTED = {"openai": "OPENAI_API_KEY", "text-completion-openai": "OPENAI_API_KEY",
               "hosted_vllm": "HOSTED_VLLM_API_KEY", "litellm_proxy": "LITELLM_PROXY_API_KEY",
               "custom_openai": "OPENAI_API_KEY"}
# Of those, the ones the openai SDK calls. litellm keeps text-completion-openai (the legacy
# completions API) and custom_openai (litellm's own OpenAI client: a way to send a server's calls
# through litellm and its worker processes, should the SDK path not suit it).
SDK_PROVIDERS = ("openai", "hosted_vllm", "litellm_proxy")
OPENAI_HOSTS = ("api.openai.com",)  # OpenAI's own API: the one endpoint known to honour `strict` schemas
# Variables litellm lists as missing that are not credentials: each has a default or a clear error.
_NOT_CREDENTIALS = ("_API_BASE", "_BASE_URL", "_API_VERSION", "_REGION_NAME")
ENV_PREFIX = "os.environ/"  # LiteLLM resolves "os.environ/VAR" in a deployment's litellm_params itself


# --- how a pre-flight error is worded ---------------------------------------------------------------


class Named:
    """A model string named by --model (or a persona's model): the wording of its pre-flight errors."""

    custom_llm_provider: str | None = None
    own_credentials = False  # an api_key or api_base of its own: nothing in the environment to check

    def own(self, exc: ModelConfigError) -> ModelConfigError:
        return exc

    def unknown_provider(self, model: str) -> str:
        return (f"model '{model}': litellm cannot tell which provider serves it; write provider/name, e.g."
                " openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, ollama/llama3.1,"
                " or openai/<name> with --api-base")

    def missing(self, model: str, names: str) -> str:
        return (f"model '{model}' needs {names} set in the environment (litellm reads it); set it,"
                " or choose another --model")


@dataclass(frozen=True)
class Deployed(Named):
    """A model string in a deployment of a --router file: its errors name the file and the entry."""

    at: str = ""
    custom_llm_provider: str | None = None
    own_credentials: bool = False

    def own(self, exc: ModelConfigError) -> ModelConfigError:
        return ModelConfigError(f"{self.at}: {exc}")

    def unknown_provider(self, model: str) -> str:
        return (f"{self.at}: litellm cannot tell which provider serves '{model}'; write provider/name,"
                " e.g. openai/<name> with an api_base, or anthropic/claude-3-5-haiku-latest")

    def missing(self, model: str, names: str) -> str:
        return (f"{self.at}: needs {names} set in the environment (litellm reads it),"
                " or an api_key in its litellm_params")


FLAG = Named()


# --- the record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """What panel knows about one kind of backend. Hooks take the model string (and the --router's
    PanelRouter where a call may go through it); none imports litellm before it must."""

    name: str
    matches: Callable[[str, str | None, Any], bool]  # (model, api_base, router): does this record serve it?
    check: Callable[[str, str | None, Named], None]  # the pre-flight check: raises ModelConfigError
    send: Callable[[list[dict], dict, Any], Awaitable[Any]]  # (messages, litellm kwargs, router): one answer
    cost: Callable[[Any, str], float]  # (response, model): dollars
    in_process: bool  # must run in this process (never sent to a worker process)
    key: str  # its key rule: NO_KEY, ENV_KEY, STAND_IN_KEY or PER_DEPLOYMENT
    any_schema: bool = False  # answers in any JSON schema as asked: no structured-output mode to probe
    # Its answers are keyed by endpoint too: a self-hosted server's model name ("openai/local") says
    # nothing about which model answers, so two servers' answers are never interchangeable.
    keyed_by_endpoint: bool = False
    calibrated: bool = False  # its ship/skip decision is calibrated per persona prompt (local.calibrate)
    strict: bool = False  # takes `strict` json_schema output (constrained to the schema: no re-asks for shape)
    deployment_of: Callable[[Any, Any], str | None] | None = None  # (response, router): which one answered

    @property
    def needs_key(self) -> bool:
        """Must a credential be in the environment (checked before a batch)?"""
        return self.key == ENV_KEY

    def api_key(self, model: str) -> str | None:
        """The key to send when a call names none: a stand-in for a server that needs no key but whose
        client insists on one (without it every call is a 500 "Missing credentials"), or the real key
        when its provider's variable is set. None: send none, the client finds what it needs."""
        if self.key != STAND_IN_KEY:
            return None
        variable = SELF_HOSTED.get(provider_of(model))
        return (os.environ.get(variable) if variable else None) or STAND_IN


def provider_of(model: str) -> str:
    """The provider prefix of a model string ("" without one)."""
    return model.split("/", 1)[0] if "/" in model else ""


# --- hooks -----------------------------------------------------------------------------------------


def _check_local(model: str, api_base: str | None, named: Named) -> None:
    """The embedded model's GGUF file must be there and usable."""
    from . import local  # the embedded model's package: imported only when one is named

    try:
        local.resolve_gguf(model.removeprefix("local/"))
    except ModelConfigError as exc:
        raise named.own(exc) from None


def _nothing_to_check(model: str, api_base: str | None, named: Named) -> None:
    """A scripted model always answers; a self-hosted server names its provider and needs no key."""


def _checked_with_its_file(model: str, api_base: str | None, named: Named) -> None:
    """A --router name is checked with its file (panel.models.router.check_router): every deployment
    it can reach, each through the backend of its own model (`check_deployment`)."""


def _check_litellm(model: str, api_base: str | None, named: Named) -> None:
    """litellm knows the provider, and the provider's credentials are in the environment. Costs one
    litellm import."""
    litellm = get_litellm()
    try:
        provider = litellm.get_llm_provider(model, api_base=api_base, custom_llm_provider=named.custom_llm_provider)[1]
    except Exception:  # noqa: BLE001 - litellm raises BadRequestError, with a page of help text
        raise ModelConfigError(named.unknown_provider(model)) from None
    if named.own_credentials:
        return
    missing = missing_credentials(litellm, model, provider, api_base)
    if missing:
        raise ModelConfigError(named.missing(model, " and ".join(missing)))


def _check_openai_key(model: str, api_base: str | None, named: Named) -> None:
    """OpenAI's own API: a key in the environment (the openai SDK reads OPENAI_API_KEY)."""
    if not named.own_credentials and not os.environ.get("OPENAI_API_KEY"):
        raise ModelConfigError(named.missing(model, "OPENAI_API_KEY"))


def missing_credentials(litellm, model: str, provider: str, api_base: str | None) -> list[str]:
    """The credential variables the provider needs and the environment lacks. A self-hosted
    OpenAI-compatible server (openai/... with --api-base) needs none: the seam sends a stand-in."""
    if api_base and provider in SELF_HOSTED:
        return []
    found = litellm.validate_environment(model=model, api_base=api_base)
    return [name for name in found.get("missing_keys") or [] if not name.endswith(_NOT_CREDENTIALS)]


async def _send_litellm(messages: list[dict], kwargs: dict, router) -> Any:
    return await get_litellm().acompletion(messages=messages, **kwargs)


async def _send_router(messages: list[dict], kwargs: dict, router) -> Any:
    return await router.acompletion(messages=messages, **kwargs)


def _free(response, model: str) -> float:
    return 0.0  # runs on this machine


def _litellm_cost(response, model: str) -> float:
    """litellm prices every response itself; None there means the model is not in its price list,
    and asking completion_cost again would only repeat that search (~2 ms per call)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if cost is None and "response_cost" not in hidden:
        try:
            cost = get_litellm().completion_cost(completion_response=response, model=model)
        except Exception:  # noqa: BLE001 - unknown price: record 0 rather than fail the verdict
            cost = 0.0
    return float(cost or 0.0)


def _sdk_cost(reply, model: str) -> float:
    """An SDK reply: what the endpoint said it charged (LiteLLM's proxy says), else priced from
    litellm's price map read as data (no litellm import)."""
    if reply.charged is not None:
        return reply.charged
    return token_cost(reply.usage, model)


def _router_deployment(response, router) -> str | None:
    return router.deployment_of(response)


def _named(model: str) -> bool:
    return "/" in model and bool(model.split("/", 1)[1].strip())


def _is_openai(api_base: str | None) -> bool:
    """No --api-base (the SDK's default, or OPENAI_BASE_URL), or OpenAI's own host."""
    if not api_base:
        return True
    from urllib.parse import urlsplit

    return (urlsplit(api_base.strip()).hostname or "") in OPENAI_HOSTS


def _openai_api(model: str, api_base: str | None) -> bool:
    return provider_of(model) == "openai" and _named(model) and _is_openai(api_base)


def _self_hosted(model: str, api_base: str | None, sdk: bool = True) -> bool:
    """An OpenAI-compatible server at --api-base (`sdk`: one the openai SDK calls, else litellm)."""
    provider = provider_of(model)
    return (bool(api_base) and provider in SELF_HOSTED and (provider in SDK_PROVIDERS) == sdk
            and _named(model))


# --- the records -----------------------------------------------------------------------------------

# A name the --router file serves: the Router's rpm/tpm counts must be one count, so in process.
ROUTER = Backend("router", lambda model, api_base, router: router is not None and router.serves(model),
                 _checked_with_its_file, _send_router, _litellm_cost, in_process=True, key=PER_DEPLOYMENT,
                 deployment_of=_router_deployment)
# The embedded llama.cpp model (panel.models.local), a litellm provider panel registers itself.
LOCAL = Backend("local", lambda model, api_base, router: provider_of(model) == "local",
                _check_local, _send_litellm, _free, in_process=True, key=NO_KEY, any_schema=True, calibrated=True)
# The scripted test model (panel.models.scripted): its script lives in this process.
SCRIPTED = Backend("scripted", lambda model, api_base, router: provider_of(model) == "scripted",
                   _nothing_to_check, _send_litellm, _free, in_process=True, key=NO_KEY, any_schema=True)
# OpenAI's own API (openai/<name>, no --api-base or api.openai.com): the openai SDK, in this process.
OPENAI_API = Backend("openai", lambda model, api_base, router: _openai_api(model, api_base),
                     _check_openai_key, openai_sdk.send, _sdk_cost, in_process=True, key=ENV_KEY, strict=True)
# An OpenAI-compatible server at --api-base (vLLM, llama.cpp's server, Ollama's /v1, LM Studio, the
# LiteLLM proxy...): the openai SDK, in this process; no key needed.
SELF_HOSTED_SERVER = Backend("self-hosted", lambda model, api_base, router: _self_hosted(model, api_base),
                             _nothing_to_check, openai_sdk.send, _sdk_cost, in_process=True,
                             key=STAND_IN_KEY, keyed_by_endpoint=True)
# A server at --api-base that litellm speaks to (text-completion-openai/..., custom_openai/...).
SELF_HOSTED_LITELLM = Backend("self-hosted via litellm",
                              lambda model, api_base, router: _self_hosted(model, api_base, sdk=False),
                              _nothing_to_check, _send_litellm, _litellm_cost, in_process=False,
                              key=STAND_IN_KEY, keyed_by_endpoint=True)
# Every other model string: whatever litellm serves.
LITELLM = Backend("litellm", lambda model, api_base, router: True,
                  _check_litellm, _send_litellm, _litellm_cost, in_process=False, key=ENV_KEY)

# First match wins; LITELLM takes the rest.
BACKENDS = (ROUTER, LOCAL, SCRIPTED, OPENAI_API, SELF_HOSTED_SERVER, SELF_HOSTED_LITELLM, LITELLM)


# A server that moved keeps its stored answers when the new address is mapped to the old one:
# PANEL_ENDPOINT_ALIASES="http://new-host:8000/v1=http://old-host:8000/v1[,...]".
ENDPOINT_ALIASES = "PANEL_ENDPOINT_ALIASES"


def endpoint_identity(model: str, api_base: str | None) -> str | None:
    """The endpoint part of an answer's cache key: the server's address (without a trailing slash,
    through PANEL_ENDPOINT_ALIASES) for a backend keyed by endpoint, else None (hosted providers:
    the model name says which model answers)."""
    if not api_base or not backend_for(model, api_base).keyed_by_endpoint:
        return None
    address = api_base.strip().rstrip("/")
    return _aliases().get(address, address)


def _aliases() -> dict[str, str]:
    """PANEL_ENDPOINT_ALIASES as {new address: old address}; a malformed entry is bad input, not
    silently ignored (the user would pay for answers they meant to reuse)."""
    aliases = {}
    for item in filter(str.strip, os.environ.get(ENDPOINT_ALIASES, "").split(",")):
        new, sep, old = item.partition("=")
        if not (sep and new.strip() and old.strip()):
            raise ModelConfigError(f"{ENDPOINT_ALIASES}: expected NEW_URL=OLD_URL pairs separated by commas,"
                                   f" not '{item.strip()}'")
        aliases[new.strip().rstrip("/")] = old.strip().rstrip("/")
    return aliases


def backend_for(model: str, api_base: str | None = None, router=None) -> Backend:
    """The record serving `model` (at `api_base`, with the --router's PanelRouter if there is one).
    A name the router serves is the router's, whatever it looks like: the call goes there."""
    if router is not None and ROUTER.matches(model, api_base, router):
        return ROUTER
    return _record_for(model, api_base)


@functools.lru_cache(maxsize=256)
def _record_for(model: str, api_base: str | None) -> Backend:
    """Without a router the answer depends on the two strings alone; the seam asks several times
    per call, so it is worked out once (~0.15 ms of CPU per call otherwise, bench/bench_batch.py)."""
    return next(backend for backend in BACKENDS if backend.matches(model, api_base, None))


# --- pre-flight checks -----------------------------------------------------------------------------


def check_model(model: str, api_base: str | None = None) -> None:
    """Everything that can be known about a model before any call, so a misconfigured batch is bad
    input (exit 2, nothing written): a model is named, and its backend's check passes (a usable GGUF
    file; a provider litellm knows, with its credentials in the environment)."""
    if not model:
        raise ModelConfigError("no model set: pass --model or set PANEL_MODEL")
    backend_for(model, api_base).check(model, api_base, FLAG)


def check_deployment(path: str, position: int, entry: dict) -> None:
    """One deployment of a --router file, checked as its own model would be (through its backend),
    except that an api_key or api_base of its own means nothing in the environment to check."""
    params = entry["litellm_params"]
    model = params["model"]
    at = f"{path}: model_list entry {position} ('{entry['model_name']}' -> {model})"
    api_key, api_base = (_resolved(at, key, params.get(key)) for key in ("api_key", "api_base"))
    named = Deployed(at, params.get("custom_llm_provider"), own_credentials=bool(api_key or api_base))
    backend = backend_for(model, api_base)
    if backend.key == STAND_IN_KEY and named.custom_llm_provider:
        backend = LITELLM  # the named provider overrides the prefix: litellm says whether it knows it
    backend.check(model, api_base, named)


def _resolved(at: str, key: str, value: Any) -> Any:
    """A litellm_params value, with "os.environ/VAR" read from the environment (which must have it)."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        variable = value.removeprefix(ENV_PREFIX)
        if not os.environ.get(variable):
            raise ModelConfigError(f"{at}: {key} reads ${variable}, which is not set in the environment")
        value = os.environ[variable]
    return value or None
