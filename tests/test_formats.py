"""Structured-output negotiation against servers that treat `response_format` differently
(panel.models.formats): json_schema, then json_object with a schema, then the schema described in
the system message. A refusal moves on at once, the mode that worked is remembered in the store
and shown by `panel audit show`, and every seat ends ok."""

import json
import sqlite3

import pytest

from fake_openai import FakeOpenAI
from panel.models.formats import is_format_refusal
from panel.models.providers import get_litellm




def review(run_cli, server, *extra):
    res = run_cli("review", "gadget", "--model", "openai/fake-model", "--api-base", server.url, "--json", *extra)
    return res, json.loads(res.stdout) if res.stdout else None


def types_sent(server) -> list[str]:
    return [(body.get("response_format") or {}).get("type", "none") for body in server.log]



@pytest.mark.parametrize(
    ("personality", "expected_mode", "refused_first"),
    [
        ("all", "json_schema", []),
        ("llama-cpp-python", "json_object", ["json_schema"]),
        ("lmstudio", "json_schema", []),
        ("text-only", "prompted", ["json_schema", "json_object"]),
    ],
)
def test_each_server_ends_with_every_seat_ok_in_the_mode_it_takes(workspace, run_cli, make_brief, personality,
                                                                  expected_mode, refused_first):
    make_brief("gadget", panel=["builder", "skeptic"])
    with FakeOpenAI(formats=personality) as server:
        res, data = review(run_cli, server)
        assert res.exit_code == 0, res.stderr
        assert [v["status"] for v in data["panels"][0]["verdicts"]] == ["ok", "ok"]
        # The first seat found the mode (one refused request per refused mode, no retries of a
        # refusal); the second seat started straight from what the first learned.
        sent = types_sent(server)
        wanted = {"json_schema": "json_schema", "json_object": "json_object", "prompted": "none"}[expected_mode]
        assert sent.count(wanted) == 2 and len(sent) == 2 + len(refused_first)
        assert sorted(t for t in sent if t != wanted) == sorted(refused_first)
        with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
            modes = conn.execute("SELECT mode FROM response_modes WHERE api_base = ?", [server.url]).fetchall()
            calls = conn.execute("SELECT response_mode FROM calls").fetchall()
        assert modes == [(expected_mode,)] and calls == [(expected_mode,), (expected_mode,)]

        # A later run starts in the remembered mode: nothing is refused again.
        server.reset()
        res, _ = review(run_cli, server, "--fresh")
        assert res.exit_code == 0 and types_sent(server) == [wanted, wanted]


def test_json_object_mode_sends_a_schema_a_grammar_compiler_accepts(workspace, run_cli, make_brief):
    make_brief("gadget", panel=["builder"])
    with FakeOpenAI(formats="llama-cpp-python") as server:
        review(run_cli, server)
        sent = next(b for b in server.log if (b.get("response_format") or {}).get("type") == "json_object")
    schema = json.dumps(sent["response_format"]["schema"])
    assert '"rationale"' in schema and "maxLength" not in schema  # llama.cpp cannot compile maxLength 6000


def test_a_server_that_ignores_the_format_is_asked_with_the_schema_in_the_prompt(workspace, run_cli, make_brief):
    make_brief("gadget", panel=["builder"])
    with FakeOpenAI(formats="ignores") as server:
        res, data = review(run_cli, server)
        assert res.exit_code == 0, res.stderr
        assert data["panels"][0]["verdicts"][0]["status"] == "ok"
        assert types_sent(server) == ["json_schema", "json_object", "none"]
        assert "JSON schema" in server.log[-1]["messages"][0]["content"]


def test_audit_show_names_the_mode(workspace, run_cli, make_brief):
    make_brief("gadget", panel=["builder"])
    with FakeOpenAI(formats="llama-cpp-python") as server:
        review(run_cli, server)
    shown = run_cli("audit", "show", "1")
    assert shown.exit_code == 0 and "format json_object" in shown.stdout
    detail = json.loads(run_cli("audit", "show", "1", "--json").stdout)
    assert detail["calls"][0]["response_mode"] == "json_object"


def test_refusals_are_told_apart_from_other_failures():
    lt = get_litellm()
    llama = lt.InternalServerError("OpenAIException - 1 validation error: response_format type Input should be"
                                   " 'text' or 'json_object'", llm_provider="openai", model="m")
    assert is_format_refusal(llama)
    bad = lt.BadRequestError("OpenAIException - messages is a required property", llm_provider="openai", model="m")
    down = lt.InternalServerError("OpenAIException - Connection error.", llm_provider="openai", model="m")
    limited = lt.RateLimitError("response_format json_schema: too many requests", llm_provider="openai", model="m")
    assert not any(is_format_refusal(exc) for exc in (bad, down, limited))
