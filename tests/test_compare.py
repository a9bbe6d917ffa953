"""`panel compare`: the data behind the comparison page, and the Markdown/HTML/JSON built from it.

Panels come from the real CLI with the scripted model, which answers by (tool, persona) so each
test knows exactly which persona shipped what.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from panel.models import scripted
from panel.publish.pricing import entry_amount, licence_kind, pricing_read

# As on the reference page: four personas each, three of four ship both tools (75%).
CALLS = {
    ("SmolLM3", "Builder"): "ship",
    ("SmolLM3", "Skeptic"): "ship",
    ("SmolLM3", "Futurist"): "ship",
    ("SmolLM3", "Business Analyst"): "skip",
    ("Mistral Small 3.1", "Builder"): "ship",
    ("Mistral Small 3.1", "Skeptic"): "skip",
    ("Mistral Small 3.1", "Futurist"): "ship",
    ("Mistral Small 3.1", "Creative Technologist"): "ship",
}


def reviewer(calls: dict[tuple[str, str], str], default: str = "ship"):
    """A scripted model that answers as the persona named in the prompt would, for the tool in it."""

    def answer(messages):
        prompt = messages[-1]["content"]
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


def test_comparison_data_matches_the_stored_panels(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    assert data["title"] == "SmolLM3 vs Mistral Small 3.1"
    assert data["question"] == "Which one should you ship with?"
    smol, mistral = data["tools"]
    assert (smol["name"], smol["category"], smol["tagline"]) == (
        "SmolLM3", "Open Models", "A fully open 3B-parameter language model built for local and edge use")
    for tool in (smol, mistral):
        assert tool["panel"]["ship_pct"] == 75.0
        assert (tool["panel"]["reported"], len(tool["panel"]["seated"])) == (4, 4)
        assert tool["panel"]["interval"] == [30.1, 95.4]
        assert tool["community"] == {"votes": 0, "ships": 0, "skips": 0, "pct": None, "interval": None}
        assert tool["pricing"]["entry"] == "Free" and tool["pricing"]["licence"] == "Apache-2.0"
        assert tool["description"].startswith(tool["name"])
    assert [v["persona"] for v in smol["panel"]["verdicts"]] == ["builder", "skeptic", "futurist", "business"]
    assert smol["panel"]["verdicts"][3]["headline"] == "Business Analyst says skip for SmolLM3"


def test_reviewer_split_grid_marks_who_split_and_who_did_not_sit(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    grid = {row["persona"]: row for row in data["split"]}
    assert list(grid) == ["builder", "skeptic", "futurist", "business", "creative"]
    assert grid["skeptic"]["outcomes"] == {"smollm3": "ship", "mistral-small-3-1": "skip"}
    assert grid["skeptic"]["split"] is True
    assert grid["builder"]["split"] is False
    assert grid["business"]["outcomes"]["mistral-small-3-1"] == "not seated"
    assert grid["creative"]["outcomes"]["smollm3"] == "not seated" and not grid["creative"]["split"]
    assert grid["business"]["title"] == "Business Analyst"
    assert data["split_personas"] == ["skeptic"]


def test_closing_verdict_is_written_from_the_numbers(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    level = compare_json(run_cli, "smollm3", "mistral-small-3-1")["verdict"]
    assert "level at 75% ship" in level
    assert "The Skeptic split between the tools" in level
    assert "Both start at Free" in level
    assert "has not voted on either" in level

    review(run_cli, "qwen3", calls={("Qwen3", "Skeptic"): "skip", ("Qwen3", "Builder"): "skip"})
    ahead = compare_json(run_cli, "smollm3", "qwen3")["verdict"]
    assert ahead.startswith("SmolLM3 has the stronger panel verdict: 75% ship (3 of 4 reviewers), against 60%")
    assert "overlap" in ahead and "the panel's pick is SmolLM3" in ahead


def test_fairness_says_when_tools_were_judged_differently(workspace, run_cli):
    review(run_cli, "smollm3", model="scripted/one")
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# stricter this week\n")
    review(run_cli, "mistral-small-3-1", model="scripted/two")
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    notes = " ".join(data["fairness"])
    assert "The Skeptic judged these tools with different prompt versions" in notes
    assert "SmolLM3 by scripted/one" in notes and "Mistral Small 3.1 by scripted/two" in notes
    assert "SmolLM3 alone seated the Business Analyst" in notes
    assert "Some personas' prompts changed" in data["judged_alike"]
    html = Path(data["files"]["html"]).read_text()
    assert "Read with care" in html and "different prompt versions" in html


def test_same_conditions_are_stated_plainly(workspace, run_cli):
    review(run_cli, "qwen3", "gemma-3")
    data = compare_json(run_cli, "qwen3", "gemma-3")
    assert data["fairness"] == []
    assert data["judged_alike"] == (
        "Every persona that sat on more than one of these panels used the same prompt version, and scripted/panel"
        " wrote every verdict.")


def test_partial_panel_shows_unscored_persona_and_says_so(workspace, run_cli):
    answer = reviewer(CALLS)
    # The futurist never answers in JSON, re-asks included: its verdict is unscored.
    scripted.script("panel", lambda m: "not json at all" if "You are the Futurist" in m[1]["content"] else answer(m))
    assert run_cli("review", "smollm3", "--model", "scripted/panel").exit_code == 1
    review(run_cli, "mistral-small-3-1")
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    smol = data["tools"][0]
    assert smol["panel"]["reported"] == 3 and smol["panel"]["complete"] is False
    assert smol["panel"]["ship_pct"] == pytest.approx(66.7)
    assert {r["persona"]: r["outcomes"]["smollm3"] for r in data["split"]}["futurist"] == "unscored"
    assert any("SmolLM3's panel is partial: 3 of 4 reported (no verdict from the Futurist)" in n
               for n in data["fairness"])


def test_community_votes_against_the_panel(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    for voter in ("a", "b", "c"):
        assert run_cli("vote", "mistral-small-3-1", "skip", "--voter", voter).exit_code == 0
    assert run_cli("vote", "smollm3", "ship", "--voter", "a").exit_code == 0
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    smol, mistral = data["community"]
    assert (smol["community_pct"], smol["votes"], smol["disagrees"]) == (100.0, 1, True)
    assert (mistral["community_pct"], mistral["votes"], mistral["gap"], mistral["disagrees"]) == (0.0, 3, -75.0, True)
    cooler = "The community is cooler on Mistral Small 3.1 than the panel: 0% ship over 3 votes"
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


def test_compare_writes_markdown_and_html_and_prints_the_path(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    res = run_cli("compare", "smollm3", "mistral-small-3-1")
    assert res.exit_code == 0, res.output
    md = workspace / "outputs" / "compare" / "smollm3-vs-mistral-small-3-1.md"
    assert res.stdout.strip() == str(md)
    text = md.read_text()
    for heading in ("# SmolLM3 vs Mistral Small 3.1", "## At a glance", "## Pricing read", "## Reviewer split",
                    "## Reviewer scorecard", "## Community vote comparison", "## Verdict", "## How they were judged"):
        assert heading in text
    assert "| **Panel ship** | **75%** (4/4 reported) | **75%** (4/4 reported) |" in text
    assert "| **Community** | — (no votes yet) | — (no votes yet) |" in text
    assert "| Skeptic | Ship | Skip | **split** |" in text
    assert "**Mistral Small 3.1 — Skip** (confidence 0.60)" in text
    assert "Skeptic says skip for Mistral Small 3.1" in text
    html = md.with_suffix(".html").read_text()
    assert "<h1>SmolLM3 vs Mistral Small 3.1</h1>" in html and "Business Analyst" in html
    rows = db_rows(workspace, "SELECT slugs, markdown_path, html_path FROM comparisons")
    assert rows == [('["smollm3", "mistral-small-3-1"]', str(md), str(md.with_suffix(".html")))]


def test_three_tools_and_a_custom_out_dir(workspace, run_cli, tmp_path):
    review(run_cli, "smollm3", "qwen3", "gemma-3")
    res = run_cli("compare", "smollm3", "qwen3", "gemma-3", "--out", tmp_path / "pages")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "pages" / "smollm3-vs-qwen3-vs-gemma-3.md")
    assert (tmp_path / "pages" / "smollm3-vs-qwen3-vs-gemma-3.html").exists()
    assert "SmolLM3 vs Qwen3 vs Gemma 3" in (tmp_path / "pages" / "smollm3-vs-qwen3-vs-gemma-3.md").read_text()


def test_tools_without_a_panel_are_reviewed_first(workspace, run_cli):
    review(run_cli, "smollm3")
    before = scripted.call_count()
    scripted.script("late", reviewer(CALLS))
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1", "--model", "scripted/late")
    assert scripted.call_count("late") == 4 and scripted.call_count() == before + 4
    assert data["tools"][1]["panel"]["models"] == ["scripted/late"]
    assert db_rows(workspace, "SELECT command FROM runs ORDER BY id DESC LIMIT 1") == [("compare",)]


def test_compare_from_an_empty_workspace_reviews_both_then_writes_the_page(workspace, run_cli):
    scripted.script("panel", reviewer(CALLS))
    res = run_cli("compare", "smollm3", "mistral-small-3-1", "--model", "scripted/panel")
    assert res.exit_code == 0, res.output
    assert "No stored panel for smollm3, mistral-small-3-1: reviewing first." in res.stderr
    assert scripted.call_count("panel") == 8
    assert "level at 75% ship" in Path(res.stdout.strip()).read_text()


def test_unknown_tool_in_an_empty_workspace_creates_no_database(workspace, run_cli):
    res = run_cli("compare", "smollm3", "no-such-tool")
    assert res.exit_code == 2 and "'no-such-tool' has no stored panel and no brief" in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists() and scripted.call_count() == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["smollm3"], "at least two tools"),
        (["smollm3", "smollm3"], "a tool is named twice: smollm3"),
        (["smollm3", "no-such-tool"], "'no-such-tool' has no stored panel and no brief"),
        (["smollm3", "Bad Slug"], "not a valid slug"),
    ],
)
def test_bad_compare_input_exits_2_and_writes_nothing(workspace, run_cli, args, message):
    review(run_cli, "smollm3")
    calls = scripted.call_count()
    res = run_cli("compare", *args)
    assert res.exit_code == 2
    assert message in res.stderr and res.stderr.startswith("Error: ")
    assert not (workspace / "outputs" / "compare").exists()
    assert scripted.call_count() == calls


def test_brief_edited_after_its_panel_is_flagged(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    brief = workspace / "tool_briefs" / "smollm3.yaml"
    brief.write_text(brief.read_text().replace("Hugging Face says", "The vendor says"))
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    assert data["tools"][0]["brief_changed"] is True and data["tools"][1]["brief_changed"] is False
    assert any("SmolLM3's brief has changed since its panel sat" in n for n in data["fairness"])


def test_json_is_one_document_with_the_files(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    res = run_cli("compare", "smollm3", "mistral-small-3-1", "--json")
    data = json.loads(res.stdout)  # the whole of stdout parses as one document
    assert data["files"]["markdown"].endswith("smollm3-vs-mistral-small-3-1.md")
    assert Path(data["files"]["html"]).exists()
    assert data["id"] == 1 and data["basis"]["smollm3"][1:] == [0, 0]


# --- the editor ----------------------------------------------------------------------------------------

SUMMARY = "Both tools land at 75% with the panel; the skeptic is the swing vote."


def test_editor_summary_is_stored_and_shown_on_top_of_the_data(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    scripted.script("editor", [SUMMARY])
    data = compare_json(run_cli, "smollm3", "mistral-small-3-1", "--editor", "scripted/editor")
    assert data["editor"] == {"model": "scripted/editor", "summary": SUMMARY, "written_at": data["generated_at"],
                              "current": True}
    assert data["verdict"] and len(data["split"]) == 5  # the data is all still there
    request = scripted.calls[-1]["messages"]
    assert '"title": "SmolLM3 vs Mistral Small 3.1"' in request[-1]["content"]
    md = Path(data["files"]["markdown"]).read_text()
    assert md.index("Editor's summary") < md.index("## At a glance")
    assert SUMMARY in md and SUMMARY in Path(data["files"]["html"]).read_text()
    stored = db_rows(workspace, "SELECT editor_model, editor_summary, editor_request FROM comparisons")
    assert stored[0][:2] == ("scripted/editor", SUMMARY) and "Comparison data" in stored[0][2]


def test_editor_summary_carries_over_and_is_marked_when_data_moves_on(workspace, run_cli):
    review(run_cli, "smollm3", "mistral-small-3-1")
    scripted.script("editor", [SUMMARY])
    compare_json(run_cli, "smollm3", "mistral-small-3-1", "--editor", "scripted/editor")
    again = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    assert again["editor"]["summary"] == SUMMARY and again["editor"]["current"] is True
    run_cli("vote", "smollm3", "skip", "--voter", "zoe")
    later = compare_json(run_cli, "smollm3", "mistral-small-3-1")
    assert later["editor"]["current"] is False
    assert "before the latest panels or votes" in Path(later["files"]["markdown"]).read_text()
    assert scripted.call_count("editor") == 1


def test_editor_failure_still_writes_the_pages_and_exits_1(workspace, run_cli):
    from panel.models.providers import get_litellm

    review(run_cli, "smollm3", "mistral-small-3-1")
    # The editor's call goes through the seam: a transient failure would be retried, so fail for good.
    refused = get_litellm().AuthenticationError("editor key revoked", llm_provider="scripted", model="editor")
    scripted.script("editor", [refused])
    res = run_cli("compare", "smollm3", "mistral-small-3-1", "--editor", "scripted/editor")
    assert res.exit_code == 1
    assert "--editor scripted/editor" in res.stderr and "written without it" in res.stderr
    md = workspace / "outputs" / "compare" / "smollm3-vs-mistral-small-3-1.md"
    assert res.stdout.strip() == str(md) and "Editor's summary" not in md.read_text()
    assert db_rows(workspace, "SELECT editor_summary FROM comparisons") == [(None,)]


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


def test_hostile_brief_is_escaped_in_html_and_markdown(workspace, run_cli):
    write_hostile(workspace)
    review(run_cli, "evil-tool", "smollm3")
    data = compare_json(run_cli, "evil-tool", "smollm3")
    html = Path(data["files"]["html"]).read_text()
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>Tool" not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;" in html
    assert "&lt;img src=x onerror=&#34;document.title=&#39;PWNED&#39;&#34;&gt;" in html
    assert "<h1>Evil &lt;b&gt;Tool&lt;/b&gt; vs SmolLM3</h1>" in html
    md = Path(data["files"]["markdown"]).read_text()
    assert "<script" not in md and "<img" not in md and "&lt;script&gt;" in md
    assert "a \\| pipe" in md
