"""--router FILE: a LiteLLM Router serving some model names from several deployments (rpm/tpm caps,
fallbacks, cooldowns), used by the seam instead of one --api-base.

The file is LiteLLM's own `model_list` (the format its proxy reads), plus optional
`router_settings` (keyword arguments of `litellm.Router`)::

    model_list:
      - model_name: panel-model                  # what --model names
        litellm_params: {model: openai/qwen2.5-7b, api_base: http://gpu1:8000/v1, rpm: 60}
        model_info: {id: gpu1}                   # optional; the name calls.deployment records
      - model_name: panel-model
        litellm_params: {model: openai/qwen2.5-7b, api_base: http://gpu2:8000/v1, rpm: 30}
    router_settings: {allowed_fails: 1, cooldown_time: 30}

panel decides some settings itself: `num_retries` is 0 (the seam retries, honouring the wait each
error asks for; LiteLLM's own retries sleep a fixed 60 s), and the routing strategy is
`usage-based-routing-v2` when any deployment has an rpm or tpm (the only strategy that treats them
as caps), else `simple-shuffle`. `load_router` reads and checks the file without importing
litellm; the Router itself is built on the first call, inside the running event loop (a Router
with budgets needs one). `check_router` is the up-front check of a batch: what can be known
about every deployment before any call (see docs/scale.md).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.errors import ModelConfigError
from ..inputs.yamlfile import load_yaml_mapping
from .backends import backend_for, check_deployment
from .providers import get_litellm

TOP_LEVEL_KEYS = ("model_list", "router_settings")
DEPLOYMENT_KEYS = ("model_name", "litellm_params", "model_info", "rpm", "tpm")
CAP_KEYS = ("rpm", "tpm")
CAPPED_STRATEGY = "usage-based-routing-v2"  # the only LiteLLM strategy that never passes an rpm/tpm
DEFAULT_STRATEGY = "simple-shuffle"
DEFAULT_ALLOWED_FAILS = 1  # a deployment is cooled down on its second failure in a minute
DEFAULT_COOLDOWN_S = 30.0
FALLBACK_SETTINGS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
# Router arguments panel sets itself (or that make no sense in a file); anything else goes to litellm.Router.
_NOT_SETTINGS = {
    "model_list": "model_list is a top-level key, not a router setting",
    "set_verbose": "litellm's debug output would go to panel's terminal; leave it out",
    "debug_level": "litellm's debug output would go to panel's terminal; leave it out",
}


class PanelRouter:
    """A LiteLLM Router over the deployments of one --router file. `serves(model)` says whether a
    model name is one of the file's; the seam sends those calls through `acompletion`."""

    def __init__(self, path: str, model_list: list[dict], settings: dict):
        self.path = path
        self.model_list = model_list
        self.settings = settings
        self._names = tuple(dict.fromkeys(entry["model_name"] for entry in model_list))
        self._router = None

    def __repr__(self) -> str:
        return f"<PanelRouter {self.path}: {', '.join(self._names)} ({len(self.model_list)} deployments)>"

    # --- what the file says --------------------------------------------------------------------

    def model_names(self) -> list[str]:
        """The model names the file lists (each may have several deployments)."""
        return list(self._names)

    def serves(self, model: str) -> bool:
        return model in self._names

    def deployments(self, names: Iterable[str] | None = None) -> list[tuple[int, dict]]:
        """(1-based position in model_list, entry) for the deployments of `names` (all without)."""
        wanted = set(self._names if names is None else names)
        return [(i, entry) for i, entry in enumerate(self.model_list, 1) if entry["model_name"] in wanted]

    def has_caps(self) -> bool:
        """Does any deployment set an rpm or tpm (at its top level, in litellm_params or model_info)?"""
        for entry in self.model_list:
            for place in (entry, entry.get("litellm_params") or {}, entry.get("model_info") or {}):
                if any(place.get(key) is not None for key in CAP_KEYS):
                    return True
        return False

    def reachable(self, names: Iterable[str]) -> list[str]:
        """`names` and every model name their fallbacks can lead to, in file order."""
        edges: dict[str, list[str]] = {}
        for setting in FALLBACK_SETTINGS:
            for rule in self.settings.get(setting) or []:
                for source, targets in rule.items():
                    edges.setdefault(source, []).extend(targets)
        for target in self.settings.get("default_fallbacks") or []:
            for name in self._names:
                edges.setdefault(name, []).append(target)
        seen, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(edges.get(name, []))
        return [name for name in self._names if name in seen]

    def router_kwargs(self) -> dict:
        """The keyword arguments of litellm.Router: the file's settings over panel's defaults, with
        num_retries 0 whatever the file says (check_router refuses any other value)."""
        kwargs: dict[str, Any] = {
            "routing_strategy": CAPPED_STRATEGY if self.has_caps() else DEFAULT_STRATEGY,
            "allowed_fails": DEFAULT_ALLOWED_FAILS,
            "cooldown_time": DEFAULT_COOLDOWN_S,
        }
        kwargs.update(self.settings)
        kwargs["num_retries"] = 0
        model_list = copy.deepcopy(self.model_list)
        for entry in model_list:
            params = entry["litellm_params"]
            # As with --api-base: a self-hosted server gets its backend's stand-in key when it names none.
            key = backend_for(params["model"], params.get("api_base")).api_key(params["model"])
            if key is not None and not params.get("api_key"):
                params["api_key"] = key
        kwargs["model_list"] = model_list
        return kwargs

    # --- calls ---------------------------------------------------------------------------------

    def build(self):
        """The litellm.Router (built once; call it inside the running event loop)."""
        if self._router is None:
            litellm = get_litellm()  # panel's own providers (scripted/, local/) are registered first
            try:
                self._router = litellm.Router(**self.router_kwargs())
            except Exception as exc:  # noqa: BLE001 - litellm raises many kinds; say which file
                raise ModelConfigError(f"{self.path}: LiteLLM cannot build a router from it: "
                                       f"{_first_line(exc)}") from None
        return self._router

    async def acompletion(self, **kwargs):
        """One answer from one of the deployments of kwargs["model"]. --api-base (or a key meant for
        it) does not apply here: each deployment names its own."""
        router = self.build()
        kwargs.pop("api_base", None)
        kwargs.pop("api_key", None)
        kwargs["num_retries"] = 0
        try:
            return await router.acompletion(**kwargs)
        except Exception as exc:
            # One deployment's refusal (a wrong key on one server) is not the whole model's: the
            # Router cools that deployment down, and panel.models.retry asks again elsewhere.
            with contextlib.suppress(AttributeError):  # an exception class with __slots__
                exc.panel_router_deployments = len(self.deployments([kwargs.get("model", "")]))
            raise

    def deployment_of(self, response) -> str | None:
        """Which deployment answered: its model_info.id when the file names one, else its api_base,
        else LiteLLM's id for it."""
        hidden = getattr(response, "_hidden_params", None) or {}
        model_id = hidden.get("model_id")
        if model_id and model_id in self._named_ids():
            return str(model_id)
        api_base = hidden.get("api_base")
        if api_base:
            return str(api_base)
        return str(model_id) if model_id else None

    def _named_ids(self) -> set[str]:
        return {str((entry.get("model_info") or {}).get("id")) for entry in self.model_list
                if (entry.get("model_info") or {}).get("id") is not None}


def load_router(path: str | None) -> PanelRouter | None:
    """The Router described by a YAML model_list file, or None without one. Raises ModelConfigError
    (one line, naming the file) when the file cannot be a router; does not import litellm."""
    if path is None or str(path).strip() == "":
        return None
    where = Path(path)
    data = load_yaml_mapping(where, ModelConfigError)
    unknown = [key for key in data if key not in TOP_LEVEL_KEYS]
    if unknown:
        proxy_only = {"litellm_settings", "general_settings", "environment_variables"}
        hint = (" (that is the proxy's config; a router file has model_list and router_settings only)"
                if proxy_only & set(unknown) else " (a router file has model_list and router_settings)")
        raise ModelConfigError(f"{where}: unknown top-level key '{unknown[0]}'{hint}")
    model_list = data.get("model_list")
    if model_list is None:
        raise ModelConfigError(f"{where}: model_list is missing: list the deployments (model_name +"
                               " litellm_params.model)")
    if not isinstance(model_list, list):
        raise ModelConfigError(f"{where}: model_list must be a list of deployments, not {_kind(model_list)}")
    if not model_list:
        raise ModelConfigError(f"{where}: model_list is empty: list at least one deployment (model_name +"
                               " litellm_params.model)")
    for position, entry in enumerate(model_list, 1):
        _check_entry(where, position, entry)
    _check_ids(where, model_list)
    settings = data.get("router_settings") or {}
    if not isinstance(settings, dict):
        raise ModelConfigError(f"{where}: router_settings must be a mapping, not {_kind(settings)}")
    router = PanelRouter(str(where), model_list, dict(settings))
    _check_settings_shape(where, router)
    return router


def _check_entry(where: Path, position: int, entry: Any) -> None:
    at = f"{where}: model_list entry {position}"
    if not isinstance(entry, dict):
        raise ModelConfigError(f"{at}: expected a mapping (model_name, litellm_params), found {_kind(entry)}")
    unknown = [key for key in entry if key not in DEPLOYMENT_KEYS]
    if unknown:
        raise ModelConfigError(f"{at}: unknown key '{unknown[0]}' (known: {', '.join(DEPLOYMENT_KEYS)})")
    name = entry.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise ModelConfigError(f"{at}: model_name is missing (the name --model uses for this group)")
    at = f"{at} ('{name}')"
    params = entry.get("litellm_params")
    if not isinstance(params, dict):
        raise ModelConfigError(f"{at}: litellm_params is missing (it needs at least model: provider/name)")
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ModelConfigError(f"{at}: litellm_params.model is missing (e.g. openai/<name> with an api_base)")
    info = entry.get("model_info")
    if info is not None and not isinstance(info, dict):
        raise ModelConfigError(f"{at}: model_info must be a mapping, not {_kind(info)}")
    for place, label in ((entry, ""), (params, "litellm_params."), (info or {}, "model_info.")):
        for key in CAP_KEYS:
            value = place.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ModelConfigError(f"{at}: {label}{key} must be a whole number of at least 1, not {value!r}")


def _check_ids(where: Path, model_list: list[dict]) -> None:
    seen: set[str] = set()
    for position, entry in enumerate(model_list, 1):
        ident = (entry.get("model_info") or {}).get("id")
        if ident is None:
            continue
        if str(ident) in seen:
            raise ModelConfigError(f"{where}: model_list entry {position}: model_info.id '{ident}' is used twice")
        seen.add(str(ident))


def _check_settings_shape(where: Path, router: PanelRouter) -> None:
    """What can be said about router_settings without litellm (check_router checks the names)."""
    settings = router.settings
    for key, why in _NOT_SETTINGS.items():
        if key in settings:
            raise ModelConfigError(f"{where}: router_settings.{key}: {why}")
    retries = settings.get("num_retries")
    if retries not in (None, 0):
        raise ModelConfigError(f"{where}: router_settings.num_retries: panel retries itself (honouring the wait"
                               " each error asks for); leave it out or set 0")
    fails = settings.get("allowed_fails")
    if fails is not None and (isinstance(fails, bool) or not isinstance(fails, int) or fails < 0):
        raise ModelConfigError(f"{where}: router_settings.allowed_fails must be a whole number >= 0, not {fails!r}")
    cooldown = settings.get("cooldown_time")
    if cooldown is not None and (isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or cooldown < 0):
        raise ModelConfigError(f"{where}: router_settings.cooldown_time must be seconds >= 0, not {cooldown!r}")
    strategy = settings.get("routing_strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise ModelConfigError(f"{where}: router_settings.routing_strategy must be a name, not {_kind(strategy)}")
    names = set(router.model_names())
    for setting in FALLBACK_SETTINGS:
        rules = settings.get(setting)
        if rules is None:
            continue
        shape = f"{where}: router_settings.{setting} must be a list of {{model_name: [fallback model_name, ...]}}"
        if not isinstance(rules, list):
            raise ModelConfigError(shape)
        for rule in rules:
            if not isinstance(rule, dict) or not all(isinstance(t, list) for t in rule.values()):
                raise ModelConfigError(shape)
            for source, targets in rule.items():
                for name in [source, *targets]:
                    if name not in names:
                        raise ModelConfigError(f"{where}: router_settings.{setting}: '{name}' is not a model_name"
                                               f" in model_list (known: {', '.join(router.model_names())})")
    defaults = settings.get("default_fallbacks")
    if defaults is not None and (not isinstance(defaults, list) or any(name not in names for name in defaults)):
        raise ModelConfigError(f"{where}: router_settings.default_fallbacks must list model_names from"
                               f" model_list (known: {', '.join(router.model_names())})")


# --- the up-front check ---------------------------------------------------------------------------


def check_router(path: str | None, models: Iterable[str] = ()) -> frozenset[str]:
    """Before any write: the router file is valid, and every deployment the batch can reach (the
    groups of `models` it serves, and their fallbacks) passes its own backend's check (a usable GGUF
    file; a provider LiteLLM knows, with its credentials in the environment unless it names its own
    api_key or api_base), and an `os.environ/VAR` it reads is set. Returns the names in `models` the
    router serves: those are aliases, not litellm model strings, and must not go through
    `backends.check_model` (panel.models.preflight.check_models does both). Raises
    ModelConfigError (exit 2). Without a file: nothing to check, nothing served."""
    router = load_router(path)
    if router is None:
        return frozenset()
    models = [model for model in dict.fromkeys(models) if model]
    served = [model for model in models if router.serves(model)]
    if models and not served:
        listed = ", ".join(router.model_names())
        asked = ", ".join(models)
        raise ModelConfigError(f"{router.path} serves {listed}; this batch asks for {asked}, which it does not"
                               f" serve: pass --model {router.model_names()[0]}")
    if router.settings:
        _check_setting_names(router)
    for position, entry in router.deployments(router.reachable(served) if models else None):
        check_deployment(router.path, position, entry)  # as its own model would be, through its backend
    return frozenset(served)


def _check_setting_names(router: PanelRouter) -> None:
    import inspect
    import typing

    litellm = get_litellm()
    known = [name for name in inspect.signature(litellm.Router.__init__).parameters if name != "self"]
    for key in router.settings:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, known, n=1)
            hint = f", did you mean '{close[0]}'?" if close else " (not an argument of litellm.Router)"
            raise ModelConfigError(f"{router.path}: router_settings.{key}: unknown setting{hint}")
    strategy = router.settings.get("routing_strategy")
    if strategy is not None:
        from litellm.types.litellm_params import RoutingStrategyName

        choices = typing.get_args(RoutingStrategyName)
        if choices and strategy not in choices:
            raise ModelConfigError(f"{router.path}: router_settings.routing_strategy: unknown strategy"
                                   f" '{strategy}' (known: {', '.join(choices)})")


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
