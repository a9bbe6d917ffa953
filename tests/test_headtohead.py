"""Head-to-head (panel compare): each persona seated on both panels picks between two tools in both
orders; position, brand and vendor bias are measured and shown, and the answer is computed."""

import json
import re
from pathlib import Path

import pytest

from panel.models import scripted

SHARED = ["builder", "skeptic", "futurist"]


def judge(pick_for):
    """A scripted model answering both reviews and judgments. `pick_for(messages)` returns "first",
    "second" or "tie" for a judgment; reviews ship."""

    def answer(messages):
        text = messages[-1]["content"]
        if "The first tool:" in text:
            pick = pick_for(messages)
            return {"rationale": f"picked {pick}", "pick": pick, "confidence": 0.7, "headline": f"I pick {pick}"}
        return {"rationale": "fine", "verdict": "ship", "confidence": 0.8, "headline": "Ships",
                "strengths": [], "risks": [], "competitors": []}

    return answer


def shown(messages) -> tuple[str, str]:
    """The names of the tools shown first and second."""
    names = re.findall(r"^name: (.+)$", messages[-1]["content"], re.M)
    return names[0], names[1]


@pytest.fixture
def pair(workspace, make_brief):
    make_brief("alpha", name="Alpha", vendor="Alpha Corp", panel=SHARED + ["business"])
    make_brief("beta", name="Beta", vendor="Beta Labs", panel=SHARED + ["creative"])


def compare(run_cli, *extra, model="scripted/j"):
    res = run_cli("compare", "alpha", "beta", "--model", model, "--json", *extra)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_a_judge_that_picks_by_position_is_inconsistent_and_the_answer_is_a_tie(workspace, run_cli, pair):
    scripted.script("j", judge(lambda messages: "first"))
    data = compare(run_cli)
    h = data["head_to_head"][0]
    assert h["pick"] == "tie" and h["votes"] == {"alpha": 0, "beta": 0, "tie": 3}
    assert h["consistency"] == 0.0 and sorted(h["position_followers"]) == sorted(SHARED)
    assert data["answer"].startswith("It is a tie")
    assert "picked by position, so their calls count as ties" in data["answer"]
    page = (workspace / "outputs" / "compare" / "alpha-vs-beta.html").read_text()
    assert "picked by position" in page and "Position consistency 0%" in page
    # Six judgments per persona pair (two orders) were asked once: the store answers a second compare.
    calls = scripted.call_count()
    compare(run_cli)
    assert scripted.call_count() == calls
    audit = json.loads(run_cli("audit", "consistency", "--json").stdout)["personas"]
    assert {p["persona"]: (p["pairs"], p["consistent"], p["by_position"]) for p in audit} == {
        name: (1, 0, 1) for name in SHARED}


def test_a_pick_from_thin_evidence_is_no_clear_pick_with_the_reason(workspace, run_cli, pair):
    """The page said "The panel's pick is ..." from one consistent pick among personas who mostly
    picked by position. Below the bar the answer is "no clear pick", and says why."""

    def skeptic_likes_alpha(messages):
        if "Skeptic" not in " ".join(m["content"] for m in messages):
            return "first"  # the builder and the futurist follow the position
        return "first" if shown(messages)[0] == "Alpha" else "second"

    scripted.script("j", judge(skeptic_likes_alpha))
    data = compare(run_cli)
    h = data["head_to_head"][0]
    assert h["pick"] == "alpha" and h["votes"] == {"alpha": 1, "beta": 0, "tie": 2}
    assert h["unclear"] == ("fewer than half of them (1 of 3) kept their call when the order was swapped"
                            " and it leads by a single persona's call")
    assert data["answer"].startswith("There is no clear pick: Alpha leads with 1 of the 3 personas")
    assert "The panel's pick is" not in data["answer"]
    page = (workspace / "outputs" / "compare" / "alpha-vs-beta.html").read_text()
    assert "Pick: <strong>no clear pick</strong>" in page and "The panel&#39;s pick is" not in page
    markdown = (workspace / "outputs" / "compare" / "alpha-vs-beta.md").read_text()
    assert "pick **no clear pick**" in markdown


def test_a_brand_loving_judge_keeps_its_pick_and_the_brand_effect_is_reported(workspace, run_cli, pair):
    def loves_beta(messages):
        first, second = shown(messages)
        if "Beta" in (first, second):
            return "first" if first == "Beta" else "second"
        return "first"  # names masked: it cannot find its brand and falls back on the position

    scripted.script("j", judge(loves_beta))
    data = compare(run_cli, "--blind")
    h = data["head_to_head"][0]
    assert h["pick"] == "beta" and h["votes"]["beta"] == 3  # unchanged: consistent, it always finds Beta
    assert h["blind_pick"] == "tie" and h["brand_effect"] == 1.0
    assert {c["persona"] for c in h["brand_changes"]} == set(SHARED)
    assert "With names, vendors and links masked, the pick would be tie" in data["answer"]
    assert "changed their calls when the names were visible" in data["answer"]
    assert run_cli("publish", "alpha", "beta").exit_code == 0
    assert run_cli("compare", "alpha", "beta", "--blind").exit_code == 0  # over the published panels: on the site
    site = run_cli("site")
    assert site.exit_code == 0
    index = (workspace / "outputs" / "site" / "index.html").read_text()
    assert "brand effect 100%" in index and "position consistency 100%" in index


def test_masked_briefs_name_neither_tool_nor_vendor(workspace, run_cli, pair):
    scripted.script("j", judge(lambda messages: "tie"))
    compare(run_cli, "--blind")
    blind = [c["messages"] for c in scripted.calls if "Tool A" in c["messages"][-1]["content"]]
    assert blind
    for messages in blind:
        text = messages[-1]["content"]
        assert "Alpha" not in text and "Beta" not in text and "https://" not in text


def test_a_judge_from_a_tools_vendor_is_flagged_or_recused(workspace, run_cli, make_brief):
    make_brief("le-chat", name="Le Chat", vendor="Mistral AI", panel=SHARED)
    make_brief("rival", name="Rival", vendor="Someone Else", panel=SHARED)

    def own_vendor(messages):
        first, second = shown(messages)
        return "first" if first == "Le Chat" else "second"

    scripted.script("mistral-judge", judge(own_vendor))
    res = run_cli("compare", "le-chat", "rival", "--model", "scripted/mistral-judge", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    h = data["head_to_head"][0]
    assert h["pick"] == "le-chat"  # flagged: the calls count
    assert all("Mistral AI model" in s["conflict"] for s in h["seats"])
    assert "Vendor conflict, flagged" in data["answer"]
    le_chat = data["tools"][0]["panel"]["verdicts"]
    assert all(v["conflict"] for v in le_chat) and not any(v["conflict"] for v in data["tools"][1]["panel"]["verdicts"])

    recused = json.loads(run_cli("compare", "le-chat", "rival", "--model", "scripted/mistral-judge", "--json",
                                 "--recuse").stdout)
    h = recused["head_to_head"][0]
    assert h["pick"] is None and sorted(h["recused"]) == sorted(SHARED) and h["seats"] == []
    tool = recused["tools"][0]["panel"]
    assert tool["reported"] == 0 and {v["outcome"] for v in tool["verdicts"]} == {"recused"}
    # The site shows the published panels (one figure per tool on every page), the conflicted seats
    # flagged, and the head-to-head as judged: recused.
    assert run_cli("publish", "le-chat", "rival").exit_code == 0
    assert run_cli("compare", "le-chat", "rival", "--recuse").exit_code == 0  # over the published panels
    assert run_cli("site").exit_code == 0
    site_page = (workspace / "outputs" / "site" / "compare" / "le-chat-vs-rival.html").read_text()
    assert "vendor conflict" in site_page and "every persona seated on both was recused" in site_page

    scripted.script("fair", judge(lambda messages: "second" if shown(messages)[0] == "Le Chat" else "first"))
    other = json.loads(run_cli("compare", "le-chat", "rival", "--model", "scripted/mistral-judge", "--json",
                               "--conflict-model", "scripted/fair").stdout)
    h = other["head_to_head"][0]
    assert h["pick"] == "rival" and not any(s["conflict"] for s in h["seats"])
    assert {s["model"] for s in h["seats"]} == {"scripted/fair"}
    assert {v["model"] for v in other["tools"][0]["panel"]["verdicts"]} == {"scripted/fair"}


def test_recusing_every_seat_of_one_pair_while_another_pair_is_judged(workspace, run_cli, make_brief):
    """Three tools, one from the judge's vendor: both of its pairs lose every seat, the third pair
    is judged by the model. The recused pairs are answered as such, and no fairness note is
    invented from the recused seats."""
    make_brief("le-chat", name="Le Chat", vendor="Mistral AI", panel=SHARED + ["business"])
    make_brief("rival", name="Rival", vendor="Someone Else", panel=SHARED)
    make_brief("third", name="Third", vendor="Another Co", panel=SHARED)
    scripted.script("mistral-judge", judge(lambda messages: "tie"))
    res = run_cli("compare", "le-chat", "rival", "third", "--model", "scripted/mistral-judge", "--json", "--recuse")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    by_pair = {(h["a"], h["b"]): h for h in data["head_to_head"]}
    assert sorted(by_pair) == [("le-chat", "rival"), ("le-chat", "third"), ("rival", "third")]
    for recused in (("le-chat", "rival"), ("le-chat", "third")):
        assert by_pair[recused]["seats"] == [] and sorted(by_pair[recused]["recused"]) == sorted(SHARED)
    judged = by_pair[("rival", "third")]
    assert len(judged["seats"]) == 3 and judged["pick"] == "tie" and judged["recused"] == []
    notes = " ".join(data["fairness"])
    assert "None" not in notes and "different prompt versions" not in notes
    # The one real difference: Le Chat seated the Business Analyst (recused, under its own title).
    assert "Le Chat alone seated the Business Analyst" in notes
    recused = [v for v in data["tools"][0]["panel"]["verdicts"] if v["outcome"] == "recused"]
    assert {v["title"] for v in recused} == {"Builder", "Skeptic", "Futurist", "Business Analyst"}
    page = Path(data["files"]["markdown"]).read_text()
    assert "| Builder | — | — | recused (vendor conflict) |" in page and "| builder |" not in page
    # Le Chat has no counted verdict, so no interval is drawn for it (not a meaningless 0–100%).
    assert "| 95% interval | — |" in page
    assert "**Le Chat vs Rival**: no pick, every persona seated on both was recused." in page
    assert "Le Chat vs Rival: every seat recused" in data["answer"]
    assert "no verdicts counted" in Path(data["files"]["html"]).read_text()


def test_the_reference_replay_is_a_computed_tie_with_each_sides_reasons(workspace, run_cli, make_brief):
    """The seed page: two tools, four seats each, three of four shipping both; asked directly, the
    Builder prefers the first tool, the Skeptic the second, the Futurist neither."""
    make_brief("small-model", name="Small Model", vendor="Lab One", panel=SHARED + ["business"])
    make_brief("vision-model", name="Vision Model", vendor="Lab Two", panel=SHARED + ["creative"])

    def reviewer(messages):
        text = messages[-1]["content"]
        persona = re.search(r"You are the (\w+)", text).group(1)
        if "The first tool:" in text:
            first, _ = shown(messages)
            want = {"Builder": "Small Model", "Skeptic": "Vision Model"}.get(persona)
            pick = "tie" if want is None else ("first" if first == want else "second")
            headline = {"Builder": "runs on my laptop", "Skeptic": "vision is a hard requirement"}.get(persona, "even")
            return {"rationale": "r", "pick": pick, "confidence": 0.7, "headline": headline}
        verdict = "skip" if persona in ("Skeptic",) else "ship"
        return {"rationale": "r", "verdict": verdict, "confidence": 0.7, "headline": "h", "strengths": [],
                "risks": [], "competitors": []}

    scripted.script("seed", reviewer)
    data = json.loads(run_cli("compare", "small-model", "vision-model", "--model", "scripted/seed", "--json").stdout)
    assert [t["panel"]["ship_pct"] for t in data["tools"]] == [75.0, 75.0]
    assert data["head_to_head"][0]["pick"] == "tie"
    answer = data["answer"]
    assert answer.startswith("It is a tie") and "Small Model for the Builder (runs on my laptop)" in answer
    assert "Vision Model for the Skeptic (vision is a hard requirement)" in answer
    assert "lean" not in data["verdict"] and "comes down to price" not in data["verdict"]
    assert "level at 75% ship" in data["verdict"]


@pytest.mark.parametrize("model, vendor", [
    ("local/smollm2", "Hugging Face"), ("ollama/smollm2", "Hugging Face"), ("ollama/llama3.1", "Meta"),
    ("ollama/phi4", "Microsoft"), ("ollama_chat/gpt-oss:20b", "OpenAI"), ("openai/mistral-small", "Mistral AI"),
    ("anthropic/claude-3-5-haiku", "Anthropic"), ("openai/gpt-4o-mini", "OpenAI"), ("scripted/judge", None),
])
def test_a_models_maker_is_read_from_its_family_not_its_server(model, vendor):
    from panel.core.vendors import model_vendor

    assert model_vendor(model) == vendor


def test_a_vendor_in_brackets_is_a_conflict_too():
    from panel.core.vendors import conflict

    assert conflict("ollama/phi4", "GitHub (Microsoft)") == "Microsoft"
    assert conflict("local/smollm2", "Hugging Face") == "Hugging Face"
    assert conflict("openai/gpt-4o-mini", "Metadata Labs") is None
    assert conflict("ollama/llama3", "Metadata Labs") is None
