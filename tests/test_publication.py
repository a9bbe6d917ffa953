"""Publication (issue 21): drafts never reach a public page; `panel publish` pins one panel per
tool, and every page, the feed and the digest show that one; corrections, withdrawals and
embargoes are recorded and shown; bad input writes nothing."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest

from panel.models import scripted
from test_compare import reviewer

PANEL5 = ["builder", "skeptic", "futurist", "business", "creative"]
# Relay Cloud: 3 of 5 ship (60%); OmniMind AGI Box: 1 of 5 (20%); Kestrel Coder: 4 of 5 (80%).
CALLS = {
    ("Relay Cloud", "Skeptic"): "skip", ("Relay Cloud", "Business Analyst"): "skip",
    **{("OmniMind AGI Box", title): "skip" for title in ("Builder", "Skeptic", "Business Analyst",
                                                          "Creative Technologist")},
    ("Kestrel Coder", "Skeptic"): "skip",
}


def write_tools(make_brief) -> None:
    make_brief("relay-cloud", name="Relay Cloud", vendor="Relay Inc", panel=PANEL5)
    make_brief("omnimind-agi-box", name="OmniMind AGI Box", vendor="Omni Ltd", panel=PANEL5,
               pricing={"model": "hardware", "entry": "$9,999 deposit"}, licence="Proprietary")
    make_brief("kestrel-coder", name="Kestrel Coder", vendor="Kestrel", panel=PANEL5)
    make_brief("wren-notes", name="Wren Notes", vendor="Wren", panel=PANEL5)


def reviewed(run_cli, make_brief, *slugs: str) -> None:
    """The four tools' briefs written, and `slugs` reviewed by scripted/kind (a draft each)."""
    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    assert run_cli("review", *slugs, "--model", "scripted/kind").exit_code == 0


def db_rows(workspace: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
        return conn.execute(sql, params).fetchall()


def words(path: Path) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text())).split())


def figures(site: Path) -> dict[str, set[str]]:
    """slug -> every panel ship % the site's pages show for it (index, tool page, comparisons)."""
    seen: dict[str, set[str]] = {}
    index = (site / "index.html").read_text()
    for slug, pct in re.findall(r'<tr id="([a-z0-9-]+)">.*?<strong>([^<]+)</strong>', index, re.S):
        seen.setdefault(slug, set()).add(pct)
    for page in (site / "tools").glob("*.html"):
        big = re.search(r'<span class="big">([^<]+)</span><span class="lbl">Panel ship', page.read_text())
        seen.setdefault(page.stem, set()).add(big.group(1))
    for page in (site / "compare").glob("*.html"):
        row = r'<a href="\.\./tools/([a-z0-9-]+)\.html">[^<]*</a></th><td class="num">([^<]+)</td>'
        for slug, pct in re.findall(row, page.read_text()):
            seen.setdefault(slug, set()).add(pct)
    return seen


def site_build(run_cli):
    res = run_cli("site")
    assert res.exit_code == 0, res.output
    return res


def test_the_editors_week_ends_in_a_site_that_never_contradicts_itself(workspace, run_cli, make_brief, monkeypatch):
    """The sequence of issue 21, replayed: mixed models, both argument orders, a prompt edit and
    re-run, a brief edit, a failed run, a withdrawal and an embargo; then every page is checked."""
    monkeypatch.setenv("PANEL_EDITOR", "editor-on-duty")
    site = workspace / "outputs" / "site"
    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    scripted.script("harsh", reviewer({}, default="skip"))
    tools = ("relay-cloud", "omnimind-agi-box", "kestrel-coder")
    assert run_cli("review", *tools, "--model", "scripted/kind").exit_code == 0
    res = run_cli("publish", "relay-cloud", "omnimind-agi-box", "kestrel-coder", "--by", "alice")
    assert res.exit_code == 0 and "relay-cloud: published 60% ship (3/5)" in res.stdout and "by alice" in res.stdout

    # A side run with another model, in one order; then the pair in the other order.
    assert run_cli("compare", "omnimind-agi-box", "relay-cloud", "--model", "scripted/harsh").exit_code == 0
    res = run_cli("compare", "relay-cloud", "omnimind-agi-box")
    assert res.exit_code == 0 and "Judged over the published panels" in res.stderr
    assert run_cli("compare", "kestrel-coder", "relay-cloud").exit_code == 0
    site_build(run_cli)
    assert sorted(p.name for p in (site / "compare").glob("*.html")) == [
        "kestrel-coder-vs-relay-cloud.html", "omnimind-agi-box-vs-relay-cloud.html"]  # one page per pair
    assert figures(site)["relay-cloud"] == {"60%"} and figures(site)["omnimind-agi-box"] == {"20%"}

    # A prompt edit and a re-run, with a skeptic that now ships Kestrel: a correction, with a note.
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "\n# sharper about vapourware\n")
    scripted.script("kind", reviewer({k: v for k, v in CALLS.items() if k[0] != "Kestrel Coder"}))
    assert run_cli("rerun", "--changed", "--brief", "kestrel-coder").exit_code == 0
    res = run_cli("publish", "kestrel-coder")
    assert res.exit_code == 0, res.stderr  # 80% → 100%: the call (ship) does not move, no note needed
    # A brief edit: `panel site` notices; the re-review is a draft until published.
    brief = workspace / "tool_briefs" / "omnimind-agi-box.yaml"
    brief.write_text(brief.read_text().replace("written for panel's tests", "now with a claimed AGI benchmark"))
    res = site_build(run_cli)
    assert "omnimind-agi-box: the brief file has changed since the published panel" in res.stderr
    assert "kestrel-coder-vs-relay-cloud: stale head-to-head" in res.stderr
    stale = words(site / "compare" / "kestrel-coder-vs-relay-cloud.html")
    assert "since then the panel of Kestrel Coder has changed and the Skeptic's prompt has been edited." in stale
    scripted.script("kind", reviewer({**CALLS, ("OmniMind AGI Box", "Builder"): "ship",
                                      ("OmniMind AGI Box", "Skeptic"): "ship"}))
    assert run_cli("review", "omnimind-agi-box", "--model", "scripted/kind").exit_code == 0
    res = run_cli("publish", "omnimind-agi-box")
    assert res.exit_code == 2 and "from skip to ship" in res.stderr and "--note" in res.stderr
    note = "Re-reviewed on the vendor's corrected brief"
    assert run_cli("publish", "omnimind-agi-box", "--note", note).exit_code == 0
    # A failed run: nothing to publish, nothing changes.
    scripted.script("broken", lambda messages: "not JSON at all")
    assert run_cli("review", "relay-cloud", "--model", "scripted/broken").exit_code == 1
    assert run_cli("publish", "relay-cloud").exit_code == 2
    # A withdrawal and an embargo.
    assert run_cli("unpublish", "kestrel-coder", "--note", "The vendor pulled the product").exit_code == 0
    assert run_cli("review", "wren-notes", "--model", "scripted/kind").exit_code == 0
    later = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert run_cli("publish", "wren-notes", "--at", later + "+00:00").exit_code == 0
    res = site_build(run_cli)
    assert "wren-notes: publication held until" in res.stderr
    assert not (site / "tools" / "wren-notes.html").exists()
    # Time passes: the embargo lifts at the next build.
    db_rows(workspace, "UPDATE publications SET visible_from = '2026-01-01T00:00:00.000+00:00'"
                       " WHERE slug = 'wren-notes'")
    site_build(run_cli)

    # Every page: one figure per tool, the published ones; no draft; no withdrawn tool.
    published = {row["slug"]: row for row in json.loads(run_cli("publications", "--json").stdout)["publications"]}
    shown = figures(site)
    assert set(shown) == {"relay-cloud", "omnimind-agi-box", "wren-notes"}
    assert shown == {"relay-cloud": {"60%"}, "omnimind-agi-box": {"60%"}, "wren-notes": {"100%"}}
    assert published["relay-cloud"]["ship_pct"] == 60.0
    assert sorted(p.name for p in (site / "compare").glob("*.html")) == ["omnimind-agi-box-vs-relay-cloud.html"]
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "Unpublished draft" not in text and "scripted/harsh" not in text and "scripted/broken" not in text
        assert "Kestrel" not in text, page  # withdrawn, with its comparison
        assert not re.search(r"#\d+ ", words(page)) and not re.search(r"\b[0-9a-f]{12,}\b", text), page  # no ids
    # The corrected tool: dated, with what changed and why.
    omni = words(site / "tools" / "omnimind-agi-box.html")
    assert "Updates and corrections" in omni and "The brief was edited (description)." in omni
    assert "Calls changed: builder skip → ship; skeptic skip → ship." in omni and "Panel ship 20% → 60%." in omni
    assert "Re-reviewed on the vendor's corrected brief" in omni and "first publication" in omni
    # The pair's head-to-head was judged over omni's earlier panel: stale, said and dated.
    pair = words(site / "compare" / "omnimind-agi-box-vs-relay-cloud.html")
    assert "since then the panel of OmniMind AGI Box has changed and the Skeptic's prompt has been edited." in pair
    # The feed: valid Atom, exactly the publications (first verdicts and the correction) and the comparison.
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.bozo == 0 and feed.version == "atom10"
    titles = sorted(entry.title for entry in feed.entries)
    assert titles == ["Comparison: OmniMind AGI Box vs Relay Cloud", "Correction: OmniMind AGI Box — 60% ship",
                      "Verdict: OmniMind AGI Box — 20% ship (since replaced; see the tool's page)",
                      "Verdict: Relay Cloud — 60% ship",
                      "Verdict: Wren Notes — 100% ship"]
    assert all(entry.link.endswith((".html",)) for entry in feed.entries)
    # The digest lists the week, withdrawal included, with the same figures.
    digest = json.loads(run_cli("digest", "--since", "7d", "--json").stdout)
    kinds = sorted(item["kind"] for item in digest["items"])
    assert kinds == ["Comparison", "Verdict", "Verdict", "Withdrawn"]  # wren's row is dated January
    # One item per tool, with the figure the site shows (first published this week, corrected since).
    assert "Verdict: OmniMind AGI Box — 60% ship" in [item["title"] for item in digest["items"]]
    assert Path(digest["files"]["html"]).read_text().count("<script") == 0
    # Who did what is on record.
    history = json.loads(run_cli("publications", "kestrel-coder", "--json").stdout)["publications"]
    assert [(r["action"], r["operator"]) for r in history][0] == ("publish", "alice")
    assert history[-1]["action"] == "unpublish" and history[-1]["note"] == "The vendor pulled the product"
    assert {r[0] for r in db_rows(workspace, "SELECT operator FROM runs")} == {"editor-on-duty"}
    runs = run_cli("audit", "runs").stdout
    assert "by editor-on-duty" in runs


def test_drafts_preview_is_stamped_and_apart(workspace, run_cli, make_brief):
    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    res = run_cli("review", "relay-cloud", "--model", "scripted/kind")
    assert "Drafts: `panel publish relay-cloud`" in res.stderr
    res = run_cli("site")
    assert res.exit_code == 0 and "relay-cloud: never published" in res.stderr
    assert not (workspace / "outputs" / "site" / "tools" / "relay-cloud.html").exists()
    assert run_cli("site", "--drafts").exit_code == 0
    preview = workspace / "outputs" / "preview"
    pages = list(preview.rglob("*.html"))
    assert pages and all("Unpublished draft." in p.read_text() and 'content="noindex' in p.read_text() for p in pages)
    assert not (preview / "feed.xml").exists()


def test_bad_publications_are_refused_and_write_nothing(workspace, run_cli, make_brief):
    assert run_cli("publish", "relay-cloud").exit_code == 2  # no database yet
    assert not (workspace / "outputs" / "panel.db").exists()
    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    scripted.script("broken", lambda messages: "no")
    assert run_cli("review", "relay-cloud", "--model", "scripted/kind").exit_code == 0
    assert run_cli("review", "wren-notes", "--model", "scripted/broken").exit_code == 1
    cases = {
        ("publish", "kestrel-coder"): "has no panel to publish",
        ("publish", "wren-notes"): "has no verdict to publish",
        ("publish", "relay-cloud", "--at", "2020-01-01T00:00"): "that time has passed",
        ("publish", "relay-cloud", "--at", "next tuesday"): "not a date and time",
        ("publish", "relay-cloud", "--at", "9999-12-31T23:59-01:00"): "not a date and time",
        ("publish", "relay-cloud", "--at", "2999-01-01T00:00"): "more than ten years ahead",
        ("publish", "relay-cloud", "kestrel-coder"): "kestrel-coder' has no panel",  # one bad: none published
        ("publish", "relay-cloud", "wren-notes", "--draft", "1"): "exactly one SLUG",
        ("publish", "relay-cloud", "--draft", "99"): "not a panel of 'relay-cloud'",
        ("publish", "relay-cloud", "--by", ""): "--by / PANEL_EDITOR",
        ("unpublish", "relay-cloud", "--note", "gone"): "is not published",
        ("unpublish", "relay-cloud", "--note", "  "): "needs a --note",
        ("digest", "--since", "last week"): "--since 'last week': expected a date",
    }
    for args, message in cases.items():
        res = run_cli(*args)
        assert res.exit_code == 2 and message in res.stderr, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert db_rows(workspace, "SELECT count(*) FROM publications") == [(0,)]
    (workspace / "panel.yaml").write_text("timezone: Mars/Olympus\n")
    res = run_cli("publish", "relay-cloud")
    assert res.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in res.stderr
    assert db_rows(workspace, "SELECT count(*) FROM publications") == [(0,)]


def test_republishing_what_stands_records_nothing(workspace, run_cli, make_brief):
    reviewed(run_cli, make_brief, "relay-cloud")
    assert run_cli("publish", "relay-cloud").exit_code == 0
    assert run_cli("review", "relay-cloud", "--model", "scripted/kind").exit_code == 0  # all reused
    res = run_cli("publish", "relay-cloud")
    assert res.exit_code == 0 and "nothing changed" in res.stdout
    assert db_rows(workspace, "SELECT count(*) FROM publications") == [(1,)]


def test_two_editors_publishing_at_once_are_both_recorded(workspace, run_cli, make_brief):
    from panel.publish.publication import PublishRequest, plan_publication
    from panel.store.db import now
    from panel.store.store import Store

    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    scripted.script("other", reviewer(CALLS, default="skip"))
    assert run_cli("review", "relay-cloud", "--model", "scripted/kind").exit_code == 0
    assert run_cli("review", "relay-cloud", "--model", "scripted/other").exit_code == 0
    start = threading.Barrier(2)
    errors = []

    def editor(name: str, draft: int) -> None:
        try:
            with Store(workspace / "outputs" / "panel.db") as store:
                request = PublishRequest(slug="relay-cloud", operator=name, draft=draft, note=f"{name}'s pick")
                start.wait()
                store.record_publication(lambda db: plan_publication(db, request, timezone.utc, now()))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=editor, args=(n, d)) for n, d in (("ann", 1), ("bo", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = db_rows(workspace, "SELECT id, operator, previous_id FROM publications ORDER BY id")
    assert len(rows) == 2 and rows[0][2] is None and rows[1][2] == rows[0][0]  # the second saw the first
    site_build(run_cli)
    assert len(figures(workspace / "outputs" / "site")["relay-cloud"]) == 1


def test_quorum_and_site_settings(workspace, run_cli, make_brief):
    make_brief("pair", name="Pair Tool", panel=["builder", "skeptic"])
    make_brief("trio", name="Trio Tool", panel=["builder", "skeptic", "futurist"])
    scripted.script("kind", reviewer({}))
    assert run_cli("review", "pair", "trio", "--model", "scripted/kind").exit_code == 0
    (workspace / "panel.yaml").write_text("title: Tool Verdicts Weekly\nbase_url: https://verdicts.example\n"
                                          "timezone: Europe/Berlin\n")
    assert run_cli("publish", "pair", "trio").exit_code == 0
    site_build(run_cli)
    site = workspace / "outputs" / "site"
    pair = words(site / "tools" / "pair.html")
    assert "No ship % yet: 2 verdicts counted, and a ship % is published from 3." in pair
    assert figures(site)["pair"] == {"—"} and figures(site)["trio"] == {"100%"}
    page = (site / "tools" / "trio.html").read_text()
    assert '<link rel="canonical" href="https://verdicts.example/tools/trio.html">' in page
    assert "<title>Trio Tool · Tool Verdicts Weekly</title>" in page and re.search(r"\d{2}:\d{2} CES?T", page)
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert feed.feed.title == "Tool Verdicts Weekly" and {e.link for e in feed.entries} == {
        "https://verdicts.example/tools/pair.html", "https://verdicts.example/tools/trio.html"}
    assert "Verdict: Pair Tool — no ship % yet" in [e.title for e in feed.entries]
    (workspace / "panel.yaml").write_text("quorum: 2\n")
    site_build(run_cli)
    assert figures(site)["pair"] == {"100%"}


def test_auto_publish_setting_publishes_each_finished_review(workspace, run_cli, make_brief):
    write_tools(make_brief)
    (workspace / "panel.yaml").write_text("auto_publish: true\n")
    scripted.script("kind", reviewer(CALLS))
    res = run_cli("review", "relay-cloud", "--model", "scripted/kind")
    assert res.exit_code == 0 and "relay-cloud: published 60% ship" in res.stderr
    rows = db_rows(workspace, "SELECT slug, note FROM publications")
    assert rows == [("relay-cloud", "Published automatically (auto_publish in panel.yaml).")]


@pytest.mark.parametrize("text", ["quorum: 0\n", "quorum: true\n", "base_url: verdicts.example\n", "colour: blue\n",
                                  "- a list\n", "base_url: 'https://x.org/\"><script>'\n", "base_url: 'https://'\n",
                                  "title: '   '\n", "title: \"two\\nlines\"\n", "auto_publish: 'yes please'\n"])
def test_a_bad_settings_file_is_one_line_and_exit_2(workspace, run_cli, make_brief, text):
    make_brief("pair", panel=["builder"])
    scripted.script("kind", reviewer({}))
    assert run_cli("review", "pair", "--model", "scripted/kind").exit_code == 0
    (workspace / "panel.yaml").write_text(text)
    res = run_cli("site")
    assert res.exit_code == 2 and "panel.yaml" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (workspace / "outputs" / "site").exists()


def test_a_withdrawn_tool_published_again_is_news_and_says_so(workspace, run_cli, make_brief):
    write_tools(make_brief)
    scripted.script("kind", reviewer(CALLS))
    assert run_cli("review", "relay-cloud", "--model", "scripted/kind", "--by", "sam").exit_code == 0
    assert run_cli("publish", "relay-cloud").exit_code == 0
    assert run_cli("unpublish", "relay-cloud", "--note", "checking a claim").exit_code == 0
    assert run_cli("publish", "relay-cloud", "--note", "the claim holds").exit_code == 0
    site_build(run_cli)
    page = words(workspace / "outputs" / "site" / "tools" / "relay-cloud.html")
    assert "Published again after its withdrawal on" in page and "the claim holds" in page
    feed = feedparser.parse((workspace / "outputs" / "site" / "feed.xml").read_bytes())
    assert "Update: Relay Cloud — 60% ship" in [e.title for e in feed.entries]
    digest = json.loads(run_cli("digest", "--json").stdout)
    assert [item["kind"] for item in digest["items"]] == ["Verdict"]  # first published this week
    assert db_rows(workspace, "SELECT operator FROM runs") == [("sam",)]


def test_feed_entries_and_comparison_dates_do_not_move_between_builds(workspace, run_cli, make_brief):
    reviewed(run_cli, make_brief, "relay-cloud", "kestrel-coder")
    assert run_cli("publish", "relay-cloud", "kestrel-coder").exit_code == 0
    assert run_cli("compare", "relay-cloud", "kestrel-coder").exit_code == 0
    feeds = []
    for _ in range(2):
        site_build(run_cli)
        feed = feedparser.parse((workspace / "outputs" / "site" / "feed.xml").read_bytes())
        feeds.append(sorted((e.id, e.updated) for e in feed.entries))
    assert feeds[0] == feeds[1] and len(feeds[0]) == 3


def test_thin_panels_show_no_figure_in_their_corrections_either(workspace, run_cli, make_brief):
    make_brief("pair", name="Pair Tool", panel=["builder", "skeptic"])
    scripted.script("kind", reviewer({}))
    scripted.script("harsh", reviewer({}, default="skip"))
    assert run_cli("review", "pair", "--model", "scripted/kind").exit_code == 0
    assert run_cli("publish", "pair").exit_code == 0
    assert run_cli("review", "pair", "--model", "scripted/harsh").exit_code == 0
    assert run_cli("publish", "pair", "--note", "second look").exit_code == 0
    site_build(run_cli)
    page = words(workspace / "outputs" / "site" / "tools" / "pair.html")
    assert "The panel's call: ship → skip." in page and "%" not in page.split("Updates and corrections")[1].split(
        "Published versions")[0]
    feed = (workspace / "outputs" / "site" / "feed.xml").read_text()
    assert "100%" not in feed and "0%" not in feed and "Correction: Pair Tool — no ship % yet" in feed


def test_withdrawn_pages_leave_the_folder_and_nothing_else_does(workspace, run_cli, make_brief):
    reviewed(run_cli, make_brief, "relay-cloud", "kestrel-coder")
    assert run_cli("publish", "relay-cloud", "kestrel-coder").exit_code == 0
    site = workspace / "outputs" / "site"
    (site / "tools").mkdir(parents=True)
    mine = site / "tools" / "handwritten.html"
    mine.write_text("<p>my own page</p>")
    site_build(run_cli)
    assert run_cli("unpublish", "kestrel-coder", "--note", "gone").exit_code == 0
    site_build(run_cli)
    assert not (site / "tools" / "kestrel-coder.html").exists() and (site / "tools" / "relay-cloud.html").exists()
    assert mine.read_text() == "<p>my own page</p>"


def test_an_overtaken_embargo_is_not_held(workspace, run_cli, make_brief):
    reviewed(run_cli, make_brief, "relay-cloud")
    later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat(timespec="minutes")
    assert run_cli("publish", "relay-cloud", "--at", later).exit_code == 0
    status = {r["slug"]: r["status"] for r in json.loads(run_cli("briefs", "list", "--json").stdout)}
    assert status["relay-cloud"].startswith("draft (held until ")
    assert run_cli("publish", "relay-cloud").exit_code == 0  # now, after all: the embargo is overtaken
    assert "held until" not in site_build(run_cli).stderr
    status = {r["slug"]: r["status"] for r in json.loads(run_cli("briefs", "list", "--json").stdout)}
    assert status["relay-cloud"] == "published"


def test_no_publications_is_said_plainly(workspace, run_cli, make_brief):
    reviewed(run_cli, make_brief, "relay-cloud")
    res = run_cli("publications")
    assert res.exit_code == 0 and "No publications yet" in res.stderr and "Error" not in res.stderr


def test_editor_calls_are_labels_the_personas_are_scored_against(workspace, run_cli, make_brief):
    """panel label / publish --editor-call record an editor's call (never overwritten: the newest
    counts); panel eval --labels editors scores each persona against them."""
    for slug, name in (("t1", "Tool One"), ("t2", "Tool Two"), ("t3", "Tool Three"), ("t4", "Tool Four"),
                       ("t5", "Tool Five")):
        make_brief(slug, name=name, panel=["builder", "skeptic"])
    scripted.script("kind", reviewer({("Tool Five", "Skeptic"): "skip"}))  # ships all but the skeptic on t5
    assert run_cli("review", "t1", "t2", "t3", "t4", "t5", "--model", "scripted/kind").exit_code == 0
    make_brief("unreviewed")
    cases = {("label", "t1", "maybe"): "must be ship or skip",
             ("label", "unreviewd", "ship"): "did you mean 'unreviewed'",
             ("label", "unreviewed", "skip"): "was never reviewed",
             ("publish", "t1", "--editor-call", "meh"): "must be ship or skip"}
    for args, message in cases.items():
        res = run_cli(*args)
        assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert db_rows(workspace, "SELECT count(*) FROM editor_labels") == [(0,)]
    assert db_rows(workspace, "SELECT count(*) FROM publications") == [(0,)]  # the bad call published nothing
    assert run_cli("publish", "t1", "t2", "--editor-call", "ship", "--by", "ana").exit_code == 0
    for slug, call in (("t3", "skip"), ("t3", "ship"), ("t4", "ship"), ("t5", "skip")):  # t3 changes her mind
        assert run_cli("label", slug, call, "--note", "my own read", "--by", "ana").exit_code == 0
    rows = db_rows(workspace, "SELECT slug, call, source, operator FROM editor_labels ORDER BY id")
    assert rows[:2] == [("t1", "ship", "publish", "ana"), ("t2", "ship", "publish", "ana")] and len(rows) == 6
    res = run_cli("eval", "--labels", "editors", "--model", "scripted/kind", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["set"] == "editors" and data["metrics"]["panel"]["cases"] == 5
    cards = {c["persona"]: c for c in data["judges"]}
    # The editors ship t1-t4 and skip t5: the builder ships all five (4 of 5 right), the skeptic skips t5.
    assert cards["builder"]["agreement"] == 0.8 and cards["skeptic"]["agreement"] == 1.0
    assert cards["skeptic"]["kappa"] == 1.0 and cards["builder"]["kappa"] == 0.0
    # The site's methodology page states each persona's agreement with the editors, and on how much.
    site_build(run_cli)
    method = words(workspace / "outputs" / "site" / "methodology.html")
    assert "against the editors' own calls on 5 tools, with scripted/kind" in method
    assert "skeptic 5 100% 1.00" in method and "builder 5 80% 0.00" in method
    assert "agreed with the editors on 80% of the tools" in method  # the majority ships t5 too (1 of 2 ship)
    # --against: a prompt author sees whether an edit moved the skeptic away from the editors.
    before = data["versions"]["skeptic"]
    path = workspace / "personas" / "skeptic.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("questions:\n", "questions:\n  - Would I pay for it?\n"),
                    encoding="utf-8")
    scripted.script("kind", reviewer({}))  # the edited skeptic ships t5 too
    res = run_cli("eval", "--labels", "editors", "--model", "scripted/kind", "--against", before[:10], "--json")
    assert res.exit_code == 0, res.stderr
    compared = json.loads(res.stdout)["comparison"]
    assert compared["baseline"].startswith(f"skeptic version {before[:10]}")
    assert [(f["persona"], f["slug"], f["outcome"]) for f in compared["flips"]] == [("skeptic", "t5", "broke")]
    empty = run_cli("eval", "--labels", "editors", "--model", "scripted/kind", "--until", "2020-01-01")
    assert empty.exit_code == 2 and "no editor calls in that window" in empty.stderr
    for args, message in ((("eval", "standard", "--labels", "editors"), "not both"),
                          (("eval", "--labels", "bosses"), "only 'editors'"),
                          (("eval", "standard", "--since", "7d"), "use them with --labels editors"),
                          (("eval",), "say what to score against")):
        res = run_cli(*args)
        assert res.exit_code == 2 and message in res.stderr, (args, res.stderr)
