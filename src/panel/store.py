"""The SQLite store: every brief, persona version, run, model call, verdict and panel.

The store is also the cache: a persona result is reused when an `ok` verdict exists with the
same cache key (persona version, brief content hash, model, sampling params). Errors and
unscored results are stored for the audit trail but never reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database

from .aggregate import PanelResult
from .briefs import ToolBrief
from .errors import StoreError
from .migrations import MIGRATIONS
from .personas import Persona
from .verdict import PersonaResult, Verdict

BUSY_TIMEOUT_S = 60


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def cache_key(persona_version: str, brief_hash: str, model: str, params: dict) -> str:
    material = json.dumps([persona_version, brief_hash, model, params], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    # timeout doubles as SQLite's busy timeout: a second writer waits instead of failing.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable across process crashes (only an OS crash can lose the last commits).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextlib.contextmanager
def write_lock(db: Database):
    """A transaction that takes the write lock first (BEGIN IMMEDIATE). A plain BEGIN that reads
    before it writes fails at once with "database is locked" if another process committed in
    between; an immediate one waits its turn (busy timeout) and then reads fresh data."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.execute("COMMIT")


def migrate(db: Database) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        with write_lock(db):
            # Re-check inside the write lock: another process may have just applied it.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [migration.__name__]).fetchone():
                continue
            migration(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [migration.__name__, now()])


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(_connect(self.path))
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the panel database ({exc})") from None

    def close(self) -> None:
        self.db.close()

    # --- what went in ---------------------------------------------------------------------------

    def save_brief(self, brief: ToolBrief) -> str:
        digest = brief.content_hash()
        with self.db.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO briefs (hash, slug, name, json, first_seen) VALUES (?, ?, ?, ?, ?)",
                [digest, brief.slug, brief.name, brief.model_dump_json(), now()],
            )
        return digest

    def save_persona_version(self, persona: Persona) -> None:
        with self.db.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO persona_versions VALUES (?, ?, ?, ?, ?, ?)",
                [persona.version, persona.name, persona.file_text, persona.system_source, persona.prompt_source, now()],
            )

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, command: str, model: str, slugs: list[str], concurrency: int) -> int:
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO runs (started_at, command, model, concurrency, briefs, status, calls_made,"
                " calls_reused, prompt_tokens, completion_tokens, cost) VALUES (?, ?, ?, ?, ?, 'running', 0, 0, 0, 0, 0)",
                [now(), command, model, concurrency, json.dumps(slugs)],
            )
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str) -> None:
        with self.db.atomic():
            self.db.execute(
                """UPDATE runs SET finished_at = ?, status = ?,
                   calls_made = (SELECT count(*) FROM calls WHERE run_id = runs.id),
                   prompt_tokens = (SELECT coalesce(sum(prompt_tokens), 0) FROM calls WHERE run_id = runs.id),
                   completion_tokens = (SELECT coalesce(sum(completion_tokens), 0) FROM calls WHERE run_id = runs.id),
                   cost = (SELECT coalesce(sum(cost), 0) FROM calls WHERE run_id = runs.id),
                   calls_reused = (SELECT count(*) FROM panel_members m JOIN panels p ON p.id = m.panel_id
                                   WHERE p.run_id = runs.id AND m.cached = 1)
                   WHERE id = ?""",
                [now(), status, run_id],
            )

    # --- the cache --------------------------------------------------------------------------------

    def find_cached(self, keys: list[str]) -> dict[str, dict]:
        """The newest ok verdict for each cache key that has one."""
        found: dict[str, dict] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute_returning_dicts(
                f"SELECT * FROM verdicts WHERE status = 'ok' AND cache_key IN ({marks}) ORDER BY id",
                chunk,
            )
            for row in rows:
                found[row["cache_key"]] = row
        return found

    # --- results ----------------------------------------------------------------------------------

    def record_call(self, run_id: int, slug: str, brief_hash: str, key: str, params: dict, call) -> int:
        """Store one model call and the verdict it produced, atomically. Returns the verdict id.

        `call` is a panel.llm.CallOutcome."""
        v: Verdict | None = call.verdict
        stamp = now()
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO calls (run_id, slug, brief_hash, persona, persona_version, model, params, request,"
                " response, attempts, latency, prompt_tokens, completion_tokens, cost, outcome, error, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id, slug, brief_hash, call.persona, call.persona_version, call.model, json.dumps(params),
                    json.dumps(call.request), call.raw, call.attempts, call.latency, call.prompt_tokens,
                    call.completion_tokens, call.cost, call.status, call.error, stamp,
                ],
            )
            call_id = cur.lastrowid
            cur = self.db.execute(
                "INSERT INTO verdicts (call_id, run_id, slug, brief_hash, persona, persona_version, model, params,"
                " cache_key, status, verdict, confidence, headline, rationale, strengths, risks, competitors, raw,"
                " error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    call_id, run_id, slug, brief_hash, call.persona, call.persona_version, call.model,
                    json.dumps(params), key, call.status,
                    v.verdict if v else None, v.confidence if v else None, v.headline if v else None,
                    v.rationale if v else None,
                    json.dumps(v.strengths) if v else None, json.dumps(v.risks) if v else None,
                    json.dumps(v.competitors) if v else None, call.raw, call.error, stamp,
                ],
            )
        return cur.lastrowid

    def record_panel(self, run_id: int, panel: PanelResult) -> int:
        lo, hi = panel.interval
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO panels (run_id, slug, brief_hash, seated, reported, ships, ship_pct, interval_lo,"
                " interval_hi, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, panel.slug, panel.brief_hash, len(panel.seated), panel.reported, panel.ships,
                 panel.ship_pct, lo, hi, now()],
            )
            panel_id = cur.lastrowid
            self.db.conn.executemany(
                "INSERT INTO panel_members (panel_id, persona, verdict_id, cached) VALUES (?, ?, ?, ?)",
                [(panel_id, r.persona, r.verdict_id, int(r.cached)) for r in panel.results],
            )
        return panel_id

    # --- reading back -----------------------------------------------------------------------------

    def latest_panel(self, slug: str) -> PanelResult | None:
        """The most recent stored panel for a slug, rebuilt from its verdicts."""
        row = self.db.execute(
            "SELECT id, brief_hash FROM panels WHERE slug = ? ORDER BY id DESC LIMIT 1", [slug]
        ).fetchone()
        if row is None:
            return None
        return self.panel_by_id(row[0])

    def panel_by_id(self, panel_id: int) -> PanelResult:
        panel = self.db.execute_returning_dicts("SELECT * FROM panels WHERE id = ?", [panel_id])[0]
        members = self.db.execute_returning_dicts(
            "SELECT m.persona AS member, m.cached, v.* FROM panel_members m JOIN verdicts v ON v.id = m.verdict_id"
            " WHERE m.panel_id = ? ORDER BY m.rowid",
            [panel_id],
        )
        results = [result_from_row(m, cached=bool(m["cached"])) for m in members]
        return PanelResult(
            slug=panel["slug"], brief_hash=panel["brief_hash"], seated=[r.persona for r in results], results=results
        )

    def brief_json(self, brief_hash: str) -> dict | None:
        row = self.db.execute("SELECT json FROM briefs WHERE hash = ?", [brief_hash]).fetchone()
        return json.loads(row[0]) if row else None


def result_from_row(row: dict, cached: bool) -> PersonaResult:
    """Rebuild a PersonaResult from a verdicts row."""
    verdict = None
    if row["status"] == "ok":
        verdict = Verdict(
            rationale=row["rationale"],
            verdict=row["verdict"],
            confidence=row["confidence"],
            headline=row["headline"],
            strengths=json.loads(row["strengths"] or "[]"),
            risks=json.loads(row["risks"] or "[]"),
            competitors=json.loads(row["competitors"] or "[]"),
        )
    return PersonaResult(
        persona=row["persona"],
        persona_version=row["persona_version"],
        model=row["model"],
        status=row["status"],
        verdict=verdict,
        raw=row["raw"] or "",
        error=row["error"],
        cached=cached,
        verdict_id=row["id"],
    )
