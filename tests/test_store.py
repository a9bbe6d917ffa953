import sqlite3

from panel.store.store import Store
from panel.review.plan import cache_key


def columns(db_path, table):
    conn = sqlite3.connect(db_path)
    try:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def test_blank_database_gets_every_table_and_column(tmp_path):
    path = tmp_path / "p.db"
    Store(path).close()
    assert columns(path, "verdicts") == [
        "id", "call_id", "run_id", "slug", "brief_hash", "persona", "persona_version", "model", "params",
        "cache_key", "status", "verdict", "confidence", "headline", "rationale", "strengths", "risks",
        "competitors", "raw", "error", "created_at",
    ]
    assert columns(path, "calls")[:8] == ["id", "run_id", "slug", "brief_hash", "persona", "persona_version",
                                          "model", "params"]
    assert "attempts" in columns(path, "calls") and "cost" in columns(path, "calls")
    assert columns(path, "panel_members") == ["panel_id", "persona", "verdict_id", "cached"]
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"briefs", "persona_versions", "runs", "calls", "verdicts", "panels", "verdicts_fts"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_run_once(tmp_path):
    path = tmp_path / "p.db"
    Store(path).close()
    store = Store(path)
    names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]
    assert names[0] == "m001_initial" and len(names) == len(set(names))
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_cache_key_covers_every_part():
    base = cache_key("v1", "h1", "m", {"temperature": None, "max_tokens": None})
    assert base != cache_key("v2", "h1", "m", {"temperature": None, "max_tokens": None})
    assert base != cache_key("v1", "h2", "m", {"temperature": None, "max_tokens": None})
    assert base != cache_key("v1", "h1", "m2", {"temperature": None, "max_tokens": None})
    assert base != cache_key("v1", "h1", "m", {"temperature": 0.2, "max_tokens": None})
    assert base == cache_key("v1", "h1", "m", {"max_tokens": None, "temperature": None})


def test_not_a_database_is_a_clear_error(tmp_path):
    import pytest

    from panel.core.errors import StoreError

    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the panel database"):
        Store(path)
