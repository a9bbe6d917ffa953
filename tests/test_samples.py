"""Self-consistency (--samples K): K independent answers per seat, each its own cache entry; the
seat's verdict is their majority with a stability figure, and an even split is shown, not counted."""

import json
import sqlite3

from panel.models import scripted


def by_sample(plan: dict):
    """A scripted reviewer whose decision depends on the persona and the sample's seed."""

    def answer(messages, seed=None):
        persona = next(name for name in plan if f"You are the {name.title()}" in messages[-1]["content"])
        decision = plan[persona][seed or 0]
        return {"rationale": f"sample {seed or 0}", "verdict": decision, "confidence": 0.7,
                "headline": f"{persona} says {decision}", "strengths": [], "risks": [], "competitors": []}

    return answer


def test_samples_majority_stability_and_split(workspace, run_cli, make_brief, monkeypatch):
    make_brief("gadget", panel=["builder", "skeptic", "futurist"])
    plan = {"builder": ["ship", "ship", "skip", "ship"],    # 3 of 4: ship, stability 0.75
            "skeptic": ["skip", "skip", "skip", "skip"],    # 4 of 4: skip
            "futurist": ["ship", "skip", "ship", "skip"]}   # 2-2: split, not counted
    answer = by_sample(plan)
    monkeypatch.setattr(scripted, "default_verdict", lambda messages, seed=None: answer(messages, seed))
    res = run_cli("review", "gadget", "--model", "scripted/s", "--samples", "4", "--json")
    assert res.exit_code == 0, res.stderr  # a split seat answered: nothing failed
    data = json.loads(res.stdout)
    panel = data["panels"][0]
    seats = {v["persona"]: v for v in panel["verdicts"]}
    builder = seats["builder"]
    assert (builder["verdict"], builder["stability"], builder["samples"]) == ("ship", 0.75, 4)
    assert (seats["skeptic"]["verdict"], seats["skeptic"]["stability"]) == ("skip", 1.0)
    assert seats["futurist"]["verdict"] == "split" and seats["futurist"]["stability"] == 0.5
    assert (panel["reported"], panel["seated"], panel["ship_pct"]) == (2, 3, 50.0)  # split counts neither way
    assert data["calls_made"] == 12 and scripted.call_count() == 12

    # Each sample is its own stored, cached verdict; a second run asks nothing.
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
        keys = conn.execute("SELECT count(DISTINCT cache_key) FROM verdicts").fetchone()[0]
        members = conn.execute("SELECT persona, samples, stability FROM panel_members ORDER BY persona").fetchall()
    assert keys == 12
    assert members == [("builder", 4, 0.75), ("futurist", 4, 0.5), ("skeptic", 4, 1.0)]
    again = json.loads(run_cli("review", "gadget", "--model", "scripted/s", "--samples", "4", "--json").stdout)
    assert again["calls_made"] == 0 and again["calls_reused"] == 12 and scripted.call_count() == 12

    # A plain review reuses sample 0 (its cache key is a plain review's), and the pages show the samples.
    plain = json.loads(run_cli("review", "gadget", "--model", "scripted/s", "--json").stdout)
    assert plain["calls_made"] == 0
    report = (workspace / "outputs" / "gadget.md").read_text()
    assert "3/4 samples agree" in report and "| futurist | split |" in report
    # The published panel is the sampled one: the plain review after it is a draft.
    assert run_cli("publish", "gadget", "--draft", "2").exit_code == 0
    assert run_cli("site").exit_code == 0
    page = (workspace / "outputs" / "site" / "tools" / "gadget.html").read_text()
    assert "3 of 4 samples agree" in page and ">Split<" in page


def test_samples_are_bounded(workspace, run_cli, make_brief):
    make_brief("gadget", panel=["builder"])
    res = run_cli("review", "gadget", "--model", "scripted/s", "--samples", "99")
    assert res.exit_code == 2 and not (workspace / "outputs" / "panel.db").exists()
