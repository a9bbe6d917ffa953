"""Two self-hosted servers may serve different models under one name (`openai/local`): their answers
are never mixed. The endpoint is part of what makes two answers interchangeable for a self-hosted
server (hosted providers are unchanged), a moved server keeps its answers through
PANEL_ENDPOINT_ALIASES, and `audit show` names the server. Real servers on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from reliability_helpers import MODEL, FakeOpenAI

from panel.models.backends import endpoint_identity
from panel.models.seam import ModelSettings


@pytest.fixture
def servers(workspace, make_brief, monkeypatch):
    """Two fake servers answering opposite verdicts under the same model name."""
    make_brief("relay", panel=["builder", "skeptic"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ships, skips = FakeOpenAI(decide=lambda messages: "ship").start(), FakeOpenAI(decide=lambda m: "skip").start()
    yield ships, skips
    ships.stop()
    skips.stop()


def review(run_cli, url: str) -> dict:
    res = run_cli("review", "relay", "--model", MODEL, "--api-base", url, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_answers_from_one_server_are_not_reused_for_another(run_cli, servers):
    ships, skips = servers
    first = review(run_cli, ships.url)
    assert {v["verdict"] for v in first["panels"][0]["verdicts"]} == {"ship"}
    second = review(run_cli, skips.url)  # reused the first server's verdicts before: 0 calls, all "ship"
    assert second["calls_made"] == 2 and second["calls_reused"] == 0
    assert {v["verdict"] for v in second["panels"][0]["verdicts"]} == {"skip"}
    assert skips.requests >= 2
    again = review(run_cli, ships.url)  # each server's own answers are still reused
    assert again["calls_made"] == 0 and {v["verdict"] for v in again["panels"][0]["verdicts"]} == {"ship"}


def test_a_moved_server_keeps_its_answers_through_an_alias(run_cli, servers, monkeypatch):
    ships, skips = servers
    review(run_cli, ships.url)
    monkeypatch.setenv("PANEL_ENDPOINT_ALIASES", f"{skips.url}={ships.url}/")
    moved = review(run_cli, skips.url)
    assert moved["calls_made"] == 0 and moved["calls_reused"] == 2


def test_audit_show_names_the_endpoint(run_cli, servers):
    ships, _ = servers
    run_id = review(run_cli, ships.url)["run_id"]
    shown = json.loads(run_cli("audit", "show", str(run_id), "--json").stdout)
    assert {call["api_base"] for call in shown["calls"]} == {ships.url}
    text = run_cli("audit", "show", str(run_id)).stdout
    assert f"{MODEL} at {ships.url}" in " ".join(text.split())


def test_hosted_providers_are_keyed_as_before():
    assert endpoint_identity("openai/gpt-4o-mini", None) is None
    assert endpoint_identity("anthropic/claude-3-5-haiku-latest", "https://proxy.example/v1") is None
    assert ModelSettings(model="openai/gpt-4o-mini").params() == {"temperature": None, "max_tokens": None}
    assert endpoint_identity("openai/local", "http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"


def test_compare_says_which_endpoint_wrote_the_panels(run_cli, servers, make_brief):
    """It said "model 'openai/fake' needs OPENAI_API_KEY" with panels written at an --api-base."""
    ships, _ = servers
    make_brief("quill", panel=["builder", "skeptic"])
    assert run_cli("review", "relay", "quill", "--model", MODEL, "--api-base", ships.url).exit_code == 0
    res = run_cli("compare", "relay", "quill")
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"Error: the panels were written by '{MODEL}' at {ships.url}; to judge the pair"
                                  f" with it, pass --api-base {ships.url} (or set PANEL_API_BASE), or choose"
                                  " another --model")
    before = ships.requests
    given = run_cli("compare", "relay", "quill", "--api-base", ships.url)
    assert given.exit_code in (0, 1) and "Error:" not in given.stderr  # (this fake answers verdicts, not picks)
    assert ships.requests > before  # the judgments went to the panels' server


def test_a_malformed_alias_is_a_one_line_error_and_writes_nothing(run_cli, servers, monkeypatch, workspace):
    ships, _ = servers
    monkeypatch.setenv("PANEL_ENDPOINT_ALIASES", f"{ships.url} http://old:8000/v1")
    res = run_cli("review", "relay", "--model", MODEL, "--api-base", ships.url)
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("Error: PANEL_ENDPOINT_ALIASES: expected NEW_URL=OLD_URL pairs")
    assert not (workspace / "outputs" / "panel.db").exists()
