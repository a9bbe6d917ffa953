"""Reading the store. Every read panel makes is here, so each rule is written once: which verdict a
cache key reuses, a tool's latest panel, each persona's latest verdict, a stored persona's settings,
the community tally. Functions take the sqlite-utils Database (`store.db`) and only read.
"""

from __future__ import annotations

import functools
import json

import yaml

from ..core.panel import PanelResult
from ..core.tally import Tally
from ..core.verdict import PersonaResult


def rows(db, sql: str, params: list | tuple = ()) -> list[dict]:
    return db.execute_returning_dicts(sql, list(params))


def filters(columns: dict[str, str | None]) -> tuple[str, list]:
    """' AND col = ?' for each filter that was given."""
    given = [(col, value) for col, value in columns.items() if value is not None]
    return "".join(f" AND {col} = ?" for col, _ in given), [value for _, value in given]


# --- the cache ------------------------------------------------------------------------------------


def find_cached(db, keys: list[str]) -> dict[str, dict]:
    """The newest ok verdict for each cache key that has one. Errors and unscored answers are kept
    for the audit but never reused."""
    found: dict[str, dict] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in rows(db, f"SELECT * FROM verdicts WHERE status = 'ok' AND cache_key IN ({marks}) ORDER BY id", chunk):
            found[row["cache_key"]] = row
    return found


# --- briefs and panels -------------------------------------------------------------------------------


def brief_json(db, brief_hash: str) -> dict | None:
    row = db.execute("SELECT json FROM briefs WHERE hash = ?", [brief_hash]).fetchone()
    return json.loads(row[0]) if row else None


def stored_slugs(db) -> list[str]:
    """Every tool with at least one stored panel."""
    return [r[0] for r in db.execute("SELECT DISTINCT slug FROM panels ORDER BY slug").fetchall()]


def latest_panel_row(db, slug: str) -> dict | None:
    """The newest stored panel of a tool (its panels row), or None."""
    found = rows(db, "SELECT * FROM panels WHERE slug = ? ORDER BY id DESC LIMIT 1", [slug])
    return found[0] if found else None


def panel_by_id(db, panel_id: int) -> PanelResult:
    """A stored panel rebuilt from its verdicts, in seating order."""
    panel = rows(db, "SELECT * FROM panels WHERE id = ?", [panel_id])[0]
    members = rows(
        db,
        "SELECT m.persona AS member, m.cached, v.* FROM panel_members m JOIN verdicts v ON v.id = m.verdict_id"
        " WHERE m.panel_id = ? ORDER BY m.rowid",
        [panel_id],
    )
    results = [PersonaResult.from_row(m, cached=bool(m["cached"])) for m in members]
    return PanelResult(slug=panel["slug"], brief_hash=panel["brief_hash"], seated=[r.persona for r in results],
                       results=results)


def latest_panel(db, slug: str) -> PanelResult | None:
    row = latest_panel_row(db, slug)
    return None if row is None else panel_by_id(db, row["id"])


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


# --- each persona's latest verdict --------------------------------------------------------------------


def latest_verdicts(db, slug: str | None = None) -> list[dict]:
    """The verdict of each persona in the newest panel that seated it, per tool (the
    `latest_verdicts` view). For one slug, the whole verdicts row comes along (`id` included),
    so a caller can rebuild the PersonaResult."""
    if slug is None:
        return rows(db, "SELECT * FROM latest_verdicts ORDER BY slug, persona")
    return rows(
        db,
        """SELECT l.panel_id, l.panel_run_id, l.panel_created_at, l.reused, v.id AS verdict_id, v.*
           FROM latest_verdicts l JOIN verdicts v ON v.id = l.verdict_id
           WHERE l.slug = ? ORDER BY l.persona""",
        [slug],
    )


# --- persona versions ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
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


# --- community votes ------------------------------------------------------------------------------------


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


def stored_brief_slugs(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT DISTINCT slug FROM briefs").fetchall()}


# --- comparisons ----------------------------------------------------------------------------------------


def stored_comparison_sets(db) -> list[list[str]]:
    """Every set of tools ever compared, newest first."""
    found = db.execute("SELECT slugs, max(id) AS newest FROM comparisons GROUP BY slugs ORDER BY newest DESC")
    return [json.loads(row[0]) for row in found.fetchall()]


def latest_editor_row(db, slugs: list[str]) -> dict | None:
    """The newest stored editor summary for this set of tools (with the data it was written for)."""
    found = rows(
        db,
        "SELECT created_at, data, editor_model, editor_summary FROM comparisons"
        " WHERE slugs = ? AND editor_summary IS NOT NULL ORDER BY id DESC LIMIT 1",
        [json.dumps(slugs)],
    )
    return found[0] if found else None
