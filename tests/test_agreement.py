"""Agreement statistics, checked against values worked out by hand."""

import json
import re
import sqlite3

import pytest

from panel.models import scripted
from panel.analysis.agreement import fleiss_kappa, pairwise_agreement, ship_rates
from shown import shown_slug

# The fixture panel, one row per brief (each a brief the `agreement` fixture writes, seating all
# five personas; the reviews seat only these); None = the persona's reply never parsed
# (unscored); a missing key = the persona was not seated. B = builder, S = skeptic, F = futurist.
FIXTURE = {
    "alpha": {"Builder": "ship", "Skeptic": "ship", "Futurist": "ship"},
    "bravo": {"Builder": "ship", "Skeptic": "skip", "Futurist": "ship"},
    "charlie": {"Builder": "skip", "Skeptic": "skip", "Futurist": "ship"},
    "delta": {"Builder": "skip", "Skeptic": "skip", "Futurist": "skip"},
    "echo": {"Builder": "ship", "Skeptic": None, "Futurist": "skip"},
    "foxtrot": {"Builder": "skip", "Skeptic": "skip"},
}


def from_fixture(messages):
    # The persona and the brief are read from the first prompt: a re-ask's last message is the
    # validation error, and must get the same (unparseable) answer for the verdict to end unscored.
    text = messages[1]["content"]
    title = re.search(r"You are the (.+?) on the panel", text).group(1)
    slug = shown_slug(text)
    decision = FIXTURE[slug][title]
    if decision is None:
        return "I would rather not say."  # unscored after the re-asks
    return {"rationale": "By hand.", "verdict": decision, "confidence": 0.8, "headline": decision,
            "strengths": [], "risks": [], "competitors": []}


@pytest.fixture
def agreement(workspace, run_cli, make_brief):
    for slug in FIXTURE:
        make_brief(slug)
    # An older panel on alpha where everyone skipped: only the latest verdicts may count.
    scripted.script("old", lambda m: {"rationale": "Old.", "verdict": "skip", "confidence": 0.5, "headline": "old",
                                      "strengths": [], "risks": [], "competitors": []})
    run_cli("review", "alpha", "--personas", "builder,skeptic,futurist", "--model", "scripted/old")
    scripted.script("p", from_fixture)
    res = run_cli("review", "alpha", "bravo", "charlie", "delta", "echo",
                  "--personas", "builder,skeptic,futurist", "--model", "scripted/p")
    assert res.exit_code == 1  # echo's skeptic is unscored
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
        assert conn.execute("SELECT status FROM verdicts WHERE slug = 'echo' AND persona = 'skeptic'").fetchall() == [
            ("unscored",)]
    assert run_cli("review", "foxtrot", "--personas", "builder,skeptic", "--model", "scripted/p").exit_code == 0
    res = run_cli("audit", "agreement", "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_pairwise_agreement_by_hand(agreement):
    pairs = {(p["a"], p["b"]): p for p in agreement["pairs"]}
    # builder-skeptic, briefs where both have an ok verdict: alpha (ship/ship, agree),
    # bravo (ship/skip, disagree), charlie (skip/skip, agree), delta (skip/skip, agree),
    # foxtrot (skip/skip, agree); echo is out (skeptic unscored). 4 of 5 = 0.8.
    assert (pairs["builder", "skeptic"]["briefs"], pairs["builder", "skeptic"]["agree"]) == (5, 4)
    assert pairs["builder", "skeptic"]["rate"] == 0.8
    # builder-futurist: alpha agree, bravo agree, charlie (skip/ship) disagree, delta agree,
    # echo (ship/skip) disagree; foxtrot has no futurist. 3 of 5 = 0.6.
    assert (pairs["builder", "futurist"]["briefs"], pairs["builder", "futurist"]["agree"]) == (5, 3)
    assert pairs["builder", "futurist"]["rate"] == 0.6
    # futurist-skeptic: alpha agree, bravo (ship/skip) disagree, charlie (ship/skip) disagree,
    # delta agree. 2 of 4 = 0.5.
    assert (pairs["futurist", "skeptic"]["briefs"], pairs["futurist", "skeptic"]["agree"]) == (4, 2)
    assert pairs["futurist", "skeptic"]["rate"] == 0.5
    assert len(pairs) == 3


def test_fleiss_kappa_by_hand(agreement):
    fleiss = agreement["fleiss"]
    # Complete panels: alpha, bravo, charlie, delta (3 raters each) and foxtrot (2 raters);
    # echo is incomplete. The most common size is 3, so kappa uses those four briefs
    # and leaves foxtrot out.
    assert fleiss["raters"] == 3 and fleiss["slugs"] == ["alpha", "bravo", "charlie", "delta"]
    assert fleiss["left_out"] == ["foxtrot"]
    # Counts [ship, skip]: alpha [3,0], bravo [2,1], charlie [1,2], delta [0,3]; n = 3, n(n-1) = 6.
    # P_i = (sum of squares - n) / 6: alpha (9-3)/6 = 1, bravo (4+1-3)/6 = 1/3,
    #       charlie (1+4-3)/6 = 1/3, delta (9-3)/6 = 1.  P-bar = (1 + 1/3 + 1/3 + 1) / 4 = 2/3.
    # p_ship = (3+2+1+0)/12 = 1/2, p_skip = 1/2, so P-bar-e = 1/4 + 1/4 = 1/2.
    # kappa = (2/3 - 1/2) / (1 - 1/2) = (1/6) / (1/2) = 1/3.
    assert fleiss["observed"] == pytest.approx(2 / 3, abs=1e-4)
    assert fleiss["expected"] == pytest.approx(0.5, abs=1e-4)
    assert fleiss["kappa"] == pytest.approx(1 / 3, abs=1e-4)


def test_ship_rates_by_hand(agreement):
    rates = {s["persona"]: s for s in agreement["ship_rates"]}
    # builder ships alpha, bravo, echo of 6 ok verdicts: 3/6 = 0.5.
    assert (rates["builder"]["verdicts"], rates["builder"]["ships"], rates["builder"]["rate"]) == (6, 3, 0.5)
    # skeptic ships only alpha, of 5 ok verdicts (echo unscored): 1/5 = 0.2.
    assert (rates["skeptic"]["verdicts"], rates["skeptic"]["ships"], rates["skeptic"]["rate"]) == (5, 1, 0.2)
    # futurist ships alpha, bravo, charlie of 5: 3/5 = 0.6.
    assert (rates["futurist"]["verdicts"], rates["futurist"]["ships"], rates["futurist"]["rate"]) == (5, 3, 0.6)
    assert agreement["briefs"] == 6


def test_agreement_in_the_terminal(agreement, run_cli):
    res = run_cli("audit", "agreement")
    assert res.exit_code == 0
    out = " ".join(res.stdout.split())
    assert "Fleiss' kappa: 0.333 over 4 brief(s) with complete panels of 3" in out
    assert "builder skeptic 5 4 80%" in out and "foxtrot" in out


def test_agreement_with_nothing_stored_yet(workspace, run_cli, make_brief):
    make_brief("alpha")
    scripted.script("p", ["nope"] * 3)
    run_cli("review", "alpha", "--personas", "builder", "--model", "scripted/p")
    data = json.loads(run_cli("audit", "agreement", "--json").stdout)
    assert data["briefs"] == 0 and data["pairs"] == [] and data["fleiss"]["kappa"] is None
    assert "No ok verdicts" in run_cli("audit", "agreement").stdout


# --- the arithmetic alone ------------------------------------------------------------------------------


def test_fleiss_kappa_matches_the_textbook_worked_example():
    # The widely reproduced worked example of Fleiss' kappa (10 subjects, 14 raters,
    # 5 categories; column totals 20, 28, 39, 21, 32): P-bar = 0.378, P-bar-e = 0.213,
    # kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    kappa, observed, expected = fleiss_kappa(counts)
    assert observed == pytest.approx(0.378, abs=5e-4)
    assert expected == pytest.approx(0.213, abs=5e-4)
    assert kappa == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_undefined_cases():
    assert fleiss_kappa([]) == (None, None, None)
    assert fleiss_kappa([[1, 0], [0, 1]])[0] is None  # one rater per subject
    assert fleiss_kappa([[3, 0], [2, 1]][:1] + [[2, 2]])[0] is None  # unequal raters
    kappa, observed, expected = fleiss_kappa([[3, 0], [3, 0]])  # everyone always ships
    assert kappa is None and observed == 1.0 and expected == 1.0
    # Perfect agreement across both categories: kappa = 1.
    assert fleiss_kappa([[3, 0], [0, 3]])[0] == pytest.approx(1.0)


def test_pairwise_and_ship_rate_on_a_dict():
    ratings = {"t1": {"a": "ship", "b": "ship"}, "t2": {"a": "ship", "b": "skip"}, "t3": {"a": "skip"}}
    [pair] = pairwise_agreement(ratings)
    assert (pair.a, pair.b, pair.briefs, pair.agree, pair.rate) == ("a", "b", 2, 1, 0.5)
    rates = {s.persona: (s.verdicts, s.ships) for s in ship_rates(ratings)}
    assert rates == {"a": (3, 2), "b": (2, 1)}
