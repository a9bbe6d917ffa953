"""Reading the audit trail: runs, the calls in a run, full-text search over rationales, a tool's
verdict history, and the stored versions of each persona.

The SQL leans on the indexes and views of migration m003, so each question is a handful of index
lookups, not a scan of the verdicts table.
"""

from __future__ import annotations

import json
import re
import sqlite3

from ..core.errors import AuditError
from .queries import current_verdicts, filters, persona_version_rows, rows

# Highlight markers put in by SQLite's snippet()/highlight(). Control characters cannot occur in
# stored headlines or rationales, so the CLI can turn them into rich styles or plain brackets
# without guessing where a match starts.
MARK_START, MARK_END = "\x02", "\x03"


# --- runs ----------------------------------------------------------------------------------------------


def within(column: str, start: str | None, end: str | None) -> tuple[str, list]:
    """` AND column >= start AND column < end` for the bounds given (panel.inputs.timewindow)."""
    sql, params = "", []
    if start:
        sql, params = f"{sql} AND {column} >= ?", [*params, start]
    if end:
        sql, params = f"{sql} AND {column} < ?", [*params, end]
    return sql, params


def list_runs(db, limit: int = 50, start: str | None = None, end: str | None = None) -> list[dict]:
    """Newest runs first (started in [start, end) when given), with their call counts, tokens,
    cost and duration."""
    when, params = within("started_at", start, end)
    found = rows(db, f"SELECT * FROM run_summary WHERE 1 = 1{when} ORDER BY id DESC LIMIT ?", [*params, limit])
    for run in found:
        run["briefs"] = json.loads(run["briefs"] or "[]")
    return found


def run_detail(db, run_id: int, slug: str | None = None, persona: str | None = None) -> dict:
    """One run: its summary, every model call it made (prompt and raw reply included), the
    stored verdicts its panels reused, and the panels it recorded."""
    found = rows(db, "SELECT * FROM run_summary WHERE id = ?", [run_id])
    if not found:
        raise AuditError(f"no run {run_id} in the store; see `panel audit runs`")
    run = found[0]
    run["briefs"] = json.loads(run["briefs"] or "[]")
    where, params = filters({"c.slug": slug, "c.persona": persona})
    calls = rows(
        db,
        f"""SELECT c.id, c.slug, c.persona, c.persona_version, c.model, c.params, c.request, c.response,
                   c.attempts, c.latency, c.prompt_tokens, c.completion_tokens, c.cost, c.outcome, c.error,
                   c.response_mode, c.deployment, c.api_base,
                   c.created_at, v.id AS verdict_id, v.verdict, v.confidence, v.headline
            FROM calls c LEFT JOIN verdicts v ON v.call_id = c.id
            WHERE c.run_id = ?{where} ORDER BY c.id""",
        [run_id, *params],
    )
    for call in calls:
        call["params"] = json.loads(call["params"] or "{}")
        call["request"] = json.loads(call["request"] or "[]")
    where, params = filters({"p.slug": slug, "m.persona": persona})
    reused = rows(
        db,
        f"""SELECT p.slug, m.persona, m.verdict_id, v.run_id AS from_run, v.persona_version, v.model,
                   v.status, v.verdict, v.confidence, v.headline
            FROM panels p JOIN panel_members m ON m.panel_id = p.id JOIN verdicts v ON v.id = m.verdict_id
            WHERE p.run_id = ? AND m.cached = 1{where} ORDER BY p.id, m.persona""",
        [run_id, *params],
    )
    where, params = filters({"slug": slug})
    panels = rows(
        db,
        f"""SELECT id, slug, seated, reported, ships, ship_pct, interval_lo, interval_hi, created_at
            FROM panels WHERE run_id = ?{where} ORDER BY id""",
        [run_id, *params],
    )
    return {"run": run, "calls": calls, "reused": reused, "panels": panels}


# --- search --------------------------------------------------------------------------------------------


def fts_phrases(query: str) -> str:
    """The user's words as quoted FTS5 phrases (implicitly ANDed): no operator, column filter
    or stray quote in the input can be a syntax error any more."""
    words = query.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def search_verdicts(
    db,
    query: str,
    persona: str | None = None,
    verdict: str | None = None,
    slug: str | None = None,
    limit: int = 20,
    start: str | None = None,
    end: str | None = None,
) -> list[dict]:
    """Verdicts whose headline or rationale match, newest first, with the match highlighted.

    QUERY is FTS5 syntax when it parses (`licen*`, `"vendor lock-in"`, `cost OR price`);
    otherwise its words are searched as plain words, so user input never crashes the search."""
    if not query.strip():
        raise AuditError("search: the query is empty")
    try:
        return _search(db, query, persona, verdict, slug, limit, start, end)
    except sqlite3.OperationalError:
        pass  # not valid FTS5 syntax (or names an unknown column): search the words instead
    try:
        return _search(db, fts_phrases(query), persona, verdict, slug, limit, start, end)
    except sqlite3.OperationalError as exc:
        raise AuditError(f"search: cannot search for {query!r} ({exc})") from None


ALL_IDS = (0, 2**63 - 1)


def _search(db, match: str, persona, verdict, slug, limit, start=None, end=None) -> list[dict]:
    """Newest matches first: walk the full-text index in rowid order, join each match to its
    verdict, and stop at LIMIT.

    Ranking by relevance would score every match before returning any, slow for common words.
    With --brief, the id range of that tool's verdicts bounds the walk, so a tool reviewed once
    is found without passing the matches on every other tool first."""
    if persona is not None and not db.execute("SELECT 1 FROM verdicts WHERE persona = ? LIMIT 1", [persona]).fetchone():
        return []  # an unknown persona would otherwise walk every match for nothing
    bounds = _slug_bounds(db, slug, persona)
    if bounds is None:
        return []  # no verdict on that brief (by that persona) at all
    where, params = filters({"v.persona": persona, "v.verdict": verdict, "v.slug": slug})
    when, bounds_in_time = within("v.created_at", start, end)
    where, params = where + when, [*params, *bounds_in_time]
    return rows(
        db,
        f"""SELECT v.id AS verdict_id, v.slug, v.persona, v.persona_version, v.model, v.verdict, v.confidence,
                   v.run_id, v.created_at,
                   highlight(verdicts_fts, 0, ?, ?) AS headline,
                   snippet(verdicts_fts, 1, ?, ?, '…', 16) AS snippet
            FROM verdicts_fts JOIN verdicts v ON v.id = verdicts_fts.rowid
            WHERE verdicts_fts MATCH ? AND verdicts_fts.rowid BETWEEN ? AND ?{where}
            ORDER BY verdicts_fts.rowid DESC LIMIT ?""",
        [MARK_START, MARK_END, MARK_START, MARK_END, match, *bounds, *params, limit],
    )


def _slug_bounds(db, slug: str | None, persona: str | None) -> tuple[int, int] | None:
    """The id range of the verdicts on --brief (by --persona), from the index; None if empty."""
    if slug is None:
        return ALL_IDS
    where, params = filters({"slug": slug, "persona": persona})
    lo, hi = db.execute(f"SELECT min(id), max(id) FROM verdicts WHERE 1 = 1{where}", params).fetchone()
    return None if lo is None else (lo, hi)


# --- history of a tool's verdicts ----------------------------------------------------------------------


def verdict_history(db, slug: str, persona: str | None = None, start: str | None = None,
                    end: str | None = None) -> list[dict]:
    """Every verdict each persona gave on one tool, oldest first, with the persona version and
    model behind it; `change` says how an ok verdict compares with that persona's previous ok one
    (first, hold or flip; a failed attempt's is its status), and `current` marks the persona's
    current verdict (its newest ok one: what pages show). With `start`/`end`, only the verdicts
    made in [start, end)."""
    where, params = filters({"persona": persona})
    found = rows(
        db,
        f"""SELECT id AS verdict_id, persona, persona_version, model, status, verdict, confidence, headline,
                   brief_hash, run_id, created_at
            FROM verdicts WHERE slug = ?{where} ORDER BY persona, id""",
        [slug, *params],
    )
    if not found:
        who = f" by '{persona}'" if persona else ""
        raise AuditError(f"no verdicts{who} stored for '{slug}'")
    current = {r["id"] for r in current_verdicts(db, slug)}
    previous: dict[str, str] = {}
    for row in found:
        row["current"] = row["verdict_id"] in current
        if row["status"] != "ok":
            row["change"] = row["status"]
            continue
        before = previous.get(row["persona"])
        row["change"] = "first" if before is None else ("hold" if before == row["verdict"] else "flip")
        previous[row["persona"]] = row["verdict"]
    # The window is applied last: a verdict's flip or hold is against the one before it, in or out.
    return [row for row in found if (not start or row["created_at"] >= start) and (not end or row["created_at"] < end)]


# --- persona versions ------------------------------------------------------------------------------------


def persona_versions(db, persona: str) -> list[dict]:
    """Stored versions of a persona, oldest first, with how many verdicts each produced (the
    `persona_version_usage` view of m003)."""
    return rows(
        db,
        "SELECT version, first_seen, verdicts, ok, ships, skips FROM persona_version_usage"
        " WHERE persona = ? ORDER BY first_seen, version",
        [persona],
    )


def stored_version(db, persona: str, version: str) -> dict:
    """A stored version by its hash or a unique prefix of it (4 characters at least)."""
    if not re.fullmatch(r"[0-9a-f]{4,64}", version):
        raise AuditError(f"'{version}' is not a persona version (4 to 12 hex characters)")
    found = persona_version_rows(db, persona, version)
    if not found:
        raise AuditError(f"no stored version '{version}' of persona '{persona}';"
                         f" see `panel personas history {persona}`")
    if len(found) > 1:
        raise AuditError(f"version '{version}' of '{persona}' is ambiguous: {', '.join(r['version'] for r in found)}")
    return found[0]


def default_from_version(db, persona: str, to: dict, to_is_file: bool) -> dict:
    """What `personas diff` compares against when --from is not given: the newest stored version
    other than --to; when --to is a stored version, the newest one stored before it."""
    if to_is_file:
        found = rows(
            db,
            "SELECT * FROM persona_versions WHERE persona = ? AND version != ? ORDER BY rowid DESC LIMIT 1",
            [persona, to["version"]],
        )
    else:
        found = rows(
            db,
            """SELECT * FROM persona_versions WHERE persona = ? AND rowid <
                   (SELECT rowid FROM persona_versions WHERE version = ?)
               ORDER BY rowid DESC LIMIT 1""",
            [persona, to["version"]],
        )
    if not found:
        raise AuditError(f"persona '{persona}': no earlier stored version to compare with")
    return found[0]
