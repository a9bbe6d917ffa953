"""A failed, partial or unscored run never displaces a good verdict (panel.store.queries: the
current verdict of a persona on a tool is its newest ok one). Every reader is checked after each:
the Markdown report, the site, the comparison, agreement, `audit history` and `rerun`."""

import json
import re
import time

import pytest

from panel.models import scripted
from panel.models.providers import get_litellm

PANEL = ["builder", "skeptic", "futurist", "business"]


def by_title(messages):
    """The good model: the skeptic skips, everyone else ships (alpha and beta stand at 75%)."""
    decision = "skip" if "You are the Skeptic" in messages[-1]["content"] else "ship"
    return {"rationale": f"Considered; {decision}.", "verdict": decision, "confidence": 0.8,
            "headline": f"A {decision} from the good model", "strengths": [], "risks": [], "competitors": []}


@pytest.fixture
def reviewed(workspace, run_cli, make_brief):
    """alpha and beta reviewed by scripted/good; returns a reader of alpha's report."""
    make_brief("alpha", panel=PANEL)
    make_brief("beta", panel=PANEL)
    scripted.script("good", by_title)
    res = run_cli("review", "alpha", "beta", "--model", "scripted/good")
    assert res.exit_code == 0, res.stderr
    assert run_cli("publish", "alpha", "beta").exit_code == 0
    report = workspace / "outputs" / "alpha.md"

    class Reviewed:
        def snapshot(self):
            return report.read_bytes(), report.stat().st_mtime_ns

    return Reviewed()


def fail_run(run_cli, kind: str, *extra: str):
    """A run of alpha that produces no usable verdict: provider errors, or replies that never parse."""
    if kind == "error":
        lt = get_litellm()
        scripted.script("bad", lambda messages: lt.BadRequestError("model overloaded with nonsense",
                                                                   llm_provider="scripted", model="bad"))
    else:
        scripted.script("bad", lambda messages: "I refuse to answer in JSON.")
    res = run_cli("review", "alpha", "--model", "scripted/bad", *extra)
    assert res.exit_code == 1, res.stderr
    return res


def assert_alpha_stands(workspace, run_cli, reviewed, before):
    # The report is not rewritten: same bytes, same modification time.
    assert reviewed.snapshot() == before
    text = (workspace / "outputs" / "alpha.md").read_text()
    assert "**75%**" in text and "4/4 reported" in text and "scripted/bad" not in text
    # The site shows the published panel; the failed run is a draft nobody can publish (it has no
    # verdict), kept in the audit trail, never on a public page.
    assert run_cli("site").exit_code == 0
    page = (workspace / "outputs" / "site" / "tools" / "alpha.html").read_text()
    assert "4/4 reported" in page and "75%" in page and "scripted/bad" not in page
    index = (workspace / "outputs" / "site" / "index.html").read_text()
    assert "0/4" not in index
    refused = run_cli("publish", "alpha")
    assert refused.exit_code == 2 and "has no verdict to publish" in refused.stderr
    # Agreement still counts alpha's verdicts.
    agreement = json.loads(run_cli("audit", "agreement", "--json").stdout)
    assert agreement["briefs"] == 2 and agreement["fleiss"]["slugs"] == ["alpha", "beta"]
    # The comparison is between the published panels; no model that wrote nothing is named.
    data = json.loads(run_cli("compare", "alpha", "beta", "--json").stdout)
    alpha = data["tools"][0]["panel"]
    assert data["published"] and (alpha["reported"], alpha["ship_pct"], alpha["models"]) == (4, 75.0, ["scripted/good"])
    assert "0 of 0" not in data["verdict"] and "scripted/bad" not in json.dumps(data)
    # A comparison of drafts (--model) reads that model's standing verdicts: the good ones.
    drafts = json.loads(run_cli("compare", "alpha", "beta", "--model", "scripted/good", "--json").stdout)
    assert not drafts["published"] and drafts["tools"][0]["panel"]["ship_pct"] == 75.0
    # audit history marks the ok verdicts as current, not the failed attempts.
    history = json.loads(run_cli("audit", "history", "alpha", "--json").stdout)["verdicts"]
    assert all(r["current"] == (r["status"] == "ok") for r in history)
    assert sum(r["current"] for r in history) == 4 and any(r["status"] != "ok" for r in history)


@pytest.mark.parametrize("kind", ["error", "unscored"])
def test_a_failed_run_displaces_nothing(workspace, run_cli, reviewed, kind):
    before = reviewed.snapshot()
    fail_run(run_cli, kind)
    assert_alpha_stands(workspace, run_cli, reviewed, before)


def test_a_failed_partial_run_displaces_nothing(workspace, run_cli, reviewed):
    before = reviewed.snapshot()
    fail_run(run_cli, "error", "--personas", "builder")
    assert_alpha_stands(workspace, run_cli, reviewed, before)


def test_a_successful_partial_run_updates_only_its_seat(workspace, run_cli, reviewed):
    before = reviewed.snapshot()
    scripted.script("other", lambda messages: {**by_title(messages), "verdict": "skip", "headline": "Other says skip"})
    assert run_cli("review", "alpha", "--personas", "builder", "--model", "scripted/other").exit_code == 0
    assert reviewed.snapshot() != before  # the standing panel changed, so the report is rewritten
    text = (workspace / "outputs" / "alpha.md").read_text()
    assert "4/4 reported" in text and "**50%**" in text and "Other says skip" in text
    data = json.loads(run_cli("compare", "alpha", "beta", "--json").stdout)
    assert data["tools"][0]["panel"]["models"] == ["scripted/good"]  # the published panel: the run is a draft
    # Its draft holds the one seat the run asked (what it printed: 0% · 1/1), not a mix of models.
    refused = run_cli("publish", "alpha")
    assert refused.exit_code == 2 and "from ship to skip" in refused.stderr  # 75% → 0%: the call moves
    assert run_cli("publish", "alpha", "--note", "only the builder, asked again").exit_code == 0
    data = json.loads(run_cli("compare", "alpha", "beta", "--json").stdout)
    assert data["tools"][0]["panel"]["models"] == ["scripted/other"] and data["tools"][0]["panel"]["reported"] == 1


def reviewed_line(workspace) -> str:
    """The index's "Reviewed" cell for alpha (to the minute)."""
    index = (workspace / "outputs" / "site" / "index.html").read_text()
    return re.search(r'<tr id="alpha">.*?<td class="wide-only small">([^<]*)</td>', index, re.S).group(1)


def test_reviewed_is_when_the_verdicts_were_made(workspace, run_cli, reviewed):
    assert run_cli("site").exit_code == 0
    first = reviewed_line(workspace)
    before = reviewed.snapshot()
    time.sleep(1.1)  # so that a wrong "reviewed at" (the reusing run's) would show a later minute... or second
    assert run_cli("review", "alpha", "--model", "scripted/good").exit_code == 0  # every verdict reused
    assert reviewed.snapshot() == before  # the report is not rewritten
    res = run_cli("publish", "alpha")
    assert res.exit_code == 0 and "nothing changed" in res.stdout  # the same verdicts: nothing recorded
    assert run_cli("site").exit_code == 0
    assert reviewed_line(workspace) == first
    made = json.loads(run_cli("audit", "history", "alpha", "--json").stdout)["verdicts"]
    assert {r["run_id"] for r in made} == {1}  # every verdict shown was made by the first run


def test_rerun_compares_with_the_current_verdict(workspace, run_cli, reviewed):
    fail_run(run_cli, "error")
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# sharper\n")
    scripted.script("good", by_title)
    res = run_cli("rerun", "--changed", "--json")
    assert res.exit_code == 0, res.stderr
    changes = {(c["slug"], c["persona"]): c for c in json.loads(res.stdout)["changes"]}
    assert changes[("alpha", "skeptic")]["old_verdict"] == "skip" and changes[("alpha", "skeptic")]["outcome"] == "hold"
    assert changes[("alpha", "skeptic")]["new_model"] == "scripted/good"  # the model behind the standing verdict
