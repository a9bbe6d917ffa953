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
from panel.review.run import run_review
from panel.store import stored_panels
from panel.store.store import Store


def by_title(messages):
    """Skeptics skip, everyone else ships: lets tests predict the panel."""
    text = messages[-1]["content"]
    decision = "skip" if "You are the Skeptic" in text else "ship"
    return {"rationale": "Because.", "verdict": decision, "confidence": 0.7, "headline": f"{decision}!",
            "strengths": [], "risks": [], "competitors": []}


# "quartet" seats four personas (no creative), "quartet-b" a different four (no business),
# "quintet" and "quintet-b" all five. Skeptics skip (by_title), so quartet is 3 of 4 = 75%.
FOUR = ["builder", "skeptic", "futurist", "business"]
FOUR_B = ["builder", "skeptic", "futurist", "creative"]


def run(ws: Path, slugs, **options):
    personas = load_personas(ws / "personas")
    briefs = [load_brief(ws / "tool_briefs" / f"{s}.yaml") for s in slugs]
    store = Store(ws / "outputs" / "panel.db")
    try:
        return asyncio.run(run_review(briefs, personas, store, ReviewOptions(model="scripted/p", **options)))
    finally:
        store.close()


def test_panel_seats_the_briefs_own_personas(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    make_brief("quartet-b", panel=FOUR_B)
    scripted.script("p", by_title)
    outcome = run(workspace, ["quartet", "quartet-b"])
    quartet, other = outcome.panels
    assert quartet.seated == FOUR
    assert {r.persona for r in other.results} == set(FOUR_B)
    assert quartet.ship_pct == 75.0 and quartet.reported == 4 and quartet.complete
    assert scripted.call_count() == 4 + 4 and outcome.calls_made == 4 + 4


def test_second_run_makes_no_model_calls(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    make_brief("quintet")
    scripted.script("p", by_title)
    first = run(workspace, ["quartet", "quintet"])
    assert scripted.call_count() == 4 + 5
    second = run(workspace, ["quartet", "quintet"])
    assert scripted.call_count() == 4 + 5
    assert second.calls_made == 0 and second.calls_reused == 4 + 5
    assert [p.to_json()["ship_pct"] for p in second.panels] == [p.to_json()["ship_pct"] for p in first.panels]
    assert all(r.cached for p in second.panels for r in p.results)


def test_fresh_bypasses_the_store(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    scripted.script("p", by_title)
    run(workspace, ["quartet"])
    run(workspace, ["quartet"], fresh=True)
    assert scripted.call_count() == 4 + 4


def test_edited_persona_reruns_only_that_persona(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    make_brief("quintet")
    make_brief("quintet-b")
    scripted.script("p", by_title)
    run(workspace, ["quartet", "quintet", "quintet-b"])
    before = scripted.call_count()
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# sharper questions next week\n")
    run(workspace, ["quartet", "quintet", "quintet-b"])
    new_calls = scripted.calls[before:]
    assert len(new_calls) == 3  # one per brief: each seats the skeptic
    assert all("You are the Skeptic" in c["messages"][-1]["content"] for c in new_calls)


def test_errors_are_stored_but_never_reused(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    scripted.script("p", ["garbage", "garbage", "garbage"])
    scripted.script("p", by_title)
    outcome = run(workspace, ["quartet"], concurrency=1)
    assert not outcome.panels[0].complete and outcome.panels[0].reported == 3
    unscored = [r for r in outcome.panels[0].results if r.status == "unscored"]
    assert len(unscored) == 1 and unscored[0].raw == "garbage"
    calls = scripted.call_count()
    again = run(workspace, ["quartet"])
    assert scripted.call_count() == calls + 1  # only the unscored persona is asked again
    assert again.panels[0].complete


def test_everything_is_stored_for_audit(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    scripted.script("p", by_title)
    outcome = run(workspace, ["quartet"])
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
    stored = stored_panels.latest_panel(Store(workspace / "outputs" / "panel.db").db, "quartet")
    assert stored.ship_pct == 75.0 and stored.seated == outcome.panels[0].seated


def test_bad_batches_write_nothing(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    db = workspace / "outputs" / "panel.db"
    with pytest.raises(PanelError, match="duplicate slug"):
        run(workspace, ["quartet", "quartet"])
    with pytest.raises(PersonaError, match="unknown persona 'critic'"):
        run(workspace, ["quartet"], only_personas=["critic"])
    assert scripted.call_count() == 0
    # run() opens the store before run_review rejects the batch; no rows were written.
    store = Store(db)
    assert store.db["verdicts"].count == 0 and store.db["runs"].count == 0
