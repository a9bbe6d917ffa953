"""`panel audit ...`, `panel personas diff|history`, the m003 views and the Datasette metadata:
what comes back is what was stored."""

import json
import re
import sqlite3
from pathlib import Path

import pytest

from panel.models import scripted
from panel.store.store import Store
from shown import shown_slug

REPO = Path(__file__).resolve().parents[1]


def who(messages) -> tuple[str, str]:
    text = messages[-1]["content"]
    return (re.search(r"You are the (.+?) on the panel", text).group(1),
            shown_slug(text))


def distinct_verdicts(messages):
    """Headlines and rationales that name persona and tool, so searches can find one row."""
    title, slug = who(messages)
    decision = "skip" if title == "Skeptic" else "ship"
    rationale = f"The {title} weighed {slug}."
    if title == "Skeptic":
        rationale += " The licence terms hide a catch for commercial users."
    return {"rationale": rationale, "verdict": decision, "confidence": 0.75,
            "headline": f"{title} says {decision} for {slug}", "strengths": ["fast"], "risks": [], "competitors": []}


@pytest.fixture
def stored(workspace, run_cli, make_brief):
    """Two briefs reviewed once (run 1): quartet seats four personas (no creative), quintet all
    five; then the skeptic edited and re-run (run 2)."""
    make_brief("quartet", panel=["builder", "skeptic", "futurist", "business"])
    make_brief("quintet", name="Quintet")
    scripted.script("p", distinct_verdicts)
    assert run_cli("review", "quartet", "quintet", "--model", "scripted/p").exit_code == 0
    path = workspace / "personas" / "skeptic.yaml"
    path.write_text(path.read_text().rstrip("\n") + "\n  Looks hard at licences.\n")
    assert run_cli("rerun", "--changed").exit_code == 0
    return workspace


def jrun(run_cli, *args):
    res = run_cli(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def conn(workspace):
    c = sqlite3.connect(workspace / "outputs" / "panel.db")
    c.row_factory = sqlite3.Row
    return c


# --- runs and show -----------------------------------------------------------------------------------


def test_audit_runs_lists_what_each_run_did(stored, run_cli):
    runs = jrun(run_cli, "audit", "runs")["runs"]
    assert [r["id"] for r in runs] == [2, 1]  # newest first
    rerun, review = runs
    assert review["command"] == "review" and review["model"] == "scripted/p" and review["status"] == "complete"
    assert review["briefs"] == ["quartet", "quintet"] and review["brief_count"] == 2
    assert review["calls_made"] == 4 + 5 and review["calls_reused"] == 0 and review["calls_ok"] == 4 + 5
    # The re-run asks the skeptic once per brief and carries the other 3 + 4 verdicts over.
    assert rerun["command"] == "rerun --changed" and rerun["calls_made"] == 2 and rerun["calls_reused"] == 3 + 4
    stored_tokens = conn(stored).execute("SELECT sum(prompt_tokens), sum(completion_tokens) FROM calls"
                                         " WHERE run_id = 1").fetchone()
    assert (review["prompt_tokens"], review["completion_tokens"]) == tuple(stored_tokens)
    assert review["prompt_tokens"] > 0 and review["cost"] == 0 and review["duration_s"] >= 0


def test_audit_runs_table(stored, run_cli):
    res = run_cli("audit", "runs")
    assert res.exit_code == 0 and "rerun --changed" in " ".join(res.stdout.split()) and "complete" in res.stdout


def test_audit_show_has_every_call_with_prompt_and_raw_reply(stored, run_cli):
    detail = jrun(run_cli, "audit", "show", "1")
    calls = detail["calls"]
    assert len(calls) == 4 + 5 and {c["slug"] for c in calls} == {"quartet", "quintet"}
    call = next(c for c in calls if c["slug"] == "quintet" and c["persona"] == "skeptic")
    # The rendered prompt as sent, the raw reply as received, and the bookkeeping around it.
    assert [m["role"] for m in call["request"]] == ["system", "user"]
    assert "name: Quintet" in call["request"][1]["content"] and "You are the Skeptic" in call["request"][1]["content"]
    assert json.loads(call["response"])["headline"] == "Skeptic says skip for quintet"
    assert call["attempts"] == 1 and call["outcome"] == "ok" and call["latency"] >= 0
    assert call["prompt_tokens"] > 0 and call["cost"] == 0 and call["model"] == "scripted/p"
    assert call["verdict"] == "skip" and call["headline"] == "Skeptic says skip for quintet"
    version = conn(stored).execute("SELECT persona_version FROM verdicts WHERE id = ?",
                                   [call["verdict_id"]]).fetchone()[0]
    assert call["persona_version"] == version
    assert detail["reused"] == [] and len(detail["panels"]) == 2


def test_audit_show_lists_reused_verdicts_and_filters(stored, run_cli):
    detail = jrun(run_cli, "audit", "show", "2", "--brief", "quintet")
    assert [(c["slug"], c["persona"]) for c in detail["calls"]] == [("quintet", "skeptic")]
    assert sorted(r["persona"] for r in detail["reused"]) == ["builder", "business", "creative", "futurist"]
    assert all(r["from_run"] == 1 for r in detail["reused"])
    only = jrun(run_cli, "audit", "show", "2", "--persona", "builder")
    assert only["calls"] == [] and {r["slug"] for r in only["reused"]} == {"quartet", "quintet"}


def test_audit_show_in_the_terminal(stored, run_cli):
    res = run_cli("audit", "show", "1", "--brief", "quintet", "--persona", "skeptic")
    assert res.exit_code == 0
    assert "quintet / skeptic" in res.stdout and "[system]" in res.stdout and "[response]" in res.stdout
    assert "Skeptic says skip for quintet" in res.stdout


def test_audit_show_unknown_run_exits_2(stored, run_cli):
    res = run_cli("audit", "show", "99")
    assert res.exit_code == 2 and "no run 99" in res.stderr


# --- search ------------------------------------------------------------------------------------------


def test_search_finds_rationales_with_the_match_marked(stored, run_cli):
    found = jrun(run_cli, "audit", "search", "licence")
    matches = found["matches"]
    # Two briefs x (old skeptic + re-run skeptic): four rationales mention the licence.
    assert len(matches) == 4 and {m["persona"] for m in matches} == {"skeptic"}
    assert [m["verdict_id"] for m in matches] == sorted((m["verdict_id"] for m in matches), reverse=True)
    assert all("[licence]" in m["snippet"] for m in matches)
    assert "\x02" not in json.dumps(found)


def test_search_filters_by_persona_verdict_and_brief(stored, run_cli):
    assert len(jrun(run_cli, "audit", "search", "weighed", "--persona", "builder")["matches"]) == 2
    assert jrun(run_cli, "audit", "search", "weighed", "--verdict", "skip")["matches"][0]["persona"] == "skeptic"
    one = jrun(run_cli, "audit", "search", "weighed", "--brief", "quintet", "--persona", "futurist")["matches"]
    assert len(one) == 1 and one[0]["headline"] == "Futurist says ship for quintet"
    assert jrun(run_cli, "audit", "search", "weighed", "--persona", "nobody")["matches"] == []
    # Headline matches are marked too.
    marked = jrun(run_cli, "audit", "search", "Futurist", "--brief", "quartet")["matches"][0]
    assert marked["headline"] == "[Futurist] says ship for quartet"


def test_search_accepts_fts_syntax(stored, run_cli):
    assert len(jrun(run_cli, "audit", "search", "licen*")["matches"]) == 4
    assert len(jrun(run_cli, "audit", "search", '"hide a catch"')["matches"]) == 4
    assert len(jrun(run_cli, "audit", "search", "headline:Builder")["matches"]) == 2


@pytest.mark.parametrize("query", ['"unbalanced', "a AND", "licence OR", "NEAR(", "(((", "col:umn:", "*", "a -b",
                                   "NOT"])
def test_search_never_crashes_on_odd_queries(stored, run_cli, query):
    res = run_cli("audit", "search", query, "--json")
    assert res.exit_code == 0, res.output
    assert isinstance(json.loads(res.stdout)["matches"], list)


def test_search_with_a_stray_quote_still_finds_the_words(stored, run_cli):
    assert len(jrun(run_cli, "audit", "search", 'licence "catch')["matches"]) == 4


def test_empty_search_exits_2(stored, run_cli):
    res = run_cli("audit", "search", "  ")
    assert res.exit_code == 2 and "empty" in res.stderr


def test_search_in_the_terminal_highlights(stored, run_cli):
    res = run_cli("audit", "search", "licence", "--brief", "quintet", "--limit", "1")
    assert res.exit_code == 0
    assert "Skeptic says skip for quintet" in res.stdout and "licence" in res.stdout
    assert "\x02" not in res.stdout and "\x03" not in res.stdout


# --- history -----------------------------------------------------------------------------------------


def test_history_shows_each_persona_over_time(stored, run_cli):
    history = jrun(run_cli, "audit", "history", "quintet", "--persona", "skeptic")
    rows = history["verdicts"]
    assert len(rows) == 2
    first, second = rows
    assert first["persona_version"] != second["persona_version"]
    assert (first["change"], second["change"]) == ("first", "hold")
    assert (first["current"], second["current"]) == (False, True)
    assert (first["run_id"], second["run_id"]) == (1, 2) and second["model"] == "scripted/p"
    everyone = jrun(run_cli, "audit", "history", "quintet")["verdicts"]
    assert sorted({r["persona"] for r in everyone}) == ["builder", "business", "creative", "futurist", "skeptic"]
    assert sum(r["current"] for r in everyone) == 5


def test_history_marks_flips(stored, run_cli):
    scripted.script("p", lambda m: {**distinct_verdicts(m), "verdict": "ship"})
    assert run_cli("rerun", "--persona", "skeptic", "--brief", "quintet", "--fresh").exit_code == 0
    rows = jrun(run_cli, "audit", "history", "quintet", "--persona", "skeptic")["verdicts"]
    assert [r["change"] for r in rows] == ["first", "hold", "flip"]
    res = run_cli("audit", "history", "quintet", "--persona", "skeptic")
    assert res.exit_code == 0 and "flip" in res.stdout and "skeptic" in res.stdout


def test_history_of_unknown_slug_exits_2(stored, run_cli, make_brief):
    make_brief("unreviewed")  # a brief on disk, never reviewed
    res = run_cli("audit", "history", "unreviewed")
    assert res.exit_code == 2 and "no verdicts stored for 'unreviewed'" in res.stderr


def test_audit_without_a_database_exits_2_and_creates_nothing(workspace, run_cli):
    for args in (["audit", "runs"], ["audit", "search", "x"], ["audit", "agreement"],
                 ["personas", "history", "skeptic"]):
        res = run_cli(*args)
        assert res.exit_code == 2 and "no panel database yet" in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists()


# --- persona versions ------------------------------------------------------------------------------------


def test_personas_history_counts_verdicts_per_version(stored, run_cli):
    data = jrun(run_cli, "personas", "history", "skeptic")
    versions = data["versions"]
    assert len(versions) == 2 and versions[1]["current"] and not versions[0]["current"]
    assert [v["verdicts"] for v in versions] == [2, 2] and [v["skips"] for v in versions] == [2, 2]
    assert data["current_version"] == versions[1]["version"] and versions[0]["first_seen"]
    builder = jrun(run_cli, "personas", "history", "builder")["versions"]
    assert len(builder) == 1 and builder[0]["verdicts"] == 2 and builder[0]["ships"] == 2


def test_personas_diff_shows_the_prompt_change(stored, run_cli):
    data = jrun(run_cli, "personas", "diff", "skeptic")
    assert data["to_is_file"] is True
    assert "+  Looks hard at licences." in data["diff"]
    assert data["diff"].startswith(f"--- {data['from']}/skeptic.yaml\n+++ {data['to']}/skeptic.yaml")
    # Edit again without reviewing: the default compares the file on disk with the newest stored version.
    path = stored / "personas" / "skeptic.yaml"
    path.write_text(path.read_text().replace("Dry and precise.", "Dry, precise."))
    again = jrun(run_cli, "personas", "diff", "skeptic")
    assert again["from"] == data["to"] and again["to"] != data["to"]
    changed = [line for line in again["diff"].splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")]
    assert [line[:16] for line in changed] == ["-  Dry and preci", "+  Dry, precise."]


def test_personas_diff_between_stored_versions_and_prefixes(stored, run_cli):
    versions = [v["version"] for v in jrun(run_cli, "personas", "history", "skeptic")["versions"]]
    back = jrun(run_cli, "personas", "diff", "skeptic", "--from", versions[1][:6], "--to", versions[0])
    assert "-  Looks hard at licences." in back["diff"]
    default_from = jrun(run_cli, "personas", "diff", "skeptic", "--to", versions[1])
    assert default_from["from"] == versions[0]
    same = run_cli("personas", "diff", "skeptic", "--from", versions[1])
    assert same.exit_code == 0 and "same text" in same.stdout
    res = run_cli("personas", "diff", "skeptic", "--to", versions[1])
    assert res.exit_code == 0 and "Looks hard at licences." in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--from", "abcdef"], "no stored version 'abcdef'"),
    (["--from", "xyz!"], "is not a persona version"),
    (["--to", "00000000"], "no stored version"),
])
def test_personas_diff_bad_versions_exit_2(stored, run_cli, args, message):
    res = run_cli("personas", "diff", "skeptic", *args)
    assert res.exit_code == 2 and message in res.stderr


def test_personas_diff_with_nothing_earlier_exits_2(workspace, run_cli, make_brief):
    make_brief("quintet")
    scripted.script("p", distinct_verdicts)
    run_cli("review", "quintet", "--model", "scripted/p")
    res = run_cli("personas", "diff", "builder")
    assert res.exit_code == 2 and "no earlier stored version" in res.stderr


# --- views, indexes and Datasette ------------------------------------------------------------------------


def test_views_answer_the_common_questions(stored, run_cli):
    c = conn(stored)
    latest = {(r["slug"], r["persona"]): dict(r) for r in c.execute("SELECT * FROM latest_verdicts")}
    assert len(latest) == 4 + 5
    assert latest[("quintet", "skeptic")]["panel_run_id"] == 2 and latest[("quintet", "skeptic")]["reused"] == 0
    assert latest[("quintet", "builder")]["run_id"] == 1 and latest[("quintet", "builder")]["reused"] == 1
    assert c.execute("SELECT count(*) FROM stale_verdicts").fetchone()[0] == 0

    # A builder edit reviewed on one brief only: the other brief's builder verdict is now stale.
    path = stored / "personas" / "builder.yaml"
    path.write_text(path.read_text().rstrip("\n") + "\n  Edited.\n")
    assert run_cli("review", "quintet", "--model", "scripted/p").exit_code == 0
    stale = [dict(r) for r in conn(stored).execute("SELECT * FROM stale_verdicts")]
    assert [(r["slug"], r["persona"]) for r in stale] == [("quartet", "builder")]
    assert stale[0]["newest_version"] != stale[0]["persona_version"]

    summary = {r["id"]: dict(r) for r in conn(stored).execute("SELECT * FROM run_summary")}
    assert summary[1]["calls_ok"] == 4 + 5 and summary[2]["brief_count"] == 2 and summary[1]["duration_s"] >= 0
    usage = {(r["persona"], r["version"]): r["verdicts"] for r in conn(stored).execute("SELECT * FROM "
                                                                                       "persona_version_usage")}
    assert sum(v for (p, _), v in usage.items() if p == "skeptic") == 4


def test_a_blank_database_has_the_views_and_indexes(tmp_path):
    Store(tmp_path / "p.db").close()
    c = sqlite3.connect(tmp_path / "p.db")
    views = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert {"latest_verdicts", "stale_verdicts", "run_summary", "newest_persona_versions",
            "persona_version_usage"} <= views
    plan = " ".join(r[3] for r in c.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM latest_verdicts WHERE slug = 'x'"))
    assert "idx_panels_slug" in plan  # reaches one tool's panels through the index
    plan = " ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN SELECT * FROM verdicts WHERE slug = 'x' AND persona = "
                                            "'y'"))
    assert "idx_verdicts_slug_persona" in plan


def test_datasette_metadata_describes_real_tables_and_columns(tmp_path):
    metadata = json.loads((REPO / "datasette" / "metadata.json").read_text())
    Store(tmp_path / "panel.db").close()
    c = sqlite3.connect(tmp_path / "panel.db")
    database = metadata["databases"]["panel"]
    for table, info in database["tables"].items():
        columns = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
        assert columns, f"metadata names a table or view that does not exist: {table}"
        assert info.get("description"), table
        missing = set(info.get("columns", {})) - columns
        assert not missing, f"{table}: metadata describes missing columns {missing}"
    for name in ("briefs", "persona_versions", "runs", "calls", "verdicts", "panels", "panel_members"):
        columns = {r[1] for r in c.execute(f"PRAGMA table_info({name})")}
        assert set(database["tables"][name]["columns"]) == columns, f"{name}: every column is described"
    for name, query in database["queries"].items():
        assert query.get("title"), name
        sql = re.sub(r":(\w+)", "NULL", query["sql"])
        c.execute("EXPLAIN " + sql)  # each canned query is valid SQL against this schema


def test_audit_by_date_answers_why_the_skeptic_skipped_in_a_month(workspace, run_cli, make_brief):
    """--since / --until on audit runs, search and history; search shows each verdict's date."""
    import sqlite3

    from panel.models import scripted

    make_brief("lantern", panel=["skeptic"])
    scripted.script("dated", lambda messages: {"rationale": "Too early to trust with production data.",
                                                "verdict": "skip", "confidence": 0.7, "headline": "Not yet",
                                                "strengths": [], "risks": [], "competitors": []})
    assert run_cli("review", "lantern", "--model", "scripted/dated").exit_code == 0
    db = workspace / "outputs" / "panel.db"
    with sqlite3.connect(db) as conn:  # as if that review had been made in November
        conn.execute("UPDATE verdicts SET created_at = '2026-11-12T10:00:00.000+00:00'")
        conn.execute("UPDATE runs SET started_at = '2026-11-12T10:00:00.000+00:00'")
    november = ["--since", "2026-11-01", "--until", "2026-11-30"]
    found = json.loads(run_cli("audit", "search", "production", "--persona", "skeptic", "--verdict", "skip",
                               *november, "--json").stdout)["matches"]
    assert [m["slug"] for m in found] == ["lantern"]
    assert "2026-11-12 10:00" in run_cli("audit", "search", "production", *november).stdout
    assert json.loads(run_cli("audit", "search", "production", "--since", "2026-12-01", "--json").stdout)[
        "matches"] == []
    runs = json.loads(run_cli("audit", "runs", "--until", "2026-11-12", "--json").stdout)["runs"]
    assert len(runs) == 1 and json.loads(run_cli("audit", "runs", "--since", "7d", "--json").stdout)["runs"] == []
    history = json.loads(run_cli("audit", "history", "lantern", "--since", "2026-11-13", "--json").stdout)
    assert history["verdicts"] == []
    bad = run_cli("audit", "runs", "--since", "last tuesday")
    assert bad.exit_code == 2 and "--since 'last tuesday': expected a date" in bad.stderr
    empty = run_cli("audit", "runs", "--since", "2026-12-02", "--until", "2026-12-01")
    assert empty.exit_code == 2 and "the window is empty" in empty.stderr
