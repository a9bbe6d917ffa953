import math

from panel.core.panel import aggregate, wilson_interval
from panel.core.verdict import PersonaResult, Verdict


def result(persona, decision=None, status="ok"):
    verdict = None
    if decision:
        verdict = Verdict(rationale="r", verdict=decision, confidence=0.5, headline="h",
                          strengths=[], risks=[], competitors=[])
    return PersonaResult(persona=persona, persona_version="v1", model="m", status=status, verdict=verdict)


def test_wilson_matches_hand_computation():
    # 3 of 4, z = 1.96: p = .75, z^2 = 3.8416, denom = 1 + 3.8416/4 = 1.9604
    # centre = (.75 + 3.8416/8) / 1.9604 = 1.2302/1.9604 = 0.62752
    # half = 1.96 * sqrt(.1875/4 + 3.8416/64) / 1.9604 = 1.96 * sqrt(0.106775) / 1.9604 = 0.32670
    lo, hi = wilson_interval(3, 4)
    assert math.isclose(lo, 0.30064, abs_tol=1e-4)
    assert math.isclose(hi, 0.95441, abs_tol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(5, 5)
    assert hi == 1.0 and 0.5 < lo < 0.6


def test_panel_counts_only_reported_verdicts():
    panel = aggregate(
        "x", "hash", ["builder", "skeptic", "futurist", "business", "creative"],
        [result("skeptic", "skip"), result("builder", "ship"), result("futurist", "ship"),
         result("business", status="unscored"), result("creative", status="error")],
    )
    assert panel.reported == 3 and panel.ships == 2
    assert panel.ship_pct == 66.7
    assert not panel.complete
    assert panel.split() == {"ship": ["builder", "futurist"], "skip": ["skeptic"],
                             "unscored": ["business"], "error": ["creative"]}
    assert [r.persona for r in panel.ordered()] == ["builder", "skeptic", "futurist", "business", "creative"]
    data = panel.to_json()
    assert data["reported"] == 3 and data["seated"] == 5
    assert data["verdicts"][3]["status"] == "unscored" and data["verdicts"][3]["verdict"] is None


def test_reference_panel_three_of_four_is_75():
    panel = aggregate("smollm3", "h", ["builder", "skeptic", "futurist", "business"],
                      [result("builder", "ship"), result("skeptic", "ship"),
                       result("futurist", "ship"), result("business", "skip")])
    assert panel.ship_pct == 75.0 and panel.complete
    assert panel.interval == (30.1, 95.4)


def test_no_reported_verdicts_has_no_percentage():
    panel = aggregate("x", "h", ["builder"], [result("builder", status="error")])
    assert panel.ship_pct is None and panel.reported == 0
