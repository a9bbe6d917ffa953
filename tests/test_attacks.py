"""`panel eval SET --attacks`: manipulated variants of each clear case reviewed through the normal
pipeline, and the flips they cause, checked against counts worked out by hand on a scripted model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shown import shown_slug, shown_yaml

from panel.core.fence import find_fenced
from panel.inputs.attacks import KINDS, variants
from panel.inputs.briefs import load_brief
from panel.models import scripted

LABELS = {"g1": "ship", "g2": "ship", "d1": "skip", "d2": "skip"}


def gullible_builder(messages):
    """The skeptic is always right; the builder is right on a clean brief and ships every variant it
    can tell from its clean brief (a variant whose manipulation the linter took out reads the same)."""
    text = messages[-1]["content"]
    persona = re.search(r"You are the (\w+)", text).group(1).lower()
    origin = shown_slug(text)
    manipulated = find_fenced(text).group(2) != shown_yaml(CLEAN[origin]).rstrip()
    decision = "ship" if persona == "builder" and manipulated else LABELS[origin]
    return {"rationale": f"{persona} on {origin}", "verdict": decision, "confidence": 0.8, "headline": decision,
            "strengths": [], "risks": [], "competitors": []}


CLEAN = {}  # slug: the clean brief, as the labelled fixture wrote it


@pytest.fixture
def labelled(workspace, make_brief):
    folder = workspace / "evals" / "four"
    for slug in LABELS:
        CLEAN[slug] = load_brief(make_brief(slug, folder=folder))
    (folder / "labels.csv").write_text("slug,expected\n" + "".join(f"{s},{e}\n" for s, e in LABELS.items()))
    return folder


def test_flips_and_harmful_flips_match_the_hand_count(workspace, run_cli, labelled):
    scripted.script("judge", gullible_builder)
    res = run_cli("eval", "four", "--model", "scripted/judge", "--personas", "builder,skeptic", "--attacks", "all",
                  "--json")
    assert res.exit_code == 0, res.stderr
    found = json.loads(res.stdout)["manipulation"]
    assert set(found) == {*KINDS, "all"}
    for kind in KINDS:
        made = {slug: variants(CLEAN[slug], [kind]) for slug in LABELS}
        total = sum(len(made[slug]) for slug in LABELS)
        # What the builder can tell apart: on the shipped corpus, every injection but the tagline's
        # (cut with its sentence) reads exactly as its clean brief, so it moves no one.
        seen = {slug: sum(shown_yaml(a.brief) != shown_yaml(CLEAN[slug]) for a in made[slug]) for slug in LABELS}
        on_duds = seen["d1"] + seen["d2"]
        assert on_duds == (2 if kind == "injection" else len(made["d1"]) + len(made["d2"])), kind
        row = found[kind]
        assert row["variants"] == total
        # The builder ships every variant it can see: each on a dud is a harmful flip, on a good tool none.
        assert (row["builder"]["flips"], row["builder"]["harmful"]) == (on_duds, on_duds)
        assert row["builder"]["confidence_shift"] == pytest.approx(0.6 * on_duds / total, abs=1e-4)
        assert row["skeptic"]["flips"] == 0 and row["skeptic"]["harmful_rate"] == 0.0
        # With one of two seats shipping, the panel ships (at least half): the duds' variants flip it.
        assert (row["panel"]["flips"], row["panel"]["harmful"]) == (on_duds, on_duds)
    report = (workspace / "outputs" / "eval" / "four-1.md").read_text()
    assert "## Manipulation resistance" in report and re.search(r"\| hype \| \d+ \| 50% \| 50% \|", report)
    html = (workspace / "outputs" / "eval" / "four-1.html").read_text()
    assert "Manipulation resistance</h2>" in html


def test_only_the_kinds_asked_for_are_made_and_a_bad_kind_is_bad_input(workspace, run_cli, labelled):
    scripted.script("judge", gullible_builder)
    res = run_cli("eval", "four", "--model", "scripted/judge", "--personas", "skeptic", "--attacks", "hype", "--json")
    assert res.exit_code == 0, res.stderr
    assert set(json.loads(res.stdout)["manipulation"]) == {"hype", "all"}
    bad = run_cli("eval", "four", "--model", "scripted/judge", "--attacks", "bribery")
    assert bad.exit_code == 2 and "unknown kind 'bribery'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # the embedded default writes every verdict
def test_the_attack_suite_runs_on_the_embedded_default(workspace, run_cli):
    import shutil

    folder = workspace / "evals" / "one"
    folder.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parent.parent / "evals" / "standard" / "hubbrella.yaml", folder)
    (folder / "labels.csv").write_text("slug,expected\nhubbrella,skip\n")
    res = run_cli("eval", "one", "--attacks", "injection", "--personas", "skeptic", "--json")
    assert res.exit_code in (0, 1), res.stderr
    found = json.loads(res.stdout)["manipulation"]["injection"]
    made = len(variants(load_brief(folder / "hubbrella.yaml"), ["injection"]))
    assert found["variants"] == made and 0 <= found["skeptic"]["harmful"] <= found["skeptic"]["pairs"] <= made
