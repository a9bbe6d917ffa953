"""The real HTTP path: litellm's openai/ provider with --api-base, against a server on 127.0.0.1."""

import json

import pytest

from fake_openai import FakeOpenAI


@pytest.fixture
def server():
    with FakeOpenAI(rules=[("You are the Skeptic", "skip")]) as srv:
        yield srv


def test_review_over_http_stores_and_reuses(workspace, run_cli, make_brief, server):
    make_brief("quartet", panel=["builder", "skeptic", "futurist", "business"])
    make_brief("quintet")  # all five
    args = ["review", "quartet", "quintet", "--model", "openai/fake-model", "--api-base", server.url, "--json"]
    res = run_cli(*args)
    assert res.exit_code == 0, res.stderr
    panels = {p["slug"]: p for p in json.loads(res.stdout)["panels"]}
    assert panels["quartet"]["reported"] == 4 and panels["quintet"]["seated"] == 5
    skeptic = next(v for v in panels["quartet"]["verdicts"] if v["persona"] == "skeptic")
    assert skeptic["verdict"] == "skip" and skeptic["model"] == "openai/fake-model"
    assert server.requests == 4 + 5
    body = server.log[0]
    assert body["model"] == "fake-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["messages"][0]["role"] == "system"

    again = run_cli(*args)
    assert again.exit_code == 0 and server.requests == 4 + 5
    assert all(v["cached"] for p in json.loads(again.stdout)["panels"] for v in p["verdicts"])


def test_api_base_from_environment(workspace, run_cli, make_brief, server, monkeypatch):
    make_brief("quintet")
    monkeypatch.setenv("PANEL_API_BASE", server.url)
    monkeypatch.setenv("PANEL_MODEL", "openai/fake-model")
    res = run_cli("review", "quintet", "--personas", "builder")
    assert res.exit_code == 0, res.stderr
    assert server.requests == 1
