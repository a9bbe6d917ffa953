"""Juries: a persona seat held by several models (`--jury m1,m2,m3`, or `models:` in a persona file),
each answering apart, the seat's verdict their strict majority; no majority is `split` (shown, not
counted); a juror that fails to answer does not vote (never a skip); a juror whose vendor makes the
tool sits it out. Driven through the real CLI with scripted models."""

from __future__ import annotations

import json
import sqlite3

import pytest

from panel.models import scripted
from panel.store.stored_panels import current_panel
from panel.store.store import Store

JURY = "scripted/a,scripted/b,scripted/c"


def verdict(decision: str) -> dict:
    return {"rationale": f"A scripted juror that says {decision}.", "verdict": decision, "confidence": 0.7,
            "headline": f"Juror says {decision}", "strengths": [], "risks": [], "competitors": []}


def always(decision: str):
    return lambda messages: verdict(decision)


def skeptic_skips(messages) -> dict:
    return verdict("skip" if "marketing is optimistic" in json.dumps(messages) else "ship")


def review(run_cli, *args):
    res = run_cli("review", "gadget", "--personas", "builder,skeptic", "--json", *args)
    return res, json.loads(res.stdout) if res.stdout.strip().startswith("{") else None


def seats(body: dict) -> dict:
    return {v["persona"]: v for v in body["panels"][0]["verdicts"]}


def test_the_strict_majority_decides_and_each_juror_answers_apart(workspace, run_cli, make_brief):
    make_brief("gadget")
    scripted.script("a", always("ship"))
    scripted.script("b", always("ship"))
    scripted.script("c", always("skip"))
    res, body = review(run_cli, "--jury", JURY)
    assert res.exit_code == 0, res.stderr
    builder = seats(body)["builder"]
    assert builder["verdict"] == "ship" and builder["stability"] == pytest.approx(0.667, abs=1e-3)
    assert [(j["model"], j["verdict"]) for j in builder["jurors"]] == [
        ("scripted/a", "ship"), ("scripted/b", "ship"), ("scripted/c", "skip")]
    assert body["panels"][0]["ship_pct"] == 100.0 and body["panels"][0]["reported"] == 2
    assert scripted.call_count() == 6  # two seats x three jurors, each its own call
    again, body = review(run_cli, "--jury", JURY)
    assert body["calls_made"] == 0 and body["calls_reused"] == 6  # each juror's answer is cached apart


def test_a_juror_that_cannot_answer_does_not_vote(workspace, run_cli, make_brief):
    """One juror always fails to parse: the other two decide when they agree, and the seat is split
    (never skip) when they do not."""
    make_brief("gadget")
    scripted.script("a", always("ship"))
    scripted.script("b", lambda messages: "I cannot answer in JSON, sorry about that.")
    scripted.script("c", skeptic_skips)  # the skeptic's lens says "the marketing is optimistic"
    res, body = review(run_cli, "--jury", JURY)
    panel = body["panels"][0]
    builder, skeptic = seats(body)["builder"], seats(body)["skeptic"]
    assert builder["verdict"] == "ship"  # a and c agree; b's failure is not a vote
    assert [j["verdict"] for j in builder["jurors"]] == ["ship", None, "ship"]
    assert skeptic["verdict"] == "split" and skeptic["status"] == "ok"  # a ship, c skip: no majority
    assert panel["reported"] == 1 and panel["ship_pct"] == 100.0  # the split seat is shown, not counted
    assert res.exit_code == 0, res.stderr  # every seat answered: the jury did, though one juror did not
    text = run_cli("review", "gadget", "--personas", "builder,skeptic", "--jury", JURY).stdout
    assert "skeptic's jury: scripted/a ship · scripted/b no answer · scripted/c skip" in text


def test_a_juror_of_the_tools_own_vendor_sits_it_out(workspace, run_cli, make_brief):
    make_brief("gadget", vendor="Mistral AI")
    scripted.script("a", always("ship"))
    scripted.script("b", always("skip"))
    res, body = review(run_cli, "--jury", "scripted/a,scripted/b,scripted/mistral-small")
    builder = seats(body)["builder"]
    assert [(j["model"], j["verdict"]) for j in builder["jurors"]] == [
        ("scripted/a", "ship"), ("scripted/b", "skip"), ("scripted/mistral-small", "recused")]
    assert builder["verdict"] == "split"
    assert scripted.call_count("mistral-small") == 0


def test_the_jury_is_kept_with_the_panel_and_the_standing_verdict(workspace, run_cli, make_brief):
    make_brief("gadget")
    scripted.script("a", always("skip"))
    scripted.script("b", always("ship"))
    scripted.script("c", always("ship"))
    assert run_cli("review", "gadget", "--personas", "builder", "--jury", JURY).exit_code == 0
    con = sqlite3.connect(workspace / "outputs" / "panel.db")
    stored = json.loads(con.execute("SELECT jurors FROM panel_members").fetchone()[0])
    con.close()
    assert [row[:2] for row in stored] == [["scripted/a", "skip"], ["scripted/b", "ship"], ["scripted/c", "ship"]]
    report = (workspace / "outputs" / "gadget.md").read_text(encoding="utf-8")
    assert "ship" in report and "scripted/a skip · scripted/b ship · scripted/c ship" in report
    with Store(workspace / "outputs" / "panel.db") as store:  # the standing panel, as reports read it
        builder = current_panel(store.db, "gadget").results[0]
    assert builder.decision == "ship" and [j.vote for j in builder.jurors] == ["skip", "ship", "ship"]


def test_a_persona_file_may_hold_its_seat_with_a_jury(workspace, run_cli, make_brief):
    make_brief("gadget")
    path = workspace / "personas" / "skeptic.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "models: [scripted/a, scripted/b, scripted/c]\n",
                    encoding="utf-8")
    scripted.script("a", always("skip"))
    scripted.script("b", always("skip"))
    res, body = review(run_cli, "--model", "scripted/solo")
    assert res.exit_code == 0, res.stderr
    assert "jurors" not in seats(body)["skeptic"] or seats(body)["skeptic"]["jurors"] is None  # --model: one model
    res, body = review(run_cli)
    assert seats(body)["skeptic"]["verdict"] == "skip" and len(seats(body)["skeptic"]["jurors"]) == 3
    assert seats(body)["builder"]["jurors"] is None  # only the skeptic's seat is a jury


@pytest.mark.parametrize(("args", "message"), [
    (["--jury", "scripted/a"], "a jury needs two or more different models"),
    (["--jury", "scripted/a,scripted/a"], "a jury needs two or more different models"),
    (["--jury", JURY, "--model", "scripted/x"], "--jury and --model both name the models"),
    (["--jury", JURY, "--samples", "3"], "--samples and a jury do not combine"),
])
def test_a_bad_jury_is_bad_input_and_nothing_is_written(workspace, run_cli, make_brief, args, message):
    make_brief("gadget")
    res = run_cli("review", "gadget", *args)
    assert res.exit_code == 2 and message in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists()


def test_a_persona_file_naming_model_and_models_is_refused(workspace, run_cli, make_brief):
    make_brief("gadget")
    path = workspace / "personas" / "skeptic.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "model: scripted/x\nmodels: [scripted/a, scripted/b]\n",
                    encoding="utf-8")
    res = run_cli("review", "gadget")
    assert res.exit_code == 2 and "not both" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_eval_jury_scores_the_jury_beside_each_of_its_models(workspace, run_cli, make_brief):
    """Hand-computed: juror a is always right, b always ships, c never answers in JSON. The jury's
    seats agree on the three good tools (ship) and split on the three duds (a skip, b ship; c does
    not vote), so the jury answers 3 of 6 cases, all right; a alone is right on 6 of 6 (κ 1), b
    alone on 3 of 6 (κ 0: it always ships), c answers none."""
    folder = workspace / "evals" / "six"
    for slug in ("g1", "g2", "g3", "d1", "d2", "d3"):
        make_brief(slug, folder=folder)
    (folder / "labels.csv").write_text("slug,expected\ng1,ship\ng2,ship\ng3,ship\nd1,skip\nd2,skip\nd3,skip\n")
    scripted.script("a", lambda messages: verdict("ship" if "name: G" in messages[-1]["content"] else "skip"))
    scripted.script("b", always("ship"))
    scripted.script("c", lambda messages: "No JSON from me.")
    res = run_cli("eval", "six", "--jury", JURY, "--personas", "builder,skeptic", "--json")
    assert res.exit_code == 0, res.stderr
    rows = {row["who"]: row for row in json.loads(res.stdout)["jury"]}
    assert list(rows) == ["jury", "scripted/a", "scripted/b", "scripted/c"]
    assert (rows["jury"]["answered"], rows["jury"]["accuracy"]) == (3, 1.0)
    a, b = rows["scripted/a"], rows["scripted/b"]
    assert (a["answered"], a["accuracy"], a["kappa"]) == (6, 1.0, 1.0)
    assert (b["accuracy"], b["kappa"], b["balanced_accuracy"]) == (0.5, 0.0, 0.5)
    assert rows["scripted/c"]["answered"] == 0 and rows["scripted/c"]["accuracy"] is None
    report = (workspace / "outputs" / "eval" / "six-1.md").read_text()
    assert "## The jury beside each of its models alone" in report and "| **jury** | 3/6 | 1.00 |" in report
    html = (workspace / "outputs" / "eval" / "six-1.html").read_text()
    assert "The jury beside each of its models alone</h2>" in html
