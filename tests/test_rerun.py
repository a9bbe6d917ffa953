"""`panel rerun`: edit a persona in a temp workspace, re-run only what changed, read the flips."""

import json
import re
import sqlite3

import pytest

from panel.models import scripted
from shown import shown_slug

EDIT = "\n  Since the edit: skips anything whose pricing hides a catch."


def who(messages) -> tuple[str, str]:
    """(persona title, brief slug) of a scripted call, read from the rendered prompt."""
    text = messages[-1]["content"]
    title = re.search(r"You are the (.+?) on the panel", text).group(1)
    slug = shown_slug(text)
    return title, slug


def verdict(decision: str, headline: str | None = None, confidence: float = 0.7) -> dict:
    return {"rationale": f"Reasoned {decision}.", "verdict": decision, "confidence": confidence,
            "headline": headline or f"{decision} it", "strengths": [], "risks": [], "competitors": []}


def everyone_ships(messages):
    title, slug = who(messages)
    return verdict("ship", f"{title} ships {slug}", 0.6)


def edited_skeptic_skips(messages):
    """The edited prompt makes the Skeptic skip; any other call would be a bug in --changed."""
    title, slug = who(messages)
    assert title == "Skeptic" and "Since the edit" in messages[-1]["content"], f"unexpected call: {title}/{slug}"
    return verdict("skip", f"Skeptic now skips {slug}", 0.9)


def edit_skeptic(workspace):
    path = workspace / "personas" / "skeptic.yaml"
    text = path.read_text()
    # Append a sentence to the `voice` block (the last key), so the YAML stays valid.
    path.write_text(text.rstrip("\n") + EDIT + "\n")


FOUR = ["builder", "skeptic", "futurist", "business"]


@pytest.fixture
def briefs(make_brief):
    """quartet seats four personas (no creative); quintet and quintet-b seat all five."""
    make_brief("quartet", panel=FOUR)
    make_brief("quintet")
    make_brief("quintet-b")


def db(workspace):
    return sqlite3.connect(workspace / "outputs" / "panel.db")


def calls_by(persona_title: str) -> list[dict]:
    return [c for c in scripted.calls if f"You are the {persona_title} on the panel" in c["messages"][-1]["content"]]


# --- --changed ---------------------------------------------------------------------------------------


def test_changed_calls_only_the_edited_persona_once_per_brief_and_reports_flips(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    res = run_cli("review", "quartet", "quintet", "quintet-b", "--model", "scripted/p")
    assert res.exit_code == 0, res.output
    assert scripted.call_count() == 4 + 5 + 5

    edit_skeptic(workspace)
    scripted.reset()
    scripted.script("p", edited_skeptic_skips)
    res = run_cli("rerun", "--changed", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)

    # One model call per brief, all of them the Skeptic, none for the unchanged personas.
    assert scripted.call_count() == 3
    assert len(calls_by("Skeptic")) == 3
    assert sorted(who(c["messages"])[1] for c in scripted.calls) == ["quartet", "quintet", "quintet-b"]
    assert report["calls_made"] == 3 and report["reused_from_store"] == 0
    assert report["verdicts_kept"] == 3 + 4 + 4

    # The flips the scripted model was told to produce: ship -> skip on every brief.
    assert report["counts"] == {"flips": 3, "holds": 0, "new": 0, "unscored": 0, "errors": 0}
    changes = {c["slug"]: c for c in report["changes"]}
    quintet = changes["quintet"]
    assert quintet["persona"] == "skeptic" and quintet["outcome"] == "flip"
    assert (quintet["old_verdict"], quintet["new_verdict"]) == ("ship", "skip")
    assert quintet["old_confidence"] == 0.6 and quintet["new_confidence"] == 0.9
    assert quintet["confidence_change"] == pytest.approx(0.3)
    assert quintet["old_headline"] == "Skeptic ships quintet" and quintet["new_headline"] == "Skeptic now skips quintet"
    assert quintet["old_version"] != quintet["new_version"] and quintet["new_model"] == "scripted/p"

    # Panel % before and after: quartet seats four (4/4 -> 3/4), the quintets five (5/5 -> 4/5).
    panels = {b["slug"]: b for b in report["briefs"]}
    assert panels["quartet"]["before"]["ship_pct"] == 100.0 and panels["quartet"]["after"]["ship_pct"] == 75.0
    assert panels["quintet"]["before"]["ship_pct"] == 100.0 and panels["quintet"]["after"]["ship_pct"] == 80.0
    assert panels["quintet"]["after"]["reported"] == 5 and panels["quintet"]["after"]["seated"] == 5


def test_the_new_panel_is_complete_and_points_at_reused_verdicts(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quartet", "--model", "scripted/p")
    conn = db(workspace)
    old = dict(conn.execute("SELECT persona, verdict_id FROM panel_members WHERE panel_id = 1").fetchall())

    edit_skeptic(workspace)
    scripted.script("p", edited_skeptic_skips)
    res = run_cli("rerun", "--changed", "--json")
    run_id = json.loads(res.stdout)["run_id"]
    conn = db(workspace)
    panel_id, seated, reported, ships, command = conn.execute(
        "SELECT p.id, p.seated, p.reported, p.ships, r.command FROM panels p JOIN runs r ON r.id = p.run_id"
        " WHERE p.run_id = ?", [run_id]).fetchone()
    assert (seated, reported, ships, command) == (4, 4, 3, "rerun --changed")
    members = {p: (v, c) for p, v, c in conn.execute(
        "SELECT persona, verdict_id, cached FROM panel_members WHERE panel_id = ?", [panel_id])}
    for persona in ("builder", "futurist", "business"):
        assert members[persona] == (old[persona], 1)  # carried over, marked reused
    assert members["skeptic"][1] == 0 and members["skeptic"][0] != old["skeptic"]
    # The report on disk now shows the new panel.
    assert "75%" in (workspace / "outputs" / "quartet.md").read_text()


def test_changed_twice_is_nothing_changed_and_writes_nothing(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quartet", "--model", "scripted/p")
    res = run_cli("rerun", "--changed")
    assert res.exit_code == 0 and "nothing changed" in res.stdout

    edit_skeptic(workspace)
    scripted.script("p", edited_skeptic_skips)
    assert run_cli("rerun", "--changed").exit_code == 0
    runs_before = db(workspace).execute("SELECT count(*) FROM runs").fetchone()[0]
    calls_before = scripted.call_count()
    res = run_cli("rerun", "--changed", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["message"] == "nothing changed"
    assert scripted.call_count() == calls_before
    assert db(workspace).execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before


def test_changed_keeps_each_pairs_own_model(workspace, run_cli, briefs):
    # Two briefs reviewed with different models: each re-run goes back to its own model, which
    # also exercises the per-pair model inside one batch.
    scripted.script("a", everyone_ships)
    scripted.script("b", everyone_ships)
    run_cli("review", "quintet", "--model", "scripted/a")
    run_cli("review", "quintet-b", "--model", "scripted/b")
    edit_skeptic(workspace)
    scripted.reset()
    scripted.script("a", edited_skeptic_skips)
    scripted.script("b", edited_skeptic_skips)
    report = json.loads(run_cli("rerun", "--changed", "--json").stdout)
    assert scripted.call_count("a") == 1 and scripted.call_count("b") == 1
    models = {c["slug"]: c["new_model"] for c in report["changes"]}
    assert models == {"quintet": "scripted/a", "quintet-b": "scripted/b"}
    assert "scripted/a, scripted/b" in db(workspace).execute("SELECT model FROM runs ORDER BY id DESC").fetchone()[0]


def test_model_option_overrides_the_old_model(workspace, run_cli, briefs):
    scripted.script("a", everyone_ships)
    run_cli("review", "quintet", "--model", "scripted/a")
    edit_skeptic(workspace)
    scripted.script("c", edited_skeptic_skips)
    report = json.loads(run_cli("rerun", "--changed", "--model", "scripted/c", "--json").stdout)
    assert scripted.call_count("c") == 1 and report["changes"][0]["new_model"] == "scripted/c"


def test_rerun_judges_the_stored_brief_not_the_edited_file(workspace, run_cli, make_brief):
    brief = make_brief("quintet", description="Quintet is an open-source tool for the terminal.")
    scripted.script("p", everyone_ships)
    run_cli("review", "quintet", "--model", "scripted/p")
    brief.write_text(brief.read_text().replace("Quintet is an", "Quintet (now rewritten) is an"))
    edit_skeptic(workspace)
    scripted.script("p", edited_skeptic_skips)
    assert run_cli("rerun", "--changed").exit_code == 0
    prompt = scripted.calls[-1]["messages"][-1]["content"]
    assert "now rewritten" not in prompt and "Quintet is an open-source" in prompt
    hashes = {r[0] for r in db(workspace).execute("SELECT brief_hash FROM panels")}
    assert len(hashes) == 1


def test_changed_limited_to_a_persona_and_a_brief(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quintet", "quintet-b", "--model", "scripted/p")
    edit_skeptic(workspace)
    builder = workspace / "personas" / "builder.yaml"
    builder.write_text(builder.read_text().rstrip("\n") + "\n  Edited too.\n")
    scripted.script("p", edited_skeptic_skips)
    report = json.loads(run_cli("rerun", "--changed", "--persona", "skeptic", "--brief", "quintet-b", "--json").stdout)
    assert [(c["slug"], c["persona"]) for c in report["changes"]] == [("quintet-b", "skeptic")]
    assert scripted.call_count() == 5 + 5 + 1


# --- --persona ---------------------------------------------------------------------------------------


def test_persona_rerun_reuses_the_store_unless_fresh(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quintet", "--model", "scripted/p")
    report = json.loads(run_cli("rerun", "--persona", "builder", "--brief", "quintet", "--json").stdout)
    assert scripted.call_count() == 5  # nothing changed for builder: served from the store
    assert report["counts"]["holds"] == 1 and report["changes"][0]["from_store"] is True
    assert report["calls_made"] == 0 and report["reused_from_store"] == 1

    report = json.loads(run_cli("rerun", "--persona", "builder", "--brief", "quintet", "--fresh", "--json").stdout)
    assert scripted.call_count() == 6 and len(calls_by("Builder")) == 2
    change = report["changes"][0]
    assert change["from_store"] is False and change["old_verdict_id"] != change["new_verdict_id"]


def test_persona_without_brief_covers_every_brief_that_seats_it(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quartet", "quintet", "--model", "scripted/p")  # quartet does not seat creative
    report = json.loads(run_cli("rerun", "--persona", "creative", "--fresh", "--json").stdout)
    assert [c["slug"] for c in report["changes"]] == ["quintet"]


def test_persona_that_never_judged_a_brief_gives_a_new_verdict(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quintet", "--personas", "builder,skeptic", "--model", "scripted/p")
    report = json.loads(run_cli("rerun", "--persona", "creative", "--brief", "quintet", "--json").stdout)
    assert report["counts"] == {"flips": 0, "holds": 0, "new": 1, "unscored": 0, "errors": 0}
    brief = report["briefs"][0]
    assert brief["before"]["reported"] == 2 and brief["after"]["reported"] == 3 and brief["after"]["seated"] == 3
    assert report["changes"][0]["new_model"] == "scripted/p"  # the model the rest of the panel used


def test_a_failed_rerun_is_counted_apart_and_exits_1(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quartet", "--model", "scripted/p")
    edit_skeptic(workspace)
    scripted.reset()
    scripted.script("p", ["not json", "still not", "nope"])  # the first answer and both re-asks
    res = run_cli("rerun", "--changed", "--json")
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert report["counts"]["unscored"] == 1 and report["counts"]["flips"] == 0
    change = report["changes"][0]
    assert change["outcome"] == "unscored" and change["new_verdict"] is None and change["old_verdict"] == "ship"
    assert report["briefs"][0]["after"]["reported"] == 3


def test_flip_report_in_the_terminal(workspace, run_cli, briefs):
    scripted.script("p", everyone_ships)
    run_cli("review", "quintet", "--model", "scripted/p")
    edit_skeptic(workspace)
    scripted.script("p", edited_skeptic_skips)
    res = run_cli("rerun", "--changed")
    assert res.exit_code == 0
    out = " ".join(res.stdout.split())
    assert "ship → skip" in out and "flip" in out
    assert "100%" in out and "80%" in out
    assert "1 flip(s), 0 hold(s), 0 new verdict(s)" in out and "1 model call(s)" in out


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["rerun"], "--changed, or --persona"),
        (["rerun", "--persona", "nobody"], "unknown persona 'nobody'"),
        # quintet has a brief but was never reviewed in this test
        (["rerun", "--changed", "--brief", "quintet"], "no stored panel for 'quintet'"),
        (["rerun", "--persona", "creative", "--brief", "quartet"], "does not sit on the panel of 'quartet'"),
    ],
)
def test_bad_input_exits_2_with_one_line(workspace, run_cli, briefs, args, message):
    scripted.script("p", everyone_ships)
    run_cli("review", "quartet", "--model", "scripted/p")
    runs = db(workspace).execute("SELECT count(*) FROM runs").fetchone()[0]
    res = run_cli(*args)
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert db(workspace).execute("SELECT count(*) FROM runs").fetchone()[0] == runs


def test_nothing_stored_exits_2_without_creating_a_database(workspace, run_cli):
    res = run_cli("rerun", "--changed")
    assert res.exit_code == 2 and "run `panel review` first" in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists()
