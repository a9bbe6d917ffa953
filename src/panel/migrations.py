"""Schema migrations. Append new functions to MIGRATIONS; never edit one that has shipped.

Each runs once, inside a transaction, and is recorded in the `_migrations` table.
"""

from __future__ import annotations

from sqlite_utils import Database


def m001_initial(db: Database) -> None:
    db["briefs"].create(
        {"hash": str, "slug": str, "name": str, "json": str, "first_seen": str},
        pk="hash",
    )
    db["briefs"].create_index(["slug"])
    db["persona_versions"].create(
        {
            "version": str,
            "persona": str,
            "file_text": str,
            "system_template": str,
            "prompt_template": str,
            "first_seen": str,
        },
        pk="version",
    )
    db["persona_versions"].create_index(["persona"])
    db["runs"].create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "command": str,
            "model": str,
            "concurrency": int,
            "briefs": str,  # JSON list of slugs
            "status": str,  # running | complete | partial | interrupted
            "calls_made": int,
            "calls_reused": int,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cost": float,
        },
        pk="id",
    )
    db["calls"].create(
        {
            "id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "persona": str,
            "persona_version": str,
            "model": str,
            "params": str,  # JSON sampling params
            "request": str,  # JSON messages as sent, re-asks included
            "response": str,  # raw text of the last completion
            "attempts": int,
            "latency": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cost": float,
            "outcome": str,  # ok | unscored | error
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[
            ("run_id", "runs", "id"),
            ("brief_hash", "briefs", "hash"),
            ("persona_version", "persona_versions", "version"),
        ],
    )
    db["calls"].create_index(["run_id"])
    db["verdicts"].create(
        {
            "id": int,
            "call_id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "persona": str,
            "persona_version": str,
            "model": str,
            "params": str,
            "cache_key": str,
            "status": str,  # ok | unscored | error
            "verdict": str,  # ship | skip | NULL
            "confidence": float,
            "headline": str,
            "rationale": str,
            "strengths": str,  # JSON lists
            "risks": str,
            "competitors": str,
            "raw": str,
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[
            ("call_id", "calls", "id"),
            ("run_id", "runs", "id"),
            ("brief_hash", "briefs", "hash"),
            ("persona_version", "persona_versions", "version"),
        ],
    )
    # The cache lookup: only ok verdicts are ever reused.
    db.execute("CREATE INDEX idx_verdicts_cache ON verdicts (cache_key) WHERE status = 'ok'")
    db["verdicts"].create_index(["slug", "persona"])
    db["verdicts"].enable_fts(["headline", "rationale"], create_triggers=True, tokenize="porter")
    db["panels"].create(
        {
            "id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "seated": int,
            "reported": int,
            "ships": int,
            "ship_pct": float,
            "interval_lo": float,
            "interval_hi": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("brief_hash", "briefs", "hash")],
    )
    db["panels"].create_index(["slug"])
    db["panel_members"].create(
        {"panel_id": int, "persona": str, "verdict_id": int, "cached": int},
        pk=("panel_id", "persona"),
        foreign_keys=[("panel_id", "panels", "id"), ("verdict_id", "verdicts", "id")],
    )


def m002_votes_and_comparisons(db: Database) -> None:
    """Community votes and stored comparison write-ups (issue 4)."""


def m003_audit_views(db: Database) -> None:
    """SQL views for the audit and for Datasette (issue 5)."""


MIGRATIONS = [m001_initial, m002_votes_and_comparisons, m003_audit_views]
