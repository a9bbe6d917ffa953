"""`panel compare`: the data behind the comparison page, and the Markdown/HTML/JSON built from it.

Panels come from the real CLI with the scripted model, which answers by (tool, persona) so each
test knows exactly which persona shipped what. The tools are briefs the tests write
(`write_catalogue`), so every seat count and ship % below follows from the panels set there.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from panel.models import scripted
from panel.publish.pricing import entry_amount, licence_kind, pricing_read

ALPHA_TAGLINE = "A small open model for local and edge use"


def write_catalogue(make_brief) -> None:
    """The tools these tests (and test_site, test_browser) review.

    alpha-lm and beta-lm seat four personas each: alpha-lm without the Creative Technologist,
    beta-lm without the Business Analyst; both open models, free, Apache-2.0. gamma and delta
    seat all five and are free; epsilon seats all five and costs $20 per month."""
    open_model = {"category": "Open Models", "licence": "Apache-2.0",
                  "pricing": {"model": "open weights", "entry": "Free"}}
    make_brief("alpha-lm", name="Alpha LM", tagline=ALPHA_TAGLINE, panel=["builder", "skeptic", "futurist", "business"],
               description="Alpha LM is a small open-weights language model. Example Labs says it beats other small"
                           " models on common benchmarks.", **open_model)
    make_brief("beta-lm", name="Beta LM", tagline="A mid-sized open model with a long context",
               panel=["builder", "skeptic", "futurist", "creative"], **open_model)
    make_brief("gamma", name="Gamma")
    make_brief("delta", name="Delta")
    make_brief("epsilon", name="Epsilon Pro", pricing={"model": "subscription", "entry": "$20 per month"},
               licence="Proprietary")


@pytest.fixture
def tools(make_brief) -> None:
    write_catalogue(make_brief)


# As on the reference page: four personas each, three of four ship both tools (75%). Tools not
# named here (gamma, delta, epsilon) ship from every seat.
CALLS = {
    ("Alpha LM", "Builder"): "ship",
    ("Alpha LM", "Skeptic"): "ship",
    ("Alpha LM", "Futurist"): "ship",
    ("Alpha LM", "Business Analyst"): "skip",
    ("Beta LM", "Builder"): "ship",
    ("Beta LM", "Skeptic"): "skip",
    ("Beta LM", "Futurist"): "ship",
    ("Beta LM", "Creative Technologist"): "ship",
}


def reviewer(calls: dict[tuple[str, str], str], default: str = "ship"):
    """A scripted model that answers as the persona named in the prompt would, for the tool in it."""

    def answer(messages):
        prompt = messages[-1]["content"]
        if "The first tool:" in prompt:  # a head-to-head judgment: this reviewer has no preference
            return {"rationale": "Both are fine for me.", "pick": "tie", "confidence": 0.5, "headline": "Even"}
        tool = re.search(r"^name: (.+)$", prompt, re.M).group(1).strip().strip("'\"")
        title = re.search(r"You are the (.+?) on the panel", prompt).group(1)
        decision = calls.get((tool, title), default)
        return {
            "rationale": f"As the {title}, I weighed {tool} on its own terms and found it {decision}-worthy.",
            "verdict": decision,
            "confidence": 0.8 if decision == "ship" else 0.6,
            "headline": f"{title} says {decision} for {tool}",
            "strengths": [f"{tool} strength"],
            "risks": [f"{tool} risk"],
            "competitors": ["Rival One"],
        }

    return answer


def review(run_cli, *slugs: str, model: str = "scripted/panel", calls=CALLS):
    scripted.script(model.split("/", 1)[1], reviewer(calls))
    res = run_cli("review", *slugs, "--model", model)
    assert res.exit_code == 0, res.output
    return res


def compare_json(run_cli, *args: str) -> dict:
    res = run_cli("compare", *args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def db_rows(workspace: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
        return conn.execute(sql).fetchall()


# --- the data ------------------------------------------------------------------------------------------


def test_comparison_data_matches_the_stored_panels(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    assert data["title"] == "Alpha LM vs Beta LM"
    assert data["question"] == "Which one should you ship with?"
    alpha, beta = data["tools"]
    assert (alpha["name"], alpha["category"], alpha["tagline"]) == (
        "Alpha LM", "Open Models", ALPHA_TAGLINE)
    for tool in (alpha, beta):
        assert tool["panel"]["ship_pct"] == 75.0
        assert (tool["panel"]["reported"], len(tool["panel"]["seated"])) == (4, 4)
        assert tool["panel"]["interval"] == [30.1, 95.4]
        assert tool["community"] == {"votes": 0, "ships": 0, "skips": 0, "pct": None, "interval": None}
        assert tool["pricing"]["entry"] == "Free" and tool["pricing"]["licence"] == "Apache-2.0"
        assert tool["description"].startswith(tool["name"])
    assert [v["persona"] for v in alpha["panel"]["verdicts"]] == ["builder", "skeptic", "futurist", "business"]
    assert alpha["panel"]["verdicts"][3]["headline"] == "Business Analyst says skip for Alpha LM"
    # Without --model the pair is judged by the model that wrote the panels, not the embedded default:
    # the three personas seated on both, in both orders.
    assert db_rows(workspace, "SELECT model, count(*) FROM calls WHERE kind = 'judgment' GROUP BY model") == [
        ("scripted/panel", 6)]


def test_reviewer_split_grid_marks_who_split_and_who_did_not_sit(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    grid = {row["persona"]: row for row in data["split"]}
    assert list(grid) == ["builder", "skeptic", "futurist", "business", "creative"]
    assert grid["skeptic"]["outcomes"] == {"alpha-lm": "ship", "beta-lm": "skip"}
    assert grid["skeptic"]["split"] is True
    assert grid["builder"]["split"] is False
    assert grid["business"]["outcomes"]["beta-lm"] == "not seated"
    assert grid["creative"]["outcomes"]["alpha-lm"] == "not seated" and not grid["creative"]["split"]
    assert grid["business"]["title"] == "Business Analyst"
    assert data["split_personas"] == ["skeptic"]


def test_closing_verdict_is_written_from_the_numbers(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    level = compare_json(run_cli, "alpha-lm", "beta-lm")["verdict"]
    assert "level at 75% ship" in level
    assert "The Skeptic split between the tools" in level
    assert "Both are free, so the entry price does not separate them" in level
    assert "has not voted on either" in level

    review(run_cli, "gamma", calls={("Gamma", "Skeptic"): "skip", ("Gamma", "Builder"): "skip"})
    data = compare_json(run_cli, "alpha-lm", "gamma")
    ahead = data["verdict"]
    # The answer comes first, in brief (the page opens with it in full: the closing paragraph repeated
    # it word for word); the panels reviewed one at a time follow, with the gap read as a lean only
    # because their intervals overlap.
    assert data["answer"].startswith("It is a tie") and data["answer"] not in ahead
    assert ahead.startswith("Head to head: tie. Reviewed one at a time,")
    assert ("Reviewed one at a time, Alpha LM has the stronger panel verdict: 75% ship (3 of 4 reviewers),"
            " against 60%") in ahead
    assert "overlap" in ahead and "the panel's pick is Alpha LM" not in ahead


def test_fairness_says_when_tools_were_judged_differently(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", model="scripted/one")
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# stricter this week\n")
    review(run_cli, "beta-lm", model="scripted/two")
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    notes = " ".join(data["fairness"])
    assert "The Skeptic judged these tools with different prompt versions" in notes
    assert "Alpha LM by scripted/one" in notes and "Beta LM by scripted/two" in notes
    assert "Alpha LM alone seated the Business Analyst" in notes
    assert "Some personas' prompts changed" in data["judged_alike"]
    html = Path(data["files"]["html"]).read_text()
    assert "Read with care" in html and "different prompt versions" in html


def test_same_conditions_are_stated_plainly(workspace, run_cli, tools):
    review(run_cli, "gamma", "delta")
    data = compare_json(run_cli, "gamma", "delta")
    assert data["fairness"] == []
    assert data["judged_alike"] == (
        "Every persona that sat on more than one of these panels used the same prompt version, and scripted/panel"
        " wrote every verdict.")


def test_partial_panel_shows_unscored_persona_and_says_so(workspace, run_cli, tools):
    answer = reviewer(CALLS)
    # The futurist never answers in JSON, re-asks included: its verdict is unscored.
    scripted.script("panel", lambda m: "not json at all" if "You are the Futurist" in m[1]["content"] else answer(m))
    assert run_cli("review", "alpha-lm", "--model", "scripted/panel").exit_code == 1
    review(run_cli, "beta-lm")
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    alpha = data["tools"][0]
    assert alpha["panel"]["reported"] == 3 and alpha["panel"]["complete"] is False
    assert alpha["panel"]["ship_pct"] == pytest.approx(66.7)
    assert {r["persona"]: r["outcomes"]["alpha-lm"] for r in data["split"]}["futurist"] == "unscored"
    assert any("Alpha LM's panel is partial: 3 of 4 reported (no verdict from the Futurist)" in n
               for n in data["fairness"])


def test_community_votes_against_the_panel(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    for voter in ("a", "b", "c"):
        assert run_cli("vote", "beta-lm", "skip", "--voter", voter).exit_code == 0
    assert run_cli("vote", "alpha-lm", "ship", "--voter", "a").exit_code == 0
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    alpha, beta = data["community"]
    assert (alpha["community_pct"], alpha["votes"], alpha["disagrees"]) == (100.0, 1, True)
    assert (beta["community_pct"], beta["votes"], beta["gap"], beta["disagrees"]) == (0.0, 3, -75.0, True)
    cooler = "The community is cooler on Beta LM than the panel: 0% ship over 3 votes"
    assert cooler in data["community_notes"][1]
    assert "still noisy" in data["community_notes"][1]
    assert data["tools"][1]["community"]["pct"] == 0.0


def test_pricing_read_explains_what_shipping_costs():
    assert entry_amount("Free") == 0 and entry_amount("$20 per month") == 20 and entry_amount("Contact us") is None
    assert licence_kind("Apache-2.0")[0] == "permissive open source"
    assert licence_kind("AGPL-3.0")[0] == "copyleft open source"
    assert licence_kind("Proprietary")[0] == "proprietary"
    assert licence_kind("Gemma Terms of Use")[0] == "custom terms"
    claude = pricing_read({"model": "subscription or usage-based", "entry": "$20 per month"}, "Proprietary")
    assert "recurring fee per seat" in claude.meaning and "grows with use" in claude.meaning
    assert "vendor's terms" in claude.meaning and claude.entry_amount == 20
    # Prose in the notes ("no usage fees") must not read as usage-based pricing.
    smol = pricing_read({"model": "open weights", "entry": "Free", "notes": "No usage fees."}, "Apache-2.0")
    assert "grows with use" not in smol.meaning and "hardware or hosting" in smol.meaning
    copilot = pricing_read({"model": "freemium subscription", "entry": "Free"}, "Proprietary")
    assert copilot.meaning.startswith("A free tier to start")


# --- the command ---------------------------------------------------------------------------------------


def test_compare_writes_markdown_and_html_and_prints_the_path(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    res = run_cli("compare", "alpha-lm", "beta-lm")
    assert res.exit_code == 0, res.output
    md = workspace / "outputs" / "compare" / "alpha-lm-vs-beta-lm.md"
    assert res.stdout.strip() == str(md)
    text = md.read_text()
    for heading in ("# Alpha LM vs Beta LM", "## At a glance", "## Pricing read", "## Reviewer split",
                    "## Reviewer scorecard", "## Community vote comparison", "## Verdict", "## How they were judged"):
        assert heading in text
    assert "| **Panel ship** | **75%** (4/4 reported) | **75%** (4/4 reported) |" in text
    assert "| **Community** | — (no votes yet) | — (no votes yet) |" in text
    assert "| Skeptic | Ship | Skip | **split** |" in text
    assert "**Beta LM — Skip** (confidence 0.60)" in text
    assert "Skeptic says skip for Beta LM" in text
    html = md.with_suffix(".html").read_text()
    assert "<h1>Alpha LM vs Beta LM</h1>" in html and "Business Analyst" in html
    rows = db_rows(workspace, "SELECT slugs, markdown_path, html_path FROM comparisons")
    assert rows == [('["alpha-lm", "beta-lm"]', str(md), str(md.with_suffix(".html")))]


def test_three_tools_and_a_custom_out_dir(workspace, run_cli, tools, tmp_path):
    review(run_cli, "alpha-lm", "gamma", "delta")
    res = run_cli("compare", "alpha-lm", "gamma", "delta", "--out", tmp_path / "pages")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "pages" / "alpha-lm-vs-delta-vs-gamma.md")
    assert (tmp_path / "pages" / "alpha-lm-vs-delta-vs-gamma.html").exists()
    assert "Alpha LM vs Delta vs Gamma" in (tmp_path / "pages" / "alpha-lm-vs-delta-vs-gamma.md").read_text()
    # Gamma and Delta both seat the Creative Technologist, whom Alpha LM does not seat.
    page = (tmp_path / "pages" / "alpha-lm-vs-delta-vs-gamma.md").read_text()
    assert "only Delta and Gamma seated the Creative Technologist" in page and "alone seated" not in page


def test_tools_without_a_panel_are_reviewed_first(workspace, run_cli, tools):
    """With --model, a tool "has a panel" when that model's verdicts stand: the others are reviewed."""
    review(run_cli, "alpha-lm", model="scripted/late")
    review(run_cli, "beta-lm", model="scripted/other")  # by another model: does not count for --model late
    before = scripted.call_count()
    data = compare_json(run_cli, "alpha-lm", "beta-lm", "--model", "scripted/late")
    # beta-lm's four seats, by scripted/late, then the head-to-head: 3 shared personas x 2 orders.
    assert scripted.call_count() == before + 4 + 6
    assert [t["panel"]["models"] for t in data["tools"]] == [["scripted/late"], ["scripted/late"]]
    assert db_rows(workspace, "SELECT command FROM runs ORDER BY id DESC LIMIT 1") == [("compare",)]


def test_a_repeated_compare_counts_its_reused_judgments_in_the_run_record(workspace, run_cli, tools):
    """audit runs read "6 call(s) made, 0 reused" for a compare that reused every judgment: only
    panel seats were counted as reused, and a head-to-head's judgments sit in no panel."""
    review(run_cli, "alpha-lm", "beta-lm")
    compare_json(run_cli, "alpha-lm", "beta-lm")
    before = scripted.call_count()
    compare_json(run_cli, "alpha-lm", "beta-lm")
    assert scripted.call_count() == before  # every judgment came from the store
    made, reused = db_rows(workspace, "SELECT calls_made, calls_reused FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert (made, reused) == (0, 3 * 2)  # 3 shared personas x 2 orders
    newest = max(json.loads(run_cli("audit", "runs", "--json").stdout)["runs"], key=lambda run: run["id"])
    assert (newest["calls_made"], newest["calls_reused"]) == (0, 6)


def test_compare_from_an_empty_workspace_reviews_both_then_writes_the_page(workspace, run_cli, tools):
    scripted.script("panel", reviewer(CALLS))
    res = run_cli("compare", "alpha-lm", "beta-lm", "--model", "scripted/panel")
    assert res.exit_code == 0, res.output
    assert "No stored panel for alpha-lm, beta-lm: reviewing first." in res.stderr
    assert scripted.call_count("panel") == 8 + 6  # two panels of four, then 3 shared personas x 2 orders
    assert "level at 75% ship" in Path(res.stdout.strip()).read_text()


def test_unknown_tool_in_an_empty_workspace_creates_no_database(workspace, run_cli, tools):
    res = run_cli("compare", "alpha-lm", "no-such-tool")
    assert res.exit_code == 2 and "'no-such-tool' has no stored panel and no brief" in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists() and scripted.call_count() == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["alpha-lm"], "at least two tools"),
        (["alpha-lm", "alpha-lm"], "a tool is named twice: alpha-lm"),
        (["alpha-lm", "no-such-tool"], "'no-such-tool' has no stored panel and no brief"),
        (["alpha-lm", "Bad Slug"], "not a valid slug"),
        (["alpha-lm", "beta-lm", "--recuse", "--conflict-model", "scripted/x"], "choose one"),
    ],
)
def test_bad_compare_input_exits_2_and_writes_nothing(workspace, run_cli, tools, args, message):
    review(run_cli, "alpha-lm")
    calls = scripted.call_count()
    res = run_cli("compare", *args)
    assert res.exit_code == 2
    assert message in res.stderr and res.stderr.startswith("Error: ")
    assert not (workspace / "outputs" / "compare").exists()
    assert scripted.call_count() == calls


def test_brief_edited_after_its_panel_is_flagged(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    brief = workspace / "tool_briefs" / "alpha-lm.yaml"
    brief.write_text(brief.read_text().replace("Example Labs says", "The vendor says"))
    data = compare_json(run_cli, "alpha-lm", "beta-lm")
    assert data["tools"][0]["brief_changed"] is True and data["tools"][1]["brief_changed"] is False
    assert any("Alpha LM's brief has changed since its panel sat" in n for n in data["fairness"])


def test_json_is_one_document_with_the_files(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    res = run_cli("compare", "alpha-lm", "beta-lm", "--json")
    data = json.loads(res.stdout)  # the whole of stdout parses as one document
    assert data["files"]["markdown"].endswith("alpha-lm-vs-beta-lm.md")
    assert Path(data["files"]["html"]).exists()
    assert data["id"] == 1 and data["basis"]["alpha-lm"][1:] == [0, 0]


# --- the editor ----------------------------------------------------------------------------------------

SUMMARY = ("Both tools land at 75% with the panel, three of four reviewers shipping each, so the panel alone does"
           " not separate them. The skeptic is the swing vote: it ships Alpha LM and skips Beta LM, while the"
           " business analyst and the creative technologist each sat on one panel only. Both are free and"
           " Apache-2.0, and the community has not voted yet, so read this as a level pair for now.")


def test_editor_summary_is_stored_and_shown_on_top_of_the_data(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    scripted.script("editor", [SUMMARY])
    data = compare_json(run_cli, "alpha-lm", "beta-lm", "--editor", "scripted/editor")
    assert data["editor"] == {"model": "scripted/editor", "summary": SUMMARY, "written_at": data["generated_at"],
                              "current": True}
    assert data["verdict"] and len(data["split"]) == 5  # the data is all still there
    request = scripted.calls[-1]["messages"]
    assert '"title": "Alpha LM vs Beta LM"' in request[-1]["content"]
    md = Path(data["files"]["markdown"]).read_text()
    assert md.index("Model-written summary") < md.index("## At a glance")
    assert "written by the model `scripted/editor`, not a human editor" in md
    assert SUMMARY in md and SUMMARY in Path(data["files"]["html"]).read_text()
    stored = db_rows(workspace, "SELECT editor_model, editor_summary, editor_request FROM comparisons")
    assert stored[0][:2] == ("scripted/editor", SUMMARY) and "Comparison data" in stored[0][2]


def test_editor_summary_carries_over_and_is_marked_when_data_moves_on(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    scripted.script("editor", [SUMMARY])
    compare_json(run_cli, "alpha-lm", "beta-lm", "--editor", "scripted/editor")
    again = compare_json(run_cli, "alpha-lm", "beta-lm")
    assert again["editor"]["summary"] == SUMMARY and again["editor"]["current"] is True
    run_cli("vote", "alpha-lm", "skip", "--voter", "zoe")
    later = compare_json(run_cli, "alpha-lm", "beta-lm")
    assert later["editor"]["current"] is False
    assert "before the latest panels or votes" in Path(later["files"]["markdown"]).read_text()
    assert scripted.call_count("editor") == 1


def test_editor_failure_still_writes_the_pages_and_exits_1(workspace, run_cli, tools):
    from panel.models.providers import get_litellm

    review(run_cli, "alpha-lm", "beta-lm")
    # The editor's call goes through the seam: a transient failure would be retried, so fail for good.
    refused = get_litellm().AuthenticationError("editor key revoked", llm_provider="scripted", model="editor")
    scripted.script("editor", [refused])
    res = run_cli("compare", "alpha-lm", "beta-lm", "--editor", "scripted/editor")
    assert res.exit_code == 1
    assert "--editor scripted/editor" in res.stderr and "written without it" in res.stderr
    md = workspace / "outputs" / "compare" / "alpha-lm-vs-beta-lm.md"
    assert res.stdout.strip() == str(md) and "Model-written summary" not in md.read_text()
    assert db_rows(workspace, "SELECT editor_summary FROM comparisons") == [(None,)]


@pytest.mark.parametrize("reply, reason", [
    ('{"verdict": "ship", "rationale": "no schema was sent"}', "it is JSON or code, not prose"),
    ("Ship it.", "it is 2 words long; 80-150 were asked for"),
    ("## Verdict\n" + SUMMARY, "it has headings or lists"),
    (SUMMARY + " Gamma would beat both.", "it names Gamma, which this comparison is not about"),
])
def test_an_unfit_editor_summary_is_asked_again_then_dropped(workspace, run_cli, tools, reply, reason):
    """`--editor` put {"verdict": "ship", ...} on top of the page as "Editor's summary", exit 0."""
    review(run_cli, "alpha-lm", "beta-lm", "gamma")
    scripted.script("editor", [reply, reply])
    res = run_cli("compare", "alpha-lm", "beta-lm", "--editor", "scripted/editor")
    assert res.exit_code == 1
    assert f"--editor scripted/editor: the summary was dropped: {reason}" in res.stderr
    assert scripted.call_count("editor") == 2  # asked again once, with the reason
    assert reason.split(";")[0] in scripted.calls[-1]["messages"][-1]["content"]
    md = (workspace / "outputs" / "compare" / "alpha-lm-vs-beta-lm.md").read_text()
    assert "Model-written summary" not in md and "no schema was sent" not in md


def test_an_editor_summary_fixed_on_the_second_ask_is_kept(workspace, run_cli, tools):
    review(run_cli, "alpha-lm", "beta-lm")
    scripted.script("editor", ['{"summary": "json"}', SUMMARY])
    data = compare_json(run_cli, "alpha-lm", "beta-lm", "--editor", "scripted/editor")
    assert data["editor"]["summary"] == SUMMARY


# --- untrusted text ------------------------------------------------------------------------------------

HOSTILE = """slug: evil-tool
name: Evil <b>Tool</b>
tagline: Free upgrade <img src=x onerror="document.title='PWNED'">
category: Developer Tools
vendor: Example Vendor
description: >-
  A perfectly normal tool. <script>document.title='PWNED';document.body.insertAdjacentHTML('beforeend',
  '<p id=pwned>owned</p>')</script> Also <img src=x onerror="document.title='PWNED'"> and a | pipe.
pricing:
  model: open source
  entry: Free
licence: MIT
links:
  homepage: https://example.com/?a=1&b=<2>
"""


def write_hostile(workspace: Path) -> None:
    (workspace / "tool_briefs" / "evil-tool.yaml").write_text(HOSTILE)


def test_hostile_brief_is_escaped_in_html_and_markdown(workspace, run_cli, tools):
    write_hostile(workspace)
    review(run_cli, "evil-tool", "alpha-lm")
    data = compare_json(run_cli, "evil-tool", "alpha-lm")
    html = Path(data["files"]["html"]).read_text()
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>Tool" not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;" in html
    assert "&lt;img src=x onerror=&#34;document.title=&#39;PWNED&#39;&#34;&gt;" in html
    assert "<h1>Alpha LM vs Evil &lt;b&gt;Tool&lt;/b&gt;</h1>" in html
    md = Path(data["files"]["markdown"]).read_text()
    assert "<script" not in md and "<img" not in md and "&lt;script&gt;" in md
    assert "a \\| pipe" in md
