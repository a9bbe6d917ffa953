"""Provider faults over real HTTP: `panel review` against tests/fake_openai.py on 127.0.0.1.

The server injects, in order, the faults a test queues (429 with Retry-After, 5xx, slow answers
past the timeout, dropped and reset connections, non-JSON, truncated JSON, fenced JSON, an empty
`choices` list, a verdict outside the schema). Every test goes through the real CLI, litellm's
`openai/` provider and the store. The seam's retry and re-ask rules are unit-tested with the
scripted model in tests/test_llm.py; here they meet a real server.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from reliability_helpers import MODEL, PERSONAS, RecordingFake, verdict_rows

from panel.models import retry, seam

BRIEF = "quintet"  # seats all five personas (made by the `fake` fixture)
FOUR = ["builder", "skeptic", "futurist", "business"]
FOUR_B = ["builder", "skeptic", "futurist", "creative"]


@pytest.fixture(scope="module")
def server():
    srv = RecordingFake(retry_after=0.1).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    """Without a Retry-After the seam backs off 0.25-0.5 s, doubling per attempt. These tests count
    requests and read outcomes, never that wait, so it is cut tenfold here; a provider's Retry-After
    is kept exactly (test_retry_after_is_honoured measures it)."""
    real = retry.backoff_seconds

    def shorter(attempt, exc):
        wait = real(attempt, exc)
        hinted = retry.retry_after_seconds(exc) if exc is not None else None
        return wait if hinted is not None else wait / 10

    monkeypatch.setattr(retry, "backoff_seconds", shorter)


@pytest.fixture
def fake(server, workspace, make_brief, monkeypatch):
    make_brief(BRIEF)
    server.reset()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: keep panel titles on one line
    yield server
    server.reset()


@pytest.fixture
def review(run_cli, fake):
    def invoke(*args: str, brief: str | list[str] = BRIEF, json_out: bool = True):
        briefs = [brief] if isinstance(brief, str) else brief
        res = run_cli("review", *briefs, "--model", MODEL, "--api-base", fake.url, *args,
                      *(["--json"] if json_out else []))
        assert res.exit_code in (0, 1), res.stderr  # never a crash, never "bad input"
        return res, (json.loads(res.stdout) if json_out else None)

    return invoke


def db_path(workspace):
    return workspace / "outputs" / "panel.db"


def calls(workspace) -> list[dict]:
    conn = sqlite3.connect(db_path(workspace))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM calls ORDER BY id")]
    finally:
        conn.close()


def only_verdict(out: dict) -> dict:
    [panel] = out["panels"]
    [verdict] = panel["verdicts"]
    return verdict


# --- faults the run recovers from ---------------------------------------------------------------

RECOVERABLE = [
    # (faults queued, HTTP requests the one persona needs)
    (["429:0.05"], 2),
    (["500"], 2),
    (["502"], 2),
    (["503"], 2),
    (["drop"], 2),
    (["reset"], 2),
    (["slow:3"], 2),  # past PANEL_TIMEOUT: litellm.Timeout, retried
    (["500", "503", "429:0"], 4),  # three transient failures in a row still end ok (4 attempts)
    (["fenced"], 1),  # a fenced verdict is accepted as it is
    (["non_json"], 2),  # the rest are re-asked with the error
    (["truncated"], 2),
    (["empty_choices"], 2),
    (["bad_schema"], 2),
]


@pytest.mark.parametrize("faults, requests", RECOVERABLE, ids=["+".join(f) for f, _ in RECOVERABLE])
def test_recoverable_fault_ends_ok(review, fake, workspace, monkeypatch, faults, requests):
    monkeypatch.setenv("PANEL_TIMEOUT", "0.5")
    fake.add_faults(*faults)
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 0
    verdict = only_verdict(out)
    assert verdict["status"] == "ok" and verdict["verdict"] in ("ship", "skip") and not verdict["cached"]
    assert fake.requests == requests and fake.pending_faults == []
    [call] = calls(workspace)
    assert call["outcome"] == "ok" and call["attempts"] == requests
    if faults[0] in ("non_json", "truncated", "empty_choices", "bad_schema"):
        # The second request carried the failed answer back with what was wrong with it.
        second = fake.log[1]["messages"]
        assert second[-2]["role"] == "assistant" and "could not be used" in second[-1]["content"]
        assert json.loads(call["request"]) == second


def test_retry_after_is_honoured(review, fake, workspace, monkeypatch):
    waits = []
    real = retry.backoff_seconds

    def spy(attempt, exc):
        waits.append(real(attempt, exc))
        return waits[-1]

    monkeypatch.setattr(retry, "backoff_seconds", spy)
    fake.add_faults("429:1.2")  # well above the jittered backoff (at most 0.5 s) used without it
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 0 and only_verdict(out)["status"] == "ok"
    assert waits == [1.2]  # the wait came from the provider's Retry-After header
    first, second = fake.arrivals
    assert second - first >= 1.2


def test_an_absurd_retry_after_is_capped(review, fake, monkeypatch):
    monkeypatch.setattr(retry, "MAX_RETRY_AFTER_S", 0.1)
    fake.add_faults("429:86400")  # "come back tomorrow" must not hang the batch
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 0 and only_verdict(out)["status"] == "ok"
    assert fake.requests == 2


# --- faults that end a persona as `error` or `unscored` -------------------------------------------


@pytest.mark.parametrize("fault", ["500", "429:0", "drop", "slow:2"])
def test_retries_are_bounded(review, fake, workspace, monkeypatch, fault):
    monkeypatch.setenv("PANEL_TIMEOUT", "0.3")
    fake.add_faults(*[fault] * (retry.MAX_ATTEMPTS + 2))
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 1
    verdict = only_verdict(out)
    assert verdict["status"] == "error" and verdict["verdict"] is None
    assert fake.requests == retry.MAX_ATTEMPTS  # then it gave up
    [row] = verdict_rows(db_path(workspace))
    assert row["status"] == "error" and row["error"]
    expected = {"500": "InternalServerError", "429:0": "rate limited",
                "drop": "Connection error", "slow:2": "timed out"}[fault]
    assert expected in row["error"]
    assert out["panels"][0]["reported"] == 0 and out["panels"][0]["seated"] == 1


def test_auth_error_is_not_retried_and_the_rest_are_not_attempted(review, fake, workspace):
    fake.add_faults("401", "401", "401")
    res, out = review("--concurrency", "1")
    assert res.exit_code == 1
    assert fake.requests == 1  # one 401, no retry, and no more calls with the same bad key
    verdicts = out["panels"][0]["verdicts"]
    assert [v["status"] for v in verdicts] == ["error"] * 5
    errors = [row["error"] for row in verdict_rows(db_path(workspace))]
    tried = [e for e in errors if not e.startswith("not attempted: ")]
    assert len(tried) == 1 and tried[0].startswith("authentication failed")
    assert sum(e.startswith("not attempted: authentication failed") for e in errors) == 4


def test_auth_errors_in_flight_are_each_tried_once(review, fake, workspace):
    fake.add_faults(*["401"] * 5)
    res, out = review("--concurrency", "5")
    assert res.exit_code == 1
    assert {v["status"] for v in out["panels"][0]["verdicts"]} == {"error"}
    # Calls already under way when the first 401 came back each made one request; none retried.
    attempts = [c["attempts"] for c in calls(workspace)]
    assert set(attempts) <= {0, 1} and sum(attempts) == fake.requests >= 1


def test_bad_request_is_not_retried(review, fake, workspace):
    fake.add_faults("400")
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 1 and fake.requests == 1
    verdict = only_verdict(out)
    assert verdict["status"] == "error"
    assert "rejected the request" in verdict_rows(db_path(workspace))[0]["error"]


@pytest.mark.parametrize(
    "fault, raw",
    [
        ("non_json", "I think this tool is great"),
        ("truncated", '{"rationale": '),
        ("bad_schema", '"verdict": "maybe"'),
        ("empty_choices", ""),
    ],
)
def test_unparseable_answers_end_unscored_with_the_raw_text(review, fake, workspace, fault, raw):
    fake.add_faults(*[fault] * (seam.MAX_REASKS + 1))
    res, out = review("--personas", "skeptic")
    assert res.exit_code == 1
    assert fake.requests == seam.MAX_REASKS + 1  # the answer and two re-asks, then stop
    verdict = only_verdict(out)
    assert verdict["status"] == "unscored" and verdict["verdict"] is None
    [row] = verdict_rows(db_path(workspace))
    assert row["status"] == "unscored" and raw in row["raw"] and row["error"]
    assert out["panels"][0]["ship_pct"] is None  # never counted as a skip


# --- a whole batch under a mixed schedule -------------------------------------------------------

MIXED = [
    "429:0", "500", "fenced", "drop", "non_json", "502", "truncated", "503", "empty_choices",
    "bad_schema", "slow:2", "reset", "400", "non_json", "non_json", "non_json", "500", "500",
    "500", "500", "bad_schema", "429:0.05", "truncated", "empty_choices",
]


def test_mixed_fault_schedule_accounts_for_every_persona(review, fake, workspace, make_brief, monkeypatch):
    monkeypatch.setenv("PANEL_TIMEOUT", "0.5")
    fake.add_faults(*MIXED)
    # 5 + 4 + 5 + 4 = 18 seats: enough calls to take every queued fault.
    make_brief("quartet", panel=FOUR)
    make_brief("quintet-b")
    make_brief("quartet-b", panel=FOUR_B)
    res, out = review("--concurrency", "3", brief=[BRIEF, "quartet", "quintet-b", "quartet-b"])
    run_id = out["run_id"]
    seated_total = 0
    for panel in out["panels"]:
        names = [v["persona"] for v in panel["verdicts"]]
        assert len(names) == len(set(names)) == panel["seated"]  # each seated persona exactly once
        seated_total += panel["seated"]
        for v in panel["verdicts"]:
            assert v["status"] in ("ok", "unscored", "error")
            assert (v["verdict"] is not None) == (v["status"] == "ok")
        assert panel["reported"] == sum(v["status"] == "ok" for v in panel["verdicts"])
    rows = verdict_rows(db_path(workspace), "run_id = ?", [run_id])
    assert len(rows) == seated_total  # one stored result per seated persona, none dropped
    for row in rows:
        if row["status"] == "error":
            assert row["error"]
        if row["status"] == "unscored":
            assert row["error"] and row["raw"] is not None
    # Every HTTP request the server saw is accounted for in the stored attempts.
    run_calls = [c for c in calls(workspace) if c["run_id"] == run_id]
    assert sum(c["attempts"] for c in run_calls) == fake.requests
    assert fake.pending_faults == []
    statuses = {row["status"] for row in rows}
    assert "error" in statuses  # the 400 is never retried
    assert res.exit_code == (0 if statuses == {"ok"} else 1)


# --- partial panels, and resuming them --------------------------------------------------------


def test_partial_panel_is_shown_and_a_rerun_calls_only_the_failed_personas(review, fake, workspace):
    # At concurrency 1 each persona's calls run back to back: the first gets a 400 (error), the
    # second three non-JSON answers (unscored), the other three answer normally.
    fake.add_faults("400", "non_json", "non_json", "non_json")
    res, _ = review("--concurrency", "1", json_out=False)
    assert res.exit_code == 1
    assert "3/5 reported" in res.stdout and "partial" in res.stdout
    report = (workspace / "outputs" / f"{BRIEF}.md").read_text()
    assert "3/5 reported, partial panel" in report
    first = verdict_rows(db_path(workspace))
    failed = {r["persona"] for r in first if r["status"] != "ok"}
    assert len(failed) == 2 and {r["status"] for r in first} == {"ok", "error", "unscored"}

    fake.reset()
    res, out = review("--concurrency", "1")
    assert res.exit_code == 0
    assert fake.requests == 2  # only the personas without an ok verdict went to the model
    verdicts = out["panels"][0]["verdicts"]
    assert {v["persona"] for v in verdicts if not v["cached"]} == failed
    assert sum(v["cached"] for v in verdicts) == 3
    assert out["panels"][0]["reported"] == 5
    # The failed results stay in the store for the audit; they were not reused.
    after = verdict_rows(db_path(workspace))
    assert [r for r in after if r["id"] in {x["id"] for x in first}] == first
    assert len(after) == len(first) + 2

    fake.reset()
    res, out = review("--concurrency", "1")
    assert res.exit_code == 0 and fake.requests == 0
    assert all(v["cached"] for v in out["panels"][0]["verdicts"])
    assert set(PERSONAS) == {v["persona"] for v in out["panels"][0]["verdicts"]}


def test_a_dead_server_is_one_line_naming_the_endpoint_and_what_was_tried(run_cli, workspace, make_brief,
                                                                           monkeypatch):
    """It said "InternalServerError: litellm.InternalServerError: InternalServerError: OpenAIException
    - Connection error." without the address."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    make_brief("quiet", panel=["skeptic"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    res = run_cli("review", "quiet", "--model", MODEL, "--api-base", dead, "--json")
    assert res.exit_code == 1
    error = only_verdict(json.loads(res.stdout))["error"]
    assert error.startswith(f"could not connect to {dead}: Connection error")
    assert re.search(rf"\({retry.MAX_ATTEMPTS} attempt\(s\) in \d+\.\d s\)$", error)
    assert "litellm." not in error and "InternalServerError" not in error and "\n" not in error


def test_object_reprs_and_stacked_names_are_left_out_of_an_error():
    lt = pytest.importorskip("litellm")
    exc = lt.APIConnectionError(message="OllamaException - <ssl.SSLContext object at 0x7f3a2b1c> failed",
                                llm_provider="ollama", model="llama3")
    assert retry.describe_error(exc, None) == "could not connect to the provider: failed"
