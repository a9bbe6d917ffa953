"""The backend registry (panel.models.backends): which record serves which model string, what each
says about running in process and keys, that checking a model with nothing to ask litellm does not
import it, and that the models package keeps no string-prefix tests or import cycles elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import fresh_python

from panel.core.errors import ModelConfigError
from panel.models import backends
from panel.models.backends import (LITELLM, LOCAL, OPENAI_API, ROUTER, SCRIPTED, SELF_HOSTED_LITELLM,
                                   SELF_HOSTED_SERVER, backend_for, check_model)
from panel.models.preflight import check_models
from panel.models.router import load_router
from panel.models.seam import ModelSeam, ModelSettings

MODELS = Path(backends.__file__).parent
SERVER = "http://127.0.0.1:9/v1"


@pytest.fixture
def router(workspace):
    path = workspace / "router.yaml"
    path.write_text("model_list:\n"
                    "  - {model_name: pm, litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1'}}\n"
                    "  - {model_name: scripted/taken, litellm_params: {model: scripted/x}}\n", encoding="utf-8")
    return load_router(str(path))


@pytest.fixture
def no_litellm(monkeypatch):
    """Any hook that reaches for litellm fails the test."""

    def forbidden():
        raise AssertionError("litellm was imported for a check that needs none")

    monkeypatch.setattr(backends, "get_litellm", forbidden)


@pytest.mark.parametrize(("model", "api_base", "expected"), [
    ("local/smollm2", None, LOCAL),
    ("local//models/tiny.gguf", None, LOCAL),
    ("local/smollm2", SERVER, LOCAL),  # --api-base does not make the embedded model remote
    ("scripted/x", None, SCRIPTED),
    ("openai/gpt-4o-mini", None, OPENAI_API),
    ("openai/gpt-4o-mini", "https://api.openai.com/v1", OPENAI_API),
    ("openai/qwen2.5-7b", SERVER, SELF_HOSTED_SERVER),
    ("hosted_vllm/qwen2.5-7b", SERVER, SELF_HOSTED_SERVER),
    ("litellm_proxy/team-model", SERVER, SELF_HOSTED_SERVER),
    ("text-completion-openai/qwen", SERVER, SELF_HOSTED_LITELLM),
    ("custom_openai/qwen", SERVER, SELF_HOSTED_LITELLM),
    ("hosted_vllm/qwen2.5-7b", None, LITELLM),  # no server named: litellm says what it needs
    ("openai/", SERVER, LITELLM),  # no name: litellm says what is wrong with it
    ("anthropic/claude-3-5-haiku-latest", None, LITELLM),
    ("anthropic/claude-3-5-haiku-latest", SERVER, LITELLM),  # a proxy for a keyed provider still wants the key
    ("gpt-4o-mini", None, LITELLM),
    ("pm", None, LITELLM),  # without the router file, an alias is just an unknown model string
])
def test_each_model_string_gets_its_record(model, api_base, expected):
    assert backend_for(model, api_base) is expected


def test_a_name_the_router_serves_is_the_routers_whatever_it_looks_like(router):
    assert backend_for("pm", None, router) is ROUTER
    assert backend_for("scripted/taken", None, router) is ROUTER  # the call goes to the Router
    assert backend_for("scripted/other", None, router) is SCRIPTED
    assert backend_for("openai/x", SERVER, router) is SELF_HOSTED_SERVER


def test_what_runs_in_process_and_what_needs_a_key():
    assert {b.name for b in backends.BACKENDS if not b.in_process} == {"litellm", "self-hosted via litellm"}
    assert {b.name for b in backends.BACKENDS if b.needs_key} == {"litellm", "openai"}
    assert {b.name for b in backends.BACKENDS if b.strict} == {"openai"}
    assert {b.name for b in backends.BACKENDS if b.any_schema} == {"local", "scripted"}
    assert {b.name for b in backends.BACKENDS if b.calibrated} == {"local"}
    assert LOCAL.cost(object(), "local/smollm2") == SCRIPTED.cost(object(), "scripted/x") == 0.0


def test_the_seam_sends_remote_calls_to_workers_and_keeps_the_rest(router):
    seam = ModelSeam(router=router)
    calls = [("local/smollm2", None), ("scripted/x", None), ("pm", None), ("openai/x", SERVER), ("anthropic/x", None)]
    assert [seam.is_remote(ModelSettings(model, api_base=api_base)) for model, api_base in calls] == [
        False, False, False, False, True]


def test_a_self_hosted_server_is_sent_its_provider_key_or_a_stand_in(monkeypatch, router):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("HOSTED_VLLM_API_KEY", raising=False)
    seam = ModelSeam()
    assert seam._call_kwargs(ModelSettings("openai/x", api_base=SERVER))["api_key"] == backends.STAND_IN
    assert seam._call_kwargs(ModelSettings("hosted_vllm/x", api_base=SERVER))["api_key"] == backends.STAND_IN
    assert "api_key" not in seam._call_kwargs(ModelSettings("openai/x"))
    assert "api_key" not in seam._call_kwargs(ModelSettings("anthropic/x", api_base=SERVER))
    assert router.router_kwargs()["model_list"][0]["litellm_params"]["api_key"] == backends.STAND_IN
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    assert seam._call_kwargs(ModelSettings("openai/x", api_base=SERVER))["api_key"] == "sk-real"
    assert router.router_kwargs()["model_list"][0]["litellm_params"]["api_key"] == "sk-real"
    assert seam._call_kwargs(ModelSettings("hosted_vllm/x", api_base=SERVER))["api_key"] == backends.STAND_IN


def test_checks_with_nothing_to_ask_litellm_do_not_reach_for_it(no_litellm, router, workspace):
    check_model("scripted/x")
    check_model("openai/x", SERVER)
    check_model("hosted_vllm/x", SERVER)
    check_models([("scripted/x", None), ("openai/x", SERVER), ("pm", None)], str(Path(router.path)))


def test_check_errors_keep_their_wording(workspace, monkeypatch):
    with pytest.raises(ModelConfigError, match="no model set: pass --model or set PANEL_MODEL"):
        check_model("")
    with pytest.raises(ModelConfigError, match="missing-model.gguf"):
        check_model("local/missing-model.gguf")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="model 'anthropic/claude-3-5-haiku-latest' needs ANTHROPIC_API_KEY"):
        check_model("anthropic/claude-3-5-haiku-latest")
    path = workspace / "router.yaml"
    path.write_text("model_list:\n  - {model_name: pm, litellm_params: {model: local/missing-model.gguf}}\n",
                    encoding="utf-8")
    with pytest.raises(ModelConfigError, match=r"model_list entry 1 \('pm' -> local/missing-model.gguf\): .*missing"):
        check_models([("pm", None)], str(path))


@pytest.mark.slow  # a fresh interpreter shows what an import pulled in
def test_checking_a_self_hosted_server_does_not_import_litellm():
    probe = ("import sys; from panel.models.preflight import check_models; "
             f"check_models([('openai/x', {SERVER!r}), ('hosted_vllm/y', {SERVER!r}), ('scripted/z', None)]); "
             "print('litellm' in sys.modules)")
    assert fresh_python(probe) == "False"


def test_no_model_string_is_tested_outside_the_registry():
    """backends.py is the one place that knows a backend by its prefix or its stand-in key (import
    cycles are tests/test_layers.py's)."""
    for path in MODELS.parent.rglob("*.py"):
        if path.name == "backends.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ('startswith("local/', 'startswith(("local/', "OWN_PROVIDERS", "no-key-needed", "SELF_HOSTED"):
            assert needle not in text, f"{path} still has {needle}"
