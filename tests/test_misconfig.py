"""Misconfiguration is bad input: an unknown provider or a missing key is found before anything is
written or called, exits 2 with one line naming the model (and the variable), and --json still
prints one document. Authentication failures from a server are never retried."""

import json
import time

import pytest

from panel.models import scripted
from panel.models.providers import get_litellm
from panel.models.retry import is_credentials_error, is_transient


@pytest.fixture
def no_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def assert_rejected(workspace, res, *fragments):
    assert res.exit_code == 2, (res.stdout, res.stderr)
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("Error: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert not (workspace / "outputs" / "panel.db").exists()  # nothing written
    assert not list((workspace / "outputs").glob("*.md"))


@pytest.mark.parametrize("model", ["foo/bar", "gpt4o"])
def test_unknown_provider_is_exit_2_naming_the_model(workspace, run_cli, make_brief, no_keys, model):
    make_brief("gadget")
    res = run_cli("review", "gadget", "--model", model)
    assert_rejected(workspace, res, f"model '{model}'", "provider")


def test_missing_key_is_exit_2_naming_the_variable_without_calling(workspace, run_cli, make_brief, no_keys):
    make_brief("gadget")
    started = time.monotonic()
    res = run_cli("review", "gadget", "--model", "openai/gpt-4o-mini")
    assert_rejected(workspace, res, "openai/gpt-4o-mini", "OPENAI_API_KEY")
    assert time.monotonic() - started < 60  # a sanity bound (no retries, no backoff); not a benchmark


def test_json_still_prints_one_document_with_the_error(workspace, run_cli, make_brief, no_keys):
    make_brief("gadget")
    res = run_cli("review", "gadget", "--model", "anthropic/claude-3-5-haiku-latest", "--json")
    assert res.exit_code == 2
    data = json.loads(res.stdout)  # the whole of stdout is one JSON document
    assert "ANTHROPIC_API_KEY" in data["error"]["message"] and data["error"]["exit_code"] == 2


def test_a_local_server_needs_no_key(workspace, run_cli, make_brief, no_keys):
    """openai/<name> with --api-base is a self-hosted server: no OPENAI_API_KEY required."""
    from fake_openai import FakeOpenAI

    make_brief("gadget", panel=["builder"])
    with FakeOpenAI() as server:
        res = run_cli("review", "gadget", "--model", "openai/any", "--api-base", server.url)
    assert res.exit_code == 0, res.stderr


def test_compare_checks_the_model_it_would_review_with(workspace, run_cli, make_brief, no_keys):
    make_brief("one")
    make_brief("two")
    res = run_cli("compare", "one", "two", "--model", "openai/gpt-4o-mini")
    assert_rejected(workspace, res, "OPENAI_API_KEY")


def test_rerun_checks_the_model_too(workspace, run_cli, make_brief, no_keys):
    make_brief("gadget", panel=["builder"])
    assert run_cli("review", "gadget", "--model", "scripted/p").exit_code == 0
    before = (workspace / "outputs" / "panel.db").read_bytes()
    res = run_cli("rerun", "--persona", "builder", "--model", "foo/bar")
    assert res.exit_code == 2 and "model 'foo/bar'" in res.stderr
    assert (workspace / "outputs" / "panel.db").read_bytes() == before


def test_missing_credentials_from_the_provider_are_not_retried(workspace, run_cli, make_brief):
    """litellm reports some missing keys as a 500 'Missing credentials': permanent, and the rest
    of the batch on that model is not attempted."""
    lt = get_litellm()
    missing = lt.InternalServerError("OpenAIException - Missing credentials. Please pass an `api_key`",
                                     llm_provider="openai", model="x")
    assert is_credentials_error(missing) and not is_transient(missing)
    make_brief("gadget")
    scripted.script("locked", [missing] * 20)
    res = run_cli("review", "gadget", "--model", "scripted/locked", "--concurrency", "1", "--json")
    assert res.exit_code == 1
    verdicts = json.loads(res.stdout)["panels"][0]["verdicts"]
    assert scripted.call_count("locked") == 1  # asked once; never retried; the other seats not attempted
    assert all(v["status"] == "error" for v in verdicts)
    assert sum("not attempted" in (v["error"] or "") for v in verdicts) == 4
