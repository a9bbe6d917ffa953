"""OpenAI-compatible endpoints through the official openai SDK (panel.models.openai_sdk): what is
sent, how answers are priced without litellm (panel.models.prices), `strict` schemas on OpenAI's
own API, and how the SDK's failures read. Every HTTP test drives the real CLI against
tests/fake_openai.py on 127.0.0.1."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import stored_calls
from pydantic import BaseModel, ConfigDict
from reliability_helpers import FakeOpenAI, fresh_python

from panel.core.verdict import Verdict
from panel.models import prices
from panel.models.formats import response_format, strict_allowed
from panel.models.openai_sdk import body
from panel.models.seam import ModelSeam, ModelSettings

SERVER = "http://127.0.0.1:9/v1"


def test_the_body_sent_is_the_chat_completions_request_without_litellm_arguments():
    kwargs = ModelSeam()._call_kwargs(ModelSettings("openai/qwen2.5-7b", temperature=0.2, max_tokens=300,
                                                    api_base=SERVER, sample=2))
    sent = body([{"role": "user", "content": "hi"}], kwargs)
    assert sent["model"] == "qwen2.5-7b"  # panel's provider prefix is not the server's name for it
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 300 and sent["seed"] == 2
    assert sent["response_format"]["type"] == "json_schema"
    assert not {"num_retries", "drop_params", "api_base", "api_key", "timeout"} & set(sent)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o", "openai/gpt-4o-mini"])
def test_prices_read_as_data_are_litellms_own(model):
    from panel.models.providers import get_litellm

    class Usage:
        prompt_tokens, completion_tokens = 1234, 567

    expected = sum(get_litellm().cost_per_token(model=model, prompt_tokens=1234, completion_tokens=567))
    assert expected > 0
    assert prices.token_cost(Usage(), model) == pytest.approx(expected, rel=1e-9)


def test_an_unknown_model_stays_unpriced():
    class Usage:
        prompt_tokens, completion_tokens = 100, 100

    assert prices.token_cost(Usage(), "openai/my-own-finetune") == 0.0
    assert prices.token_cost(None, "gpt-4o-mini") == 0.0


@pytest.mark.slow  # a fresh interpreter shows what an import pulled in
def test_reading_the_price_map_does_not_import_litellm():
    probe = ("import sys; from panel.models.prices import prices_for; "
             "print(prices_for('gpt-4o-mini') is not None, 'litellm' in sys.modules)")
    assert fresh_python(probe) == "True False"


def test_strict_schemas_only_where_the_endpoint_and_the_schema_allow_them():
    seam = ModelSeam()
    asked = seam._call_kwargs(ModelSettings("openai/gpt-4o-mini"))["response_format"]["json_schema"]
    assert asked["strict"] is True
    assert "maxLength" not in json.dumps(asked["schema"])  # strict mode takes no length limits
    served = seam._call_kwargs(ModelSettings("openai/gpt-4o-mini", api_base=SERVER))["response_format"]
    assert served["json_schema"]["strict"] is False and "maxLength" in json.dumps(served)

    class Open(BaseModel):  # extra keys allowed: not a closed object, so never strict
        model_config = ConfigDict(extra="allow")
        rationale: str

    assert strict_allowed(Verdict) and not strict_allowed(Open)
    assert response_format("json_schema", Open, strict=True)["json_schema"]["strict"] is False


@pytest.fixture
def openai_api(monkeypatch, workspace, make_brief):
    """OpenAI's own API as the SDK finds it (OPENAI_BASE_URL, OPENAI_API_KEY), served by the fake
    server in its "unconstrained" personality: every third answer misses a field unless strict."""
    make_brief("gadget")
    with FakeOpenAI(formats="unconstrained") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        yield server


def test_openai_api_asks_strictly_prices_and_needs_no_reask(run_cli, workspace, openai_api):
    res = run_cli("review", "gadget", "--model", "openai/gpt-4o-mini", "--json")
    assert res.exit_code == 0, res.stderr
    assert openai_api.requests == 5  # strict: every answer fits, no re-ask
    assert all(entry["response_format"]["json_schema"]["strict"] is True for entry in openai_api.log)
    assert all(entry["model"] == "gpt-4o-mini" for entry in openai_api.log)
    rows = stored_calls(workspace)
    for row in rows:
        usage = SimpleNamespace(prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"])
        assert row["cost"] == pytest.approx(prices.token_cost(usage, "openai/gpt-4o-mini")) and row["cost"] > 0


def test_without_strict_the_same_server_costs_reasks(run_cli, workspace, openai_api):
    res = run_cli("review", "gadget", "--model", "openai/gpt-4o-mini", "--api-base", openai_api.url, "--json")
    assert res.exit_code == 0, res.stderr
    assert openai_api.requests > 5  # a third of the answers needed asking again
    rows = stored_calls(workspace)
    assert [row["outcome"] for row in rows] == ["ok"] * 5  # the re-ask mended them
    assert sum(row["attempts"] - 1 for row in rows) == openai_api.requests - 5


def test_a_missing_openai_key_is_bad_input_before_anything_is_written(run_cli, workspace, openai_api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    res = run_cli("review", "gadget", "--model", "openai/gpt-4o-mini")
    assert res.exit_code == 2
    assert "needs OPENAI_API_KEY set in the environment" in res.stderr
    assert openai_api.requests == 0 and not (workspace / "outputs" / "panel.db").exists()


def test_an_sdk_failure_reads_as_the_providers_words(run_cli, workspace, openai_api):
    openai_api.add_faults("401")
    res = run_cli("review", "gadget", "--model", "openai/gpt-4o-mini", "--concurrency", "1", "--json")
    errors = {row["error"] for row in stored_calls(workspace) if row["error"]}
    assert openai_api.requests == 1  # a refused key stops the model for the rest of the batch
    first = next(e for e in errors if not e.startswith("not attempted"))
    assert first.startswith("authentication failed (check the provider's API key variable):"
                            " Incorrect API key provided (injected fault).")
    assert "Error code" not in first and "{" not in first
    assert res.exit_code != 0
