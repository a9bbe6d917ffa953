"""--router FILE: one model name served by several deployments through LiteLLM's Router.

Real servers on 127.0.0.1 (tests/fake_openai.py) with their own latencies and their own
requests-per-minute limits, which they count per calendar UTC minute and enforce with a 429: a
router that sent one request too many would show up in `rate_limited`. The router file's rpm caps
sit below the servers' limits, so a complete batch with no 429 from any server means the Router
kept to its caps. Also: which deployment answered is stored per call, a stopped server is cooled
down and its calls go elsewhere, a bad router file is bad input (exit 2, nothing written), and
the retry rules for the Router's own refusals."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

import yaml
from conftest import stored_calls
from fake_openai import FakeOpenAI
from reliability_helpers import fresh_python

from panel.models.providers import get_litellm
from panel.models.retry import (
    MAX_RETRY_AFTER_S,
    backoff_seconds,
    describe_error,
    is_credentials_error,
    is_transient,
)
from panel.models.router import check_router, load_router

FIVE = ["builder", "skeptic", "futurist", "business", "creative"]
SERVERS = {"fast": 0.02, "medium": 0.1, "slow": 0.3}  # deployment id -> the server's latency (s)


def write_router(path: Path, deployments: list[dict], settings: dict | None = None, name: str = "panel-model") -> Path:
    """A router file listing `deployments` (each: url, and optionally id and rpm) under one model name."""
    model_list = []
    for d in deployments:
        params = {"model": "openai/fake-model", "api_base": d["url"]}
        if d.get("rpm"):
            params["rpm"] = d["rpm"]
        entry = {"model_name": name, "litellm_params": params}
        if d.get("id"):
            entry["model_info"] = {"id": d["id"]}
        model_list.append(entry)
    data = {"model_list": model_list}
    if settings:
        data["router_settings"] = settings
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def briefs(make_brief, count: int) -> list[str]:
    slugs = [f"tool-{i}" for i in range(count)]
    for slug in slugs:
        make_brief(slug)  # all five personas
    return slugs


_IDS = itertools.count(1)


def new_id(name: str) -> str:
    """A deployment id no other test uses. LiteLLM keeps rpm counts, cooldowns and budgets per
    process, keyed by deployment id: a test reusing another's ids would inherit its counts."""
    return f"{name}-{next(_IDS)}"


@pytest.fixture
def servers():
    """Three servers, each allowed 12 requests a minute (it answers the 13th with a 429)."""
    started = {name: FakeOpenAI(latency=latency, rpm_limit=12).start() for name, latency in SERVERS.items()}
    for name, server in started.items():
        server.deployment_id = new_id(name)
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture
def dead_url():
    """The address of a server that was started and stopped: connections are refused."""
    server = FakeOpenAI().start()
    url = server.url
    server.stop()
    return url


def assert_within(server: FakeOpenAI, cap: int) -> None:
    assert server.rate_limited == 0, f"{server} refused {server.rate_limited} requests over its own limit"
    assert max(server.per_minute.values(), default=0) <= cap, server.per_minute


# --- a batch through the router -------------------------------------------------------------------


def test_a_batch_spreads_over_three_servers_within_their_caps(workspace, run_cli, make_brief, servers, dead_url,
                                                               monkeypatch):
    # --api-base (here from the environment) is for other models: each deployment names its own.
    monkeypatch.setenv("PANEL_API_BASE", dead_url)
    router = write_router(workspace / "router.yaml",
                          [{"url": s.url, "id": s.deployment_id, "rpm": 10} for s in servers.values()])
    slugs = briefs(make_brief, 4)  # 20 seats, under the 3 x 10 the router may send in a minute
    res = run_cli("review", *slugs, "--router", router, "--model", "panel-model", "--json")
    assert res.exit_code == 0, res.stderr
    verdicts = [v for p in json.loads(res.stdout)["panels"] for v in p["verdicts"]]
    assert len(verdicts) == 20 and {v["status"] for v in verdicts} == {"ok"}
    assert {v["model"] for v in verdicts} == {"panel-model"}  # the alias is the model of record

    for server in servers.values():
        assert server.requests > 0  # every deployment got calls
        assert_within(server, 10)
    calls = stored_calls(workspace)
    answered = Counter(call["deployment"] for call in calls)
    assert answered == {server.deployment_id: server.requests for server in servers.values()}
    assert sum(answered.values()) == 20


def test_a_stopped_server_is_cooled_down_and_its_calls_go_elsewhere(workspace, run_cli, make_brief, servers,
                                                                     dead_url):
    live = {name: servers[name] for name in ("fast", "medium")}
    deployments = [{"url": s.url, "id": s.deployment_id, "rpm": 10} for s in live.values()]
    deployments.append({"url": dead_url, "id": new_id("dead"), "rpm": 10})
    router = write_router(workspace / "router.yaml", deployments, {"allowed_fails": 0, "cooldown_time": 60})
    slugs = briefs(make_brief, 3)  # 15 seats, under the live servers' 2 x 10
    res = run_cli("review", *slugs, "--router", router, "--model", "panel-model", "--json", "--concurrency", "1")
    assert res.exit_code == 0, res.stderr  # the batch still ends complete
    verdicts = [v for p in json.loads(res.stdout)["panels"] for v in p["verdicts"]]
    assert {v["status"] for v in verdicts} == {"ok"} and len(verdicts) == 15

    calls = stored_calls(workspace)
    assert Counter(call["deployment"] for call in calls) == {s.deployment_id: s.requests for s in live.values()}
    failed_attempts = sum(call["attempts"] for call in calls) - len(calls)
    # The emptiest deployment is picked first, so the dead one is tried; then (allowed_fails 0) it is
    # cooled down for the rest of the batch, never tried once per seat. litellm records the cooldown
    # from its failure callback, which on a loaded machine can land after the next pick: allow that.
    assert 1 <= failed_attempts <= 3, [(call["attempts"], call["deployment"]) for call in calls]
    for server in live.values():
        assert_within(server, 10)


def test_the_routers_caps_hold_under_a_burst(workspace, servers):
    """Many more calls at once than the caps allow: the Router refuses the excess itself (a 429
    that panel waits out until the next minute); no server ever sees more than its cap."""
    import asyncio

    caps = {"fast": 2, "medium": 3, "slow": 4}
    router = load_router(str(write_router(workspace / "router.yaml",
                                          [{"url": servers[n].url, "id": servers[n].deployment_id, "rpm": caps[n]}
                                           for n in caps])))

    async def burst():
        async def one(i):
            try:
                await router.acompletion(model="panel-model", messages=[{"role": "user", "content": f"call {i}"}],
                                         timeout=10)
                return None
            except Exception as exc:  # noqa: BLE001 - collected and checked below
                return exc

        return await asyncio.gather(*(one(i) for i in range(24)))

    refusals = [exc for exc in asyncio.run(burst()) if exc is not None]
    assert refusals  # 24 calls against at most 9 a minute
    lt = get_litellm()
    for exc in refusals:
        assert isinstance(exc, lt.RateLimitError) and is_transient(exc) and not is_credentials_error(exc)
        assert 0 < backoff_seconds(1, exc) <= MAX_RETRY_AFTER_S
        assert describe_error(exc).startswith("rate limited")
    for name, cap in caps.items():
        assert_within(servers[name], cap)
    assert sum(s.requests for s in servers.values()) == 24 - len(refusals)


@pytest.mark.slow  # waits for the next calendar minute (up to about 60 s)
def test_a_batch_over_the_caps_waits_for_the_next_minute_and_completes(workspace, run_cli, make_brief, servers):
    router = write_router(workspace / "router.yaml",
                          [{"url": s.url, "id": s.deployment_id, "rpm": 3} for s in servers.values()])
    slugs = briefs(make_brief, 2)  # 10 seats; the router may send at most 3 x 3 in a minute
    res = run_cli("review", *slugs, "--router", router, "--model", "panel-model", "--json")
    assert res.exit_code == 0, res.stderr
    verdicts = [v for p in json.loads(res.stdout)["panels"] for v in p["verdicts"]]
    assert {v["status"] for v in verdicts} == {"ok"} and len(verdicts) == 10
    minutes = set()
    for server in servers.values():
        assert_within(server, 3)
        minutes |= set(server.per_minute)
    assert len(minutes) >= 2  # the batch did not fit in one minute, and waited rather than failed
    assert max(call["attempts"] for call in stored_calls(workspace)) >= 2


def test_panels_own_providers_work_behind_the_router(workspace, run_cli, make_brief):
    """scripted/ (and local/) deployments: panel's providers are registered before the Router is built."""
    (workspace / "router.yaml").write_text(
        "model_list:\n"
        "  - {model_name: pm, litellm_params: {model: scripted/one}, model_info: {id: one}}\n"
        "  - {model_name: pm, litellm_params: {model: scripted/two}, model_info: {id: two}}\n",
        encoding="utf-8",
    )
    make_brief("gadget")
    res = run_cli("review", "gadget", "--router", "router.yaml", "--model", "pm", "--json")
    assert res.exit_code == 0, res.stderr
    assert {call["deployment"] for call in stored_calls(workspace)} <= {"one", "two"}
    assert {call["model"] for call in stored_calls(workspace)} == {"pm"}


def test_a_deployment_is_named_by_its_id_else_its_address(workspace):
    router = load_router(str(write_router(workspace / "router.yaml", [
        {"url": "http://127.0.0.1:9/v1", "id": "gpu1"}, {"url": "http://127.0.0.1:10/v1"}])))

    class Response:
        def __init__(self, **hidden):
            self._hidden_params = hidden

    assert router.deployment_of(Response(model_id="gpu1", api_base="http://127.0.0.1:9/v1")) == "gpu1"
    assert router.deployment_of(Response(model_id="3f2a9c", api_base="http://127.0.0.1:10/v1")) == \
        "http://127.0.0.1:10/v1"
    assert router.deployment_of(Response(model_id="3f2a9c")) == "3f2a9c"
    assert router.deployment_of(Response()) is None
    assert router.serves("panel-model") and not router.serves("openai/fake-model")
    assert router.model_names() == ["panel-model"]


def test_defaults_caps_make_a_hard_limit_and_panel_does_the_retries(workspace):
    capped = load_router(str(write_router(workspace / "a.yaml", [{"url": "http://127.0.0.1:9/v1", "rpm": 5}])))
    kwargs = capped.router_kwargs()
    assert kwargs["routing_strategy"] == "usage-based-routing-v2" and kwargs["num_retries"] == 0
    assert kwargs["allowed_fails"] == 1 and kwargs["cooldown_time"] == 30
    plain = load_router(str(write_router(workspace / "b.yaml", [{"url": "http://127.0.0.1:9/v1"}],
                                         {"cooldown_time": 5, "routing_strategy": "least-busy"})))
    kwargs = plain.router_kwargs()
    assert kwargs["routing_strategy"] == "least-busy" and kwargs["cooldown_time"] == 5
    assert load_router(str(write_router(workspace / "c.yaml", [{"url": "http://127.0.0.1:9/v1"}]))) \
        .router_kwargs()["routing_strategy"] == "simple-shuffle"
    assert load_router(None) is None


# --- bad router files: exit 2, one line naming the file, nothing written --------------------------

GOOD = "  - {model_name: pm, litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1'}}\n"

BAD_FILES = {
    "missing": (None, "no such file"),
    "bad-yaml": ("model_list: [\n", "invalid YAML"),
    "empty-list": ("model_list: []\n", "model_list is empty"),
    "no-list": ("router_settings: {cooldown_time: 5}\n", "model_list is missing"),
    "no-model-name": ("model_list:\n  - {litellm_params: {model: openai/x}}\n", "model_name is missing"),
    "no-params": ("model_list:\n  - {model_name: pm}\n", "litellm_params is missing"),
    "no-model": ("model_list:\n  - {model_name: pm, litellm_params: {api_base: 'http://h/v1'}}\n",
                 "litellm_params.model is missing"),
    "proxy-config": ("model_list:\n" + GOOD + "general_settings: {master_key: sk-1}\n",
                     "unknown top-level key 'general_settings'"),
    "unknown-entry-key": ("model_list:\n  - {model_name: pm, litelm_params: {model: openai/x}}\n",
                          "unknown key 'litelm_params'"),
    "bad-rpm": ("model_list:\n  - {model_name: pm, litellm_params: {model: openai/x, rpm: fast}}\n",
                "litellm_params.rpm must be a whole number"),
    "retries": ("model_list:\n" + GOOD + "router_settings: {num_retries: 3}\n", "num_retries"),
    "unknown-setting": ("model_list:\n" + GOOD + "router_settings: {cooldown_tme: 5}\n",
                        "did you mean 'cooldown_time'"),
    "unknown-strategy": ("model_list:\n" + GOOD + "router_settings: {routing_strategy: fastest}\n",
                         "unknown strategy 'fastest'"),
    "fallback-to-nothing": ("model_list:\n" + GOOD + "router_settings: {fallbacks: [{pm: [other]}]}\n",
                            "'other' is not a model_name"),
    "unknown-provider": ("model_list:\n  - {model_name: pm, litellm_params: {model: nosuch/x}}\n",
                         "litellm cannot tell which provider serves 'nosuch/x'"),
    "missing-key": ("model_list:\n  - {model_name: pm, litellm_params: {model: anthropic/claude-3-5-haiku-latest}}\n",
                    "needs ANTHROPIC_API_KEY"),
    "unset-variable": (("model_list:\n  - {model_name: pm, litellm_params: {model: openai/x, api_base: 'http://h/v1',"
                        " api_key: os.environ/PANEL_TEST_UNSET_KEY}}\n"), "reads $PANEL_TEST_UNSET_KEY, which is not "
                                                                          "set"),
    "not-served": ("model_list:\n  - {model_name: other, litellm_params: {model: scripted/x}}\n",
                   "does not serve"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_router_file_is_exit_2_and_writes_nothing(workspace, run_cli, make_brief, monkeypatch, case):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("PANEL_TEST_UNSET_KEY", raising=False)
    text, fragment = BAD_FILES[case]
    path = workspace / "router.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    make_brief("gadget")
    res = run_cli("review", "gadget", "--router", path, "--model", "pm")
    assert res.exit_code == 2, (res.stdout, res.stderr)
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("Error: "), line
    assert str(path) in line and fragment in line, line
    assert "sk-" not in line
    assert not (workspace / "outputs" / "panel.db").exists()  # nothing written
    assert not list((workspace / "outputs").glob("*.md"))


def test_a_deployment_with_its_own_key_or_server_needs_nothing_in_the_environment(workspace, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("PANEL_TEST_KEY", "sk-ant-test")
    path = workspace / "router.yaml"
    path.write_text(
        "model_list:\n"
        "  - {model_name: pm, litellm_params: {model: anthropic/claude-3-5-haiku-latest, api_key: "
        "os.environ/PANEL_TEST_KEY}}\n"
        "  - {model_name: pm, litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1'}}\n"
        "  - {model_name: unused, litellm_params: {model: anthropic/claude-3-5-haiku-latest}}\n"
        "router_settings: {allowed_fails: 2}\n",
        encoding="utf-8",
    )
    assert check_router(str(path), ["pm", "scripted/other"]) == {"pm"}  # `unused` is not reached
    with pytest.raises(Exception, match="ANTHROPIC_API_KEY"):
        check_router(str(path), ["unused"])
    assert check_router(None, ["pm"]) == frozenset()


@pytest.mark.slow  # a fresh interpreter shows what an import pulled in
def test_reading_a_router_file_does_not_import_litellm(workspace):
    path = workspace / "router.yaml"
    path.write_text("model_list:\n  - {model_name: pm, litellm_params: {model: scripted/x}}\n", encoding="utf-8")
    probe = ("import sys; from panel.models.router import load_router, check_router; "
             f"r = load_router({str(path)!r}); check_router({str(path)!r}, ['pm']); "
             "print(r.model_names(), 'litellm' in sys.modules)")
    assert fresh_python(probe) == "['pm'] False"


# --- what panel's retries make of the Router's refusals ------------------------------------------


def test_all_deployments_cooling_down_is_waited_out():
    from litellm.types.router import RouterRateLimitError

    exc = RouterRateLimitError(model="pm", cooldown_time=7.0, enable_pre_call_checks=False, cooldown_list=["a", "b"],
                               model_ids=["a", "b"])
    assert isinstance(exc, ValueError) and is_transient(exc) and not is_credentials_error(exc)
    assert backoff_seconds(1, exc) == 7.0
    long = RouterRateLimitError(model="pm", cooldown_time=600, enable_pre_call_checks=False, cooldown_list=["a"])
    assert backoff_seconds(1, long) == MAX_RETRY_AFTER_S
    text = describe_error(exc)
    assert text.startswith("no deployment available: all are cooling down after failures for 7 s")
    assert "cooldown_list" not in text and "\n" not in text


def test_a_spent_router_budget_is_permanent():
    exc = ValueError("No deployments available - crossed budget: Exceeded budget for provider openai: 0.1 >= 0.1")
    assert not is_transient(exc)
    assert describe_error(exc).startswith("budget spent")


def test_an_rpm_cap_waits_for_the_next_minute_and_a_full_deployment_backs_off():
    lt = get_litellm()
    capped = lt.RateLimitError(
        message="No deployments available for selected model. Passed model=pm. Deployments={'a': {'current_rpm': 3,"
        " 'rpm_limit': 3}}", llm_provider="openai", model="pm")
    assert is_transient(capped)
    waits = [backoff_seconds(1, capped) for _ in range(5)]
    assert all(0 < wait <= MAX_RETRY_AFTER_S for wait in waits)
    assert describe_error(capped).startswith("rate limited: every deployment is at its rpm/tpm cap")
    assert "Deployments=" not in describe_error(capped)
    busy = lt.RateLimitError(message="Deployment has all max_parallel_requests slots in use.", llm_provider="openai",
                             model="pm")
    assert is_transient(busy) and backoff_seconds(1, busy) <= 0.5  # the usual short backoff
    # One deployment filled up between being picked and being called: another may have room, so
    # not the Router's own `retry-after: 60` either.
    import httpx

    raced = lt.RateLimitError(message="Deployment over defined rpm limit=10. current usage=10", llm_provider="openai",
                              model="pm", response=httpx.Response(429, headers={"retry-after": "60"},
                                                                  request=httpx.Request("POST", "http://h")))
    assert is_transient(raced) and backoff_seconds(1, raced) <= 0.5
    assert backoff_seconds(2, raced) > 0.5  # lost twice: every deployment is full until the next minute


def test_a_key_refused_by_one_of_several_deployments_is_asked_again_elsewhere():
    lt = get_litellm()
    exc = lt.AuthenticationError(message="Incorrect API key provided", llm_provider="openai", model="pm")
    assert is_credentials_error(exc) and not is_transient(exc)  # alone: it stops the model
    exc.panel_router_deployments = 3  # as PanelRouter tags what one of three deployments raised
    assert is_transient(exc) and not is_credentials_error(exc)
    exc.panel_router_deployments = 1
    assert is_credentials_error(exc) and not is_transient(exc)
