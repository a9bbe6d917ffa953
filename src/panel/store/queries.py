"""Reading the store. Every read panel makes is here, so each rule is written once: which verdict a
cache key reuses, each persona's current verdict and a tool's standing panel, a stored persona's
settings, the community tally. Functions take the sqlite-utils Database (`store.db`) and only read.
"""

from __future__ import annotations

import json

import yaml

from ..core.tally import Tally


def rows(db, sql: str, params: list | tuple = ()) -> list[dict]:
    return db.execute_returning_dicts(sql, list(params))


def filters(columns: dict[str, str | None]) -> tuple[str, list]:
    """' AND col = ?' for each filter that was given."""
    given = [(col, value) for col, value in columns.items() if value is not None]
    return "".join(f" AND {col} = ?" for col, _ in given), [value for _, value in given]


# --- the cache ------------------------------------------------------------------------------------


def find_cached(db, keys: list[str], table: str = "verdicts") -> dict[str, dict]:
    """The newest ok answer (a row of `table`: verdicts or judgments) for each cache key that has
    one. Errors and unscored answers are kept for the audit but never reused."""
    return _newest_ok(db, table, keys)


def _newest_ok(db, table: str, keys: list[str]) -> dict[str, dict]:
    """cache key -> the newest ok row of `table` (verdicts or judgments), 500 keys per query (SQLite's
    limit on bound parameters is 999 on older builds)."""
    found: dict[str, dict] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in rows(db, f"SELECT * FROM {table} WHERE status = 'ok' AND cache_key IN ({marks}) ORDER BY id", chunk):
            found[row["cache_key"]] = row
    return found


def consistency_rows(db) -> list[dict]:
    """Every persona's newest ok judgment of each ordering of each pair (named and blind), for
    `panel audit consistency`: per persona version, prompt version, model and brief text, so the two
    orders compared were asked of the same prompt about the same briefs."""
    return rows(db, """SELECT * FROM (
        SELECT j.*, row_number() OVER (PARTITION BY persona, persona_version, prompt_version, first_slug,
                                       second_slug, first_hash, second_hash, blind, model
                                       ORDER BY id DESC) AS newest
        FROM judgments j WHERE status = 'ok') WHERE newest = 1 ORDER BY first_slug, second_slug, persona""")


# --- briefs and panels -------------------------------------------------------------------------------


def calibration_rows(db) -> list[dict]:
    return rows(db, "SELECT * FROM calibrations")


def response_modes(db) -> dict[tuple[str, str], str]:
    """(api_base, model) -> the structured-output mode that server took last time."""
    found = db.execute("SELECT api_base, model, mode FROM response_modes").fetchall()
    return {(api_base, model): mode for api_base, model, mode in found}


def brief_json(db, brief_hash: str) -> dict | None:
    row = db.execute("SELECT json FROM briefs WHERE hash = ?", [brief_hash]).fetchone()
    return json.loads(row[0]) if row else None


def latest_briefs(db, slug: str | None = None) -> list[dict]:
    """The newest stored version of each tool's brief (slug, hash, json), by slug."""
    where, params = ("WHERE slug = ?", [slug]) if slug else ("", [])
    return rows(db, f"""SELECT slug, hash, json FROM briefs WHERE rowid IN (
                            SELECT max(rowid) FROM briefs {where} GROUP BY slug) ORDER BY slug""", params)


def latest_panel_row(db, slug: str) -> dict | None:
    """The newest stored panel of a tool (its panels row), or None."""
    found = rows(db, "SELECT * FROM panels WHERE slug = ? ORDER BY id DESC LIMIT 1", [slug])
    return found[0] if found else None


def panel_history_rows(db, slug: str) -> tuple[list[dict], list[dict]]:
    """Every stored panel of a tool, oldest first (with the command of its run), and their members."""
    panels = rows(db, "SELECT p.*, r.command FROM panels p LEFT JOIN runs r ON r.id = p.run_id WHERE p.slug = ?"
                      " ORDER BY p.id", [slug])
    members = rows(
        db,
        "SELECT m.panel_id, m.persona, v.id AS verdict_id, v.status, v.verdict, v.model, v.persona_version"
        " FROM panel_members m JOIN verdicts v ON v.id = m.verdict_id JOIN panels p ON p.id = m.panel_id"
        " WHERE p.slug = ? ORDER BY m.panel_id, m.rowid",
        [slug],
    )
    return panels, members


# --- the current verdict -------------------------------------------------------------------------------
#
# The current verdict of a persona on a tool is its newest `ok` verdict (of one model, when a
# command names one). An error or an unscored answer never displaces it: it is shown beside it as
# the last failed attempt. Every page, report and statistic reads verdicts through here.


def current_verdicts(db, slug: str | None = None, model: str | None = None) -> list[dict]:
    """Each persona's current (newest ok) verdict row on each tool, ordered by tool and persona."""
    where, params = filters({"slug": slug, "model": model})
    return rows(
        db,
        f"""SELECT * FROM (
                SELECT v.*, row_number() OVER (PARTITION BY slug, persona ORDER BY id DESC) AS newest
                FROM verdicts v WHERE status = 'ok'{where})
            WHERE newest = 1 ORDER BY slug, persona""",
        params,
    )


def verdict_endpoints(db, verdict_ids: list[int]) -> list[str]:
    """The endpoints (--api-base) the calls behind these verdicts went to, where one was recorded."""
    marks = ",".join("?" * len(verdict_ids))
    found = db.execute(f"SELECT DISTINCT c.api_base FROM verdicts v JOIN calls c ON c.id = v.call_id"
                       f" WHERE v.id IN ({marks}) AND c.api_base IS NOT NULL ORDER BY c.api_base", verdict_ids)
    return [row[0] for row in found]


def judged_slugs(db) -> list[str]:
    """Every tool reviewed outside `panel eval` (a labelled set's tools are test cases, not
    publications; one reviewed by `panel review` as well is published), whatever came of it."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT p.slug FROM panels p JOIN runs r ON r.id = p.run_id WHERE r.command NOT LIKE 'eval %'"
        " ORDER BY p.slug").fetchall()]


# --- each persona's verdict in the newest panel (the audit trail's view) ---------------------------------


def parse_persona_file(file_text: str) -> dict:
    try:
        data = yaml.safe_load(file_text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def persona_fields(db, versions: set[str] | list[str]) -> dict[str, dict]:
    """The stored persona file of each version, parsed (a version is a content hash, so the parse
    of one never goes stale). A file that no longer parses reads as an empty mapping."""
    versions = sorted(set(versions))
    if not versions:
        return {}
    marks = ",".join("?" * len(versions))
    found = db.execute(f"SELECT version, file_text FROM persona_versions WHERE version IN ({marks})", versions)
    return {version: parse_persona_file(text or "") for version, text in found.fetchall()}


def persona_version_rows(db, persona: str, prefix: str = "") -> list[dict]:
    """Stored versions of a persona (whole rows), oldest first; with `prefix`, those starting with it."""
    return rows(db, "SELECT * FROM persona_versions WHERE persona = ? AND version LIKE ? ORDER BY rowid",
                [persona, prefix + "%"])


# --- evaluations ----------------------------------------------------------------------------------------


def eval_run(db, eval_id: int) -> dict | None:
    found = rows(db, "SELECT * FROM eval_runs WHERE id = ?", [eval_id])
    return found[0] if found else None


def eval_item_rows(db, eval_id: int, against: str = "label") -> list[dict]:
    """A stored evaluation's scored items, against the labels, the borderline labels or the community."""
    return rows(db, "SELECT * FROM eval_items WHERE eval_id = ? AND against = ? ORDER BY rowid", [eval_id, against])


def tallies(db, slugs: list[str]) -> dict[str, Tally]:
    """The community split for each slug (zero votes included)."""
    counts = {slug: {"ship": 0, "skip": 0} for slug in slugs}
    if slugs:
        marks = ",".join("?" * len(slugs))
        found = db.execute(
            f"SELECT slug, vote, count(*) FROM votes WHERE slug IN ({marks}) GROUP BY slug, vote", list(slugs)
        ).fetchall()
        for slug, vote, n in found:
            counts[slug][vote] = n
    return {slug: Tally(slug=slug, ships=c["ship"], skips=c["skip"]) for slug, c in counts.items()}


def vote_history(db, slug: str) -> list[dict]:
    """Every vote cast, changed or retracted on a tool, newest first; `current` marks the votes that
    count now (each voter's newest, unless retracted)."""
    found = rows(db, "SELECT * FROM vote_history WHERE slug = ? ORDER BY cast_at DESC, id DESC", [slug])
    voting = {r[0] for r in db.execute("SELECT voter FROM votes WHERE slug = ?", [slug]).fetchall()}
    seen: set[str] = set()
    for row in found:  # newest first: a voter's first row is their latest say
        row["current"] = row["voter"] not in seen and row["voter"] in voting and row["vote"] is not None
        seen.add(row["voter"])
    return found


def stored_tool_names(db) -> dict[str, str]:
    """Every stored tool's name, by slug (the newest brief's name where it changed)."""
    return {slug: name for slug, name in db.execute("SELECT slug, name FROM briefs ORDER BY rowid").fetchall()}


def stored_brief_slugs(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT DISTINCT slug FROM briefs").fetchall()}


# --- comparisons ----------------------------------------------------------------------------------------


def stored_comparison_sets(db) -> list[list[str]]:
    """Every set of tools ever compared, newest first, each once whatever order it was named in
    (in slug order: `compare b a` and `compare a b` are one comparison)."""
    found: list[list[str]] = []
    for (slugs,) in db.execute("SELECT slugs FROM comparisons ORDER BY id DESC").fetchall():
        key = sorted(json.loads(slugs))
        if key not in found:
            found.append(key)
    return found


def _comparison_rows(db, slugs: list[str], columns: str, where: str = "") -> list[dict]:
    """The stored comparisons of this set of tools in any order, newest first."""
    key = sorted(slugs)
    return [row for row in rows(db, f"SELECT slugs, {columns} FROM comparisons WHERE 1 = 1{where} ORDER BY id DESC")
            if sorted(json.loads(row["slugs"])) == key]


def comparison_data(db, slugs: list[str]) -> list[dict]:
    """The data of every stored comparison of these tools (as it was written), newest first."""
    return [json.loads(row["data"]) for row in _comparison_rows(db, slugs, "data")]


def latest_editor_row(db, slugs: list[str]) -> dict | None:
    """The newest stored editor summary for this set of tools (with the data it was written for)."""
    found = _comparison_rows(db, slugs, "created_at, data, editor_model, editor_summary",
                             " AND editor_summary IS NOT NULL")
    return found[0] if found else None


# --- drafts and publications ------------------------------------------------------------------------


def draft_rows(db, slug: str) -> list[dict]:
    """A tool's drafts (its recorded panels), newest first, with the command and operator of each
    run. A labelled set's evaluation makes no draft: its tools are test cases."""
    return rows(db, "SELECT p.*, r.command, r.operator FROM panels p JOIN runs r ON r.id = p.run_id"
                    " WHERE p.slug = ? AND r.command NOT LIKE 'eval %' ORDER BY p.id DESC", [slug])


def publication_rows(db, slug: str | None = None, visible_by: str | None = None) -> list[dict]:
    """Publication records, oldest first; of one tool, and/or those visible by a time."""
    where, params = filters({"slug": slug})
    if visible_by is not None:
        where += " AND visible_from <= ?"
        params.append(visible_by)
    return rows(db, f"SELECT * FROM publications WHERE 1 = 1{where} ORDER BY id", params)


def latest_publication(db, slug: str, action: str | None = None) -> dict | None:
    """A tool's newest publication record (of `action`, if given), visible yet or not."""
    where, params = filters({"slug": slug, "action": action})
    found = rows(db, f"SELECT * FROM publications WHERE 1 = 1{where} ORDER BY id DESC LIMIT 1", params)
    return found[0] if found else None


def verdict_decisions(db, verdict_ids: list[int]) -> dict[str, str]:
    """persona -> ship/skip of these verdicts."""
    if not verdict_ids:
        return {}
    marks = ",".join("?" * len(verdict_ids))
    found = db.execute(f"SELECT persona, verdict FROM verdicts WHERE id IN ({marks})", list(verdict_ids))
    return {persona: verdict for persona, verdict in found.fetchall()}


def persona_first_seen(db, versions: set[str]) -> dict[str, str]:
    """version -> when it was first stored (pages name a prompt by persona and date, not by hash)."""
    versions = sorted(v for v in versions if v)
    if not versions:
        return {}
    marks = ",".join("?" * len(versions))
    found = db.execute(f"SELECT version, first_seen FROM persona_versions WHERE version IN ({marks})", versions)
    return dict(found.fetchall())


def verdict_costs(db, verdict_ids: list[int]) -> dict[int, float]:
    """verdict id -> the cost of the call that produced it (a reused verdict: its original call's)."""
    found: dict[int, float] = {}
    ids = sorted(set(verdict_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for verdict_id, cost in db.execute(f"SELECT v.id, coalesce(c.cost, 0) FROM verdicts v JOIN calls c"
                                           f" ON c.id = v.call_id WHERE v.id IN ({marks})", chunk).fetchall():
            found[verdict_id] = float(cost)
    return found


def editor_labels(db, since: str | None = None, until: str | None = None) -> list[dict]:
    """Each tool's newest editor call (made in the window, if given), by slug."""
    where, params = "", []
    if since:
        where, params = where + " AND labelled_at >= ?", [*params, since]
    if until:
        where, params = where + " AND labelled_at < ?", [*params, until]
    newest: dict[str, dict] = {}
    for row in rows(db, f"SELECT * FROM editor_labels WHERE 1 = 1{where} ORDER BY id", params):
        newest[row["slug"]] = row
    return [newest[slug] for slug in sorted(newest)]


def latest_eval_run(db, set_name: str) -> dict | None:
    """The newest stored evaluation of a labelled set (by its name), or None."""
    found = rows(db, "SELECT * FROM eval_runs WHERE set_name = ? ORDER BY id DESC LIMIT 1", [set_name])
    return found[0] if found else None
