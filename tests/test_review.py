"""The whole pipeline in process: graph fan-out, model seam (scripted), store as cache."""

import asyncio
import json
from pathlib import Path

import pytest

from panel.models import scripted
from panel.inputs.briefs import load_brief
from panel.core.errors import PanelError, PersonaError
from panel.inputs.personas import load_personas
from panel.review.plan import ReviewOptions
from panel.review.batch import run_review
from panel.store import queries
from panel.store.store import Store


def by_title(messages):
    """Skeptics skip, everyone else ships: lets tests predict the panel."""
    text = messages[-1]["content"]
    decision = "skip" if "You are the Skeptic" in text else "ship"
    return {"rationale": "Because.", "verdict": decision, "confidence": 0.7, "headline": f"{decision}!",
            "strengths": [], "risks": [], "competitors": []}


def run(ws: Path, slugs, **options):
    personas = load_personas(ws / "personas")
    briefs = [load_brief(ws / "tool_briefs" / f"{s}.yaml") for s in slugs]
    store = Store(ws / "outputs" / "panel.db")
    try:
        return asyncio.run(run_review(briefs, personas, store, ReviewOptions(model="scripted/p", **options)))
    finally:
        store.close()


def test_panel_seats_the_briefs_own_personas(workspace):
    scripted.script("p", by_title)
    outcome = run(workspace, ["smollm3", "mistral-small-3-1"])
    smol, mistral = outcome.panels
    assert smol.seated == ["builder", "skeptic", "futurist", "business"]
    assert {r.persona for r in mistral.results} == {"builder", "skeptic", "futurist", "creative"}
    assert smol.ship_pct == 75.0 and smol.reported == 4 and smol.complete
    assert scripted.call_count() == 8 and outcome.calls_made == 8


def test_second_run_makes_no_model_calls(workspace):
    scripted.script("p", by_title)
    first = run(workspace, ["smollm3", "qwen3"])
    assert scripted.call_count() == 9
    second = run(workspace, ["smollm3", "qwen3"])
    assert scripted.call_count() == 9
    assert second.calls_made == 0 and second.calls_reused == 9
    assert [p.to_json()["ship_pct"] for p in second.panels] == [p.to_json()["ship_pct"] for p in first.panels]
    assert all(r.cached for p in second.panels for r in p.results)


def test_fresh_bypasses_the_store(workspace):
    scripted.script("p", by_title)
    run(workspace, ["smollm3"])
    run(workspace, ["smollm3"], fresh=True)
    assert scripted.call_count() == 8


def test_edited_persona_reruns_only_that_persona(workspace):
    scripted.script("p", by_title)
    run(workspace, ["smollm3", "qwen3", "aider"])
    before = scripted.call_count()
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# sharper questions next week\n")
    run(workspace, ["smollm3", "qwen3", "aider"])
    new_calls = scripted.calls[before:]
    assert len(new_calls) == 3
    assert all("You are the Skeptic" in c["messages"][-1]["content"] for c in new_calls)


def test_errors_are_stored_but_never_reused(workspace):
    scripted.script("p", ["garbage", "garbage", "garbage"])
    scripted.script("p", by_title)
    outcome = run(workspace, ["smollm3"], concurrency=1)
    assert not outcome.panels[0].complete and outcome.panels[0].reported == 3
    unscored = [r for r in outcome.panels[0].results if r.status == "unscored"]
    assert len(unscored) == 1 and unscored[0].raw == "garbage"
    calls = scripted.call_count()
    again = run(workspace, ["smollm3"])
    assert scripted.call_count() == calls + 1  # only the unscored persona is asked again
    assert again.panels[0].complete


def test_everything_is_stored_for_audit(workspace):
    scripted.script("p", by_title)
    outcome = run(workspace, ["smollm3"])
    db = Store(workspace / "outputs" / "panel.db").db
    calls = list(db.query("SELECT * FROM calls WHERE run_id = ?", [outcome.run_id]))
    assert len(calls) == 4
    request = json.loads(calls[0]["request"])
    assert request[0]["role"] == "system" and "BRIEF-" in request[1]["content"]
    assert calls[0]["response"] and calls[0]["attempts"] == 1 and calls[0]["prompt_tokens"] > 0
    run_row = db["runs"].get(outcome.run_id)
    assert run_row["status"] == "complete" and run_row["calls_made"] == 4 and run_row["model"] == "scripted/p"
    verdicts = list(db.query("SELECT * FROM verdicts_fts WHERE verdicts_fts MATCH 'Because'"))
    assert len(verdicts) == 4
    stored = queries.latest_panel(Store(workspace / "outputs" / "panel.db").db, "smollm3")
    assert stored.ship_pct == 75.0 and stored.seated == outcome.panels[0].seated


def test_bad_batches_write_nothing(workspace):
    db = workspace / "outputs" / "panel.db"
    with pytest.raises(PanelError, match="duplicate slug"):
        run(workspace, ["smollm3", "smollm3"])
    with pytest.raises(PersonaError, match="unknown persona 'critic'"):
        run(workspace, ["smollm3"], only_personas=["critic"])
    assert scripted.call_count() == 0
    # run() opens the store before run_review rejects the batch; no rows were written.
    store = Store(db)
    assert store.db["verdicts"].count == 0 and store.db["runs"].count == 0
