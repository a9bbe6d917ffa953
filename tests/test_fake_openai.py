"""Tests for tests/fake_openai.py, driven through litellm's real `openai/` HTTP path.

Observed with litellm 1.110.2 / openai SDK 3.57 (the async path runs httpx over aiohttp):

==============  =====================================================================
fault           what `litellm.acompletion(..., num_retries=0)` does
==============  =====================================================================
429             raises litellm.RateLimitError (status 429); err.response.headers has retry-after
500             raises litellm.InternalServerError (status 500)
502             raises litellm.BadGatewayError (status 502)
503             raises litellm.ServiceUnavailableError (status 503)
401             raises litellm.AuthenticationError (status 401)
400             raises litellm.BadRequestError (status 400)
drop / reset    raises litellm.InternalServerError (status_code 500, message "Connection error.")
                -- NOT litellm.APIConnectionError. The openai.APIConnectionError is only on the
                   __context__ chain (InternalServerError <- OpenAIError <- openai.APIConnectionError
                   <- httpx.ReadError; the sync path has httpx.RemoteProtocolError instead).
slow            with timeout=1 raises litellm.Timeout (status_code 408), a subclass of
                openai.APITimeoutError / openai.APIConnectionError but not of
                litellm.APIConnectionError.
non_json        returns normally; the content is the plain text
truncated       returns normally; the content is half a JSON document
fenced          returns normally; the content is ```json ... ``` around a valid verdict
empty_choices   returns normally with response.choices == [] (no exception; usage still set),
                so `response.choices[0]` raises IndexError in the caller.
bad_schema      returns normally; the content is JSON with verdict="maybe", confidence=7
==============  =====================================================================

Without num_retries=0 the openai SDK inside litellm retries 429/5xx/connection errors/timeouts
twice (3 HTTP requests per call, honouring Retry-After), which would silently consume queued faults.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm  # noqa: E402
import openai  # noqa: E402

try:
    from fake_openai import FakeOpenAI, message_text
except ImportError:  # e.g. pytest --import-mode=importlib
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_openai import FakeOpenAI, message_text

try:
    from panel.core.verdict import Verdict
except ImportError:
    Verdict = None

litellm.suppress_debug_info = True

HERE = Path(__file__).resolve().parent
MESSAGES = [
    {"role": "system", "content": "You are a reviewer on a product panel."},
    {"role": "user", "content": "Review this tool: a CLI that formats YAML files."},
]
VERDICT_KEYS = {"rationale", "verdict", "confidence", "headline", "strengths", "risks", "competitors"}


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run():
    """Run coroutines on one event loop for the whole module (litellm caches loop-bound clients)."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture
def srv():
    with FakeOpenAI() as server:
        yield server


async def complete(server: FakeOpenAI, messages=MESSAGES, **kwargs):
    kwargs.setdefault("num_retries", 0)
    return await litellm.acompletion(
        model="openai/fake-model", api_base=server.url, api_key="sk-test", messages=messages, **kwargs
    )


def check_verdict(data: dict) -> dict:
    assert set(data) == VERDICT_KEYS
    assert len(data["rationale"].split()) >= 50
    assert data["verdict"] in ("ship", "skip")
    assert 0 <= data["confidence"] <= 1
    assert isinstance(data["headline"], str) and data["headline"]
    for key in ("strengths", "risks", "competitors"):
        assert isinstance(data[key], list) and all(isinstance(s, str) and s for s in data[key])
    if Verdict is not None:
        Verdict.model_validate(data)
    return data


def content_of(response) -> str:
    return response.choices[0].message.content


def http_json(method: str, url: str, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def root(server: FakeOpenAI) -> str:
    return server.url.removesuffix("/v1")


def error_chain(exc: BaseException) -> list[type]:
    chain = []
    while exc is not None and len(chain) < 10:
        chain.append(type(exc))
        exc = exc.__cause__ or exc.__context__
    return chain


# --- normal answers ----------------------------------------------------------------------------


def test_completion_through_litellm(run, srv):
    resp = run(complete(srv, response_format={"type": "json_object"}))
    check_verdict(json.loads(content_of(resp)))
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.id.startswith("chatcmpl-")
    assert srv.requests == 1 and srv.completions == 1
    logged = srv.log
    assert len(logged) == 1
    assert logged[0]["model"] == "fake-model"
    assert logged[0]["messages"] == MESSAGES
    assert logged[0]["response_format"] == {"type": "json_object"}


def test_decision_is_deterministic_and_rules_apply(run):
    with FakeOpenAI(rules=[("Skeptic", "skip"), ("Champion", "ship")]) as server:
        first = json.loads(content_of(run(complete(server))))
        again = json.loads(content_of(run(complete(server))))
        assert first == again
        skeptic = [{"role": "system", "content": "You are the Skeptic."}, MESSAGES[1]]
        champion = [{"role": "system", "content": "You are the Champion."}, MESSAGES[1]]
        assert check_verdict(json.loads(content_of(run(complete(server, skeptic)))))["verdict"] == "skip"
        assert check_verdict(json.loads(content_of(run(complete(server, champion)))))["verdict"] == "ship"
        # rules also look inside list-of-parts content
        parts = [{"role": "user", "content": [{"type": "text", "text": "as the Skeptic"}]}]
        assert json.loads(content_of(run(complete(server, parts))))["verdict"] == "skip"


def test_default_hash_gives_both_verdicts():
    server = FakeOpenAI()
    seen = {server.decide([{"role": "user", "content": f"tool {i}"}]) for i in range(40)}
    assert seen == {"ship", "skip"}
    assert message_text([{"type": "text", "text": "a"}, {"type": "image_url"}]) == "a"


def test_decide_hook_and_content_override(run):
    with FakeOpenAI(decide=lambda messages: "skip") as server:
        assert json.loads(content_of(run(complete(server))))["verdict"] == "skip"
    with FakeOpenAI(content=lambda body: f"hello {body['model']}") as server:
        assert content_of(run(complete(server))) == "hello fake-model"


def test_streaming(run, srv):
    async def go():
        stream = await complete(srv, stream=True, stream_options={"include_usage": True})
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            usage = getattr(chunk, "usage", None) or usage
        return text, usage

    text, usage = run(go())
    check_verdict(json.loads(text))
    assert usage is not None and usage.completion_tokens > 0


# --- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, exc_type, status",
    [
        ("429", litellm.RateLimitError, 429),
        ("500", litellm.InternalServerError, 500),
        ("502", litellm.BadGatewayError, 502),
        ("503", litellm.ServiceUnavailableError, 503),
        ("401", litellm.AuthenticationError, 401),
        ("400", litellm.BadRequestError, 400),
    ],
)
def test_http_error_faults(run, srv, fault, exc_type, status):
    srv.add_faults(fault)
    with pytest.raises(exc_type) as info:
        run(complete(srv))
    assert info.value.status_code == status
    assert "(injected fault)" in str(info.value)
    assert srv.requests == 1 and srv.completions == 0 and srv.faults_served == 1
    # the queue is empty again: the next call is normal
    check_verdict(json.loads(content_of(run(complete(srv)))))


def test_429_retry_after_header(run):
    with FakeOpenAI(retry_after=3, faults=["429", "429:7"]) as server:
        with pytest.raises(litellm.RateLimitError) as info:
            run(complete(server))
        assert info.value.response.headers["retry-after"] == "3"
        with pytest.raises(litellm.RateLimitError) as info:
            run(complete(server))
        assert info.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("fault", ["drop", "reset"])
def test_drop_is_a_connection_error(run, srv, fault):
    """litellm reports a dropped connection as InternalServerError("Connection error.")."""
    srv.add_faults(fault)
    with pytest.raises(litellm.InternalServerError) as info:
        run(complete(srv))
    assert "Connection error" in str(info.value)
    assert openai.APIConnectionError in error_chain(info.value)
    assert not isinstance(info.value, litellm.APIConnectionError)
    assert srv.requests == 1 and srv.completions == 0
    check_verdict(json.loads(content_of(run(complete(srv)))))


def test_slow_times_out_without_blocking_others(run, srv):
    srv.add_faults("slow")

    async def go():
        slow = asyncio.ensure_future(complete(srv, timeout=1))
        await asyncio.sleep(0.1)  # let the slow request take the fault first
        fast = await complete(srv)  # served while the slow one is still sleeping
        with pytest.raises(litellm.Timeout):
            await slow
        return fast

    fast = run(go())
    check_verdict(json.loads(content_of(fast)))
    assert srv.requests == 2 and srv.faults_served == 1


def test_content_faults(run, srv):
    srv.add_faults("non_json", "truncated", "fenced", "bad_schema", "empty_choices")

    assert content_of(run(complete(srv))) == "I think this tool is great"

    truncated = content_of(run(complete(srv)))
    assert truncated.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)

    fenced = content_of(run(complete(srv)))
    assert fenced.startswith("```json\n") and fenced.endswith("\n```")
    check_verdict(json.loads(fenced.removeprefix("```json\n").removesuffix("\n```")))

    bad = json.loads(content_of(run(complete(srv))))
    assert bad["verdict"] == "maybe" and bad["confidence"] == 7

    empty = run(complete(srv))  # litellm does not raise; it hands back an empty list
    assert empty.choices == []
    assert empty.usage.prompt_tokens > 0

    assert srv.completions == 5 and srv.faults_served == 5
    check_verdict(json.loads(content_of(run(complete(srv)))))


def test_fault_queue_is_fifo(run, srv):
    srv.add_faults("500", "429")
    with pytest.raises(litellm.InternalServerError):
        run(complete(srv))
    with pytest.raises(litellm.RateLimitError):
        run(complete(srv))
    run(complete(srv))
    assert srv.stats() == {"requests": 3, "completions": 1, "faults_served": 2, "faults_pending": 0}


def test_unknown_fault_is_rejected():
    server = FakeOpenAI()
    for bad in ("418", "drop:3", "slow:x", "nope"):
        with pytest.raises(ValueError):
            server.add_faults(bad)
    with pytest.raises(ValueError):
        FakeOpenAI(rules=[("x", "maybe")])


# --- latency, control endpoints, HTTP details ------------------------------------------------------


def test_concurrent_requests_with_latency(run):
    with FakeOpenAI(latency=0.5) as server:

        async def go():
            return await asyncio.gather(
                *(complete(server, [{"role": "user", "content": f"tool {i}"}]) for i in range(20))
            )

        results = run(go())
        assert len(results) == 20
        for resp in results:
            check_verdict(json.loads(content_of(resp)))
        assert server.requests == 20 and server.completions == 20


def test_control_endpoints(run, srv):
    base = root(srv)
    assert http_json("POST", base + "/_faults", {"faults": ["503"]}) == (200, {"ok": True, "faults_pending": 1})
    status, body = http_json("POST", base + "/_faults", {"faults": ["teapot"]})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    with pytest.raises(litellm.ServiceUnavailableError):
        run(complete(srv))
    run(complete(srv))
    assert http_json("GET", base + "/_stats") == (
        200,
        {"requests": 2, "completions": 1, "faults_served": 1, "faults_pending": 0},
    )
    status, logged = http_json("GET", base + "/_log")
    assert status == 200 and len(logged) == 2 and logged[0]["messages"] == MESSAGES
    srv.add_faults("500")
    assert http_json("POST", base + "/_reset", {}) == (200, {"ok": True})
    assert http_json("GET", base + "/_stats")[1] == {
        "requests": 0, "completions": 0, "faults_served": 0, "faults_pending": 0,
    }
    assert srv.log == []
    status, body = http_json("GET", base + "/nowhere")
    assert status == 404 and set(body["error"]) >= {"message", "type", "code"}


def test_keep_alive_chunked_and_bad_json(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        payload = json.dumps({"model": "m", "messages": MESSAGES}).encode()
        conn.request("POST", "/chat/completions", body=payload, headers={"Content-Type": "application/json"})
        first = conn.getresponse()
        assert first.status == 200
        check_verdict(json.loads(json.loads(first.read())["choices"][0]["message"]["content"]))
        sock = conn.sock
        # same connection, chunked request body (an iterable body makes http.client chunk it)
        conn.request("POST", "/v1/chat/completions", body=iter([payload[:10], payload[10:]]),
                     headers={"Content-Type": "application/json"})
        second = conn.getresponse()
        assert second.status == 200 and json.loads(second.read())["object"] == "chat.completion"
        assert conn.sock is sock
        conn.request("POST", "/v1/chat/completions", body=b"{not json", headers={"Content-Type": "application/json"})
        third = conn.getresponse()
        assert third.status == 400 and "error" in json.loads(third.read())
    finally:
        conn.close()
    assert srv.requests == 3 and srv.completions == 2


@pytest.mark.slow  # starts the server as a subprocess
def test_cli_subprocess():
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_openai.py"), "--latency", "0", "--rule", "Skeptic=skip", "--faults", "500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "server did not print READY"
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:") and line.endswith("/v1")
        url = line.split(" ", 1)[1]
        status, body = http_json("POST", url + "/chat/completions", {"model": "m", "messages": MESSAGES})
        assert status == 500 and body["error"]["type"] == "server_error"
        skeptic = [{"role": "system", "content": "Skeptic"}, MESSAGES[1]]
        status, body = http_json("POST", url + "/chat/completions", {"model": "m", "messages": skeptic})
        assert status == 200
        assert check_verdict(json.loads(body["choices"][0]["message"]["content"]))["verdict"] == "skip"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
