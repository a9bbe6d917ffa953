"""The real LiteLLM proxy (`litellm --config ...`, the `[proxy]` extra) as a team gateway, in front of
a loopback OpenAI-compatible server, with no database: panel reviews through it as
`openai/<model_name>` with `--api-base`.

- With the proxy's master key a review completes, and the cost panel stores for each call is the
  cost the proxy reports (its `x-litellm-response-cost` header), summed per run.
- A key the proxy does not know (without a database it knows only its master key, and says
  400 "No connected db.") is one readable line per seat, and stops the model: no retry storm.
- A spent per-deployment `max_budget` (a 429) is one readable line and is not retried; an rpm cap
  (a 429 without Retry-After) reads as one, and is waited out until the next minute.

Skipped, with the reason, when the proxy's own requirements are not installed
(`pip install -e '.[proxy]'`). Proxy start-up takes 6-15 s."""

from __future__ import annotations

import importlib.util
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import stored_calls
from fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow

MASTER_KEY = "sk-master-test-1234"
PRICE_IN, PRICE_OUT = 0.000_001, 0.000_002  # USD per token, the proxy's custom price
# Modules only the proxy extra brings (litellm.proxy.proxy_server imports them at start).
PROXY_MODULES = ("backoff", "apscheduler", "fastapi_sso", "litellm_proxy_extras", "litellm_enterprise")
MISSING = [name for name in PROXY_MODULES if importlib.util.find_spec(name) is None]
if MISSING:
    pytest.skip(f"the LiteLLM proxy cannot be imported here (missing {', '.join(MISSING)}): install the proxy"
                " group with pip install -e '.[proxy]'", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proxy_command() -> list[str]:
    script = Path(sys.executable).with_name("litellm")
    found = str(script) if script.exists() else shutil.which("litellm")
    if not found:
        pytest.skip("the `litellm` proxy command is not installed next to this Python")
    return [found]


@pytest.fixture(scope="module")
def upstream():
    with FakeOpenAI(rules=[("You are the Skeptic", "skip")]) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    """`litellm --config cfg.yaml` on 127.0.0.1 with three model names in front of `upstream`:
    panel-model (priced), capped-model (rpm 2) and budget-model (a tiny max_budget)."""
    folder = tmp_path_factory.mktemp("litellm-proxy")
    params = {"model": "openai/fake-model", "api_base": upstream.url, "api_key": "sk-upstream-fake",
              "input_cost_per_token": PRICE_IN, "output_cost_per_token": PRICE_OUT}
    config = {
        "model_list": [
            {"model_name": "panel-model", "litellm_params": dict(params)},
            {"model_name": "capped-model", "litellm_params": dict(params, rpm=2)},
            {"model_name": "budget-model", "litellm_params": dict(params, max_budget=1e-9, budget_duration="1d")},
        ],
        # v2 is the strategy that treats rpm as a cap; without num_retries 0 the proxy would hold a
        # capped request open for 60 s and retry it itself.
        "router_settings": {"routing_strategy": "usage-based-routing-v2", "num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY},
    }
    (folder / "cfg.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OPENAI_API_KEY")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY_DISABLED="true")
    log = folder / "proxy.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*proxy_command(), "--config", str(folder / "cfg.yaml"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health/liveliness", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                text = log.read_text(errors="replace")
                if "ModuleNotFoundError" in text or "ImportError" in text:
                    pytest.skip(f"litellm.proxy.proxy_server cannot be imported: {text.strip().splitlines()[-1]}")
                pytest.fail(f"the LiteLLM proxy exited (code {proc.returncode}): {text[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the LiteLLM proxy did not answer within 90 s: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def review(run_cli, proxy, model: str, *args: str):
    return run_cli("review", "gadget", "--model", f"openai/{model}", "--api-base", proxy, "--json", *args)


def post(proxy: str, body: dict, key: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"{proxy}/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def test_a_review_through_the_proxy_stores_the_cost_it_reports(workspace, run_cli, make_brief, proxy, upstream,
                                                                monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", MASTER_KEY)  # litellm's openai/ client sends it to the proxy
    make_brief("gadget")
    before = upstream.requests
    res = review(run_cli, proxy, "panel-model")
    assert res.exit_code == 0, res.stderr
    panel = json.loads(res.stdout)["panels"][0]
    assert panel["reported"] == panel["seated"] == 5
    assert upstream.requests - before == 5  # behind the proxy, one upstream request per seat

    calls = stored_calls(workspace)
    assert len(calls) == 5 and {call["attempts"] for call in calls} == {1}
    for call in calls:
        # What the proxy charges, by its own arithmetic, is what panel stored ...
        expected = call["prompt_tokens"] * PRICE_IN + call["completion_tokens"] * PRICE_OUT
        assert call["cost"] == pytest.approx(expected, rel=1e-9) and call["cost"] > 0
        # ... and what its header says for the same request, asked again.
        status, headers, _ = post(proxy, {"model": "panel-model", "messages": json.loads(call["request"])}, MASTER_KEY)
        assert status == 200
        assert float(headers["x-litellm-response-cost"]) == pytest.approx(call["cost"], rel=1e-6)

    runs = json.loads(run_cli("audit", "runs", "--json").stdout)["runs"]
    assert runs[0]["cost"] == pytest.approx(sum(call["cost"] for call in calls), rel=1e-9)


@pytest.mark.parametrize("key", ["sk-wrong", None])  # a wrong key; no key at all (panel sends a placeholder)
def test_a_key_the_proxy_does_not_know_is_one_readable_line_and_no_retry_storm(workspace, run_cli, make_brief, proxy,
                                                                               upstream, monkeypatch, key):
    if key is None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    make_brief("gadget")
    before = upstream.requests
    res = review(run_cli, proxy, "panel-model", "--concurrency", "1")
    assert res.exit_code == 1, (res.stdout, res.stderr)  # stored as failed seats, shown as such
    verdicts = json.loads(res.stdout)["panels"][0]["verdicts"]
    errors = [v["error"] for v in verdicts]
    assert all("\n" not in e for e in errors), errors
    asked = [e for e in errors if not e.startswith("not attempted: ")]
    assert len(asked) == 1, errors  # the first refusal stops the model for the rest of the batch
    assert asked[0].startswith("authentication failed: the LiteLLM proxy does not accept this key"), asked[0]
    assert "No connected db." in asked[0]
    said = re.sub(r" \(\d+ attempt\(s\) in [\d.]+ s\)$", "", asked[0])  # how long the one attempt took
    assert all(e == f"not attempted: {said}" for e in errors if e not in asked), "\n".join(errors)
    assert upstream.requests == before  # the proxy let nothing through
    calls = stored_calls(workspace)
    assert sum(call["attempts"] for call in calls) == 1  # one request reached the proxy; never retried
    assert MASTER_KEY not in res.stdout + res.stderr and "sk-wrong" not in res.stdout + res.stderr


def test_a_spent_budget_is_one_readable_line_and_not_retried(workspace, run_cli, make_brief, proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", MASTER_KEY)
    make_brief("gadget")
    res = review(run_cli, proxy, "budget-model", "--concurrency", "1")
    verdicts = json.loads(res.stdout)["panels"][0]["verdicts"]
    refused = [v["error"] for v in verdicts if v["status"] == "error"]
    # The first call is allowed (nothing spent yet); the proxy books its cost after answering.
    assert refused and res.exit_code == 1, res.stdout
    assert all(e.startswith("budget spent (a max_budget in the router file or on the proxy)") for e in refused), refused
    assert all("\n" not in e for e in refused)
    assert {call["attempts"] for call in stored_calls(workspace) if call["outcome"] == "error"} == {1}


def test_an_rpm_cap_is_one_readable_line_and_waits_for_the_next_minute(proxy, monkeypatch):
    """The proxy's 429 at an rpm cap has no Retry-After; panel reads it as every deployment full
    for this minute, so it waits for the minute to turn rather than backing off for seconds."""
    import asyncio

    from panel.models.providers import get_litellm
    from panel.models.retry import backoff_seconds, describe_error, is_transient, seconds_to_next_minute

    lt = get_litellm()

    async def ask(n: int):
        try:
            await lt.acompletion(model="openai/capped-model", api_base=proxy, api_key=MASTER_KEY, num_retries=0,
                                 messages=[{"role": "user", "content": f"call {n}"}], timeout=20)
            return None
        except Exception as exc:  # noqa: BLE001 - checked below
            return exc

    async def until_refused():
        for n in range(6):  # rpm 2: the third call in a minute at the latest is refused
            exc = await ask(n)
            if exc is not None:
                return exc
        return None

    exc = asyncio.run(until_refused())
    assert isinstance(exc, lt.RateLimitError), exc
    headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
    assert "retry-after" not in {k.lower() for k in headers}
    assert is_transient(exc)
    left = seconds_to_next_minute()
    assert left - 1 <= backoff_seconds(1, exc) <= 60  # until the next minute, not the usual 0.25-0.5 s
    line = describe_error(exc)
    assert line.startswith("rate limited: every deployment is at its rpm/tpm cap for this minute"), line
    assert "\n" not in line and "Deployments=" not in line
