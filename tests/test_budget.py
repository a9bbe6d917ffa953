"""`--max-cost USD`: stop starting new model calls once the recorded cost would pass the budget,
say so, and let the same command finish the rest later.

The scripted and local models cost nothing, so these tests use a model litellm has a price for
(`openai/gpt-4o-mini`) served by the fake OpenAI server: litellm prices the usage the server
reports, exactly as it would for the real provider. (The seam's budget arithmetic is unit-tested
in tests/test_llm.py.)
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from reliability_helpers import FakeOpenAI

PRICED = "openai/gpt-4o-mini"
BRIEFS = ["quintet", "quartet"]  # all five personas + four
SEATED = 5 + 4
BUDGET = 0.0005  # about two and a half calls of this size


@pytest.fixture
def server(workspace, make_brief, monkeypatch):
    make_brief("quintet")
    make_brief("quartet", panel=["builder", "skeptic", "futurist", "business"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as srv:
        yield srv


def review(run_cli, server, *args):
    res = run_cli("review", *BRIEFS, "--model", PRICED, "--api-base", server.url, "--json", *args)
    return res, json.loads(res.stdout)  # stdout stays one JSON document


def run_costs(workspace, run_id) -> tuple[float, list[float], int]:
    conn = sqlite3.connect(workspace / "outputs" / "panel.db")
    try:
        recorded = conn.execute("SELECT cost FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        costs = [r[0] for r in conn.execute("SELECT cost FROM calls WHERE run_id = ? AND attempts > 0", [run_id])]
        attempts = conn.execute("SELECT sum(attempts) FROM calls WHERE run_id = ?", [run_id]).fetchone()[0]
    finally:
        conn.close()
    return recorded, costs, attempts


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_budget_stops_new_calls_says_so_and_the_run_resumes(run_cli, server, workspace, concurrency):
    res, out = review(run_cli, server, "--max-cost", str(BUDGET), "--concurrency", concurrency)
    assert res.exit_code == 1
    made = server.requests
    recorded, costs, attempts = run_costs(workspace, out["run_id"])
    assert attempts == made and len(costs) == made
    assert all(c > 0 for c in costs)  # the provider's usage was priced
    assert 2 <= made < SEATED
    # It stopped because one more call would pass the budget, not before; calls in flight were
    # counted, so running four at a time did not overshoot either.
    assert recorded == pytest.approx(sum(costs))
    assert recorded <= BUDGET < recorded + recorded / made

    skipped = [v for p in out["panels"] for v in p["verdicts"] if v["status"] != "ok"]
    assert len(skipped) == SEATED - made
    assert all(v["status"] == "error" and "--max-cost budget of $0.0005 would be passed" in v["error"]
               for v in skipped)
    assert f"Stopped at the --max-cost budget of $0.0005: {SEATED - made} model call(s) not started" in res.stderr

    # The same command with a bigger budget pays only for what is missing.
    server.reset()
    res, out = review(run_cli, server, "--max-cost", "1", "--concurrency", concurrency)
    assert res.exit_code == 0 and "Stopped" not in res.stderr
    assert server.requests == SEATED - made
    assert all(p["reported"] == p["seated"] for p in out["panels"])
    assert sum(v["cached"] for p in out["panels"] for v in p["verdicts"]) == made


def test_without_a_budget_nothing_is_held_back(run_cli, server, workspace):
    res, out = review(run_cli, server, "--concurrency", "4")
    assert res.exit_code == 0 and server.requests == SEATED
    recorded, costs, _ = run_costs(workspace, out["run_id"])
    assert recorded > BUDGET and len(costs) == SEATED
