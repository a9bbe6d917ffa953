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
    assert columns(path, "panel_members") == ["panel_id", "persona", "verdict_id", "cached", "samples", "stability",
                                              "jurors"]
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"briefs", "persona_versions", "runs", "calls", "verdicts", "panels", "verdicts_fts"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_database_is_migrated_forward_once_and_keeps_its_rows(tmp_path, monkeypatch):
    """migrate() applies only what a database lacks, in order, and never again on a later open.
    (Each migration is wrapped to count its runs: that is panel's bookkeeping, not a constraint.)"""
    from panel.store import db as db_module

    shipped = list(db_module.MIGRATIONS)
    runs: dict[str, int] = {}

    def counted(migration):
        def run(database):
            runs[migration.__name__] = runs.get(migration.__name__, 0) + 1
            migration(database)

        run.__name__ = migration.__name__
        return run

    path = tmp_path / "p.db"
    # A database from an older release: only the first two migrations existed then.
    monkeypatch.setattr(db_module, "MIGRATIONS", [counted(m) for m in shipped[:2]])
    with Store(path) as old:
        old.db.execute("INSERT INTO votes VALUES ('widget', 'ada', 'ship', '2025-01-01T00:00:00.000+00:00')")
        old.db.conn.commit()
    assert runs == {m.__name__: 1 for m in shipped[:2]}

    runs.clear()
    monkeypatch.setattr(db_module, "MIGRATIONS", [counted(m) for m in shipped])
    with Store(path) as store:
        assert runs == {m.__name__: 1 for m in shipped[2:]}  # only the missing ones ran
        applied = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY rowid").fetchall()]
        assert applied == [m.__name__ for m in shipped]  # in the order they shipped
        assert store.db.execute("SELECT slug, voter, vote FROM votes").fetchall() == [("widget", "ada", "ship")]
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert "editor_cost" in columns(path, "comparisons")  # m004's column reached the old database

    runs.clear()
    Store(path).close()
    assert runs == {}  # an up-to-date database runs nothing


def test_the_cache_reuses_only_the_newest_ok_verdict_of_the_same_key(tmp_path):
    """queries.find_cached: errors and unscored answers are never reused, a newer ok verdict wins,
    other keys are not returned, and keys are looked up in chunks (SQLite caps bound parameters)."""
    from types import SimpleNamespace

    from panel.core.brief import ToolBrief
    from panel.core.verdict import Verdict
    from panel.models.seam import CallOutcome, ModelSettings
    from panel.review.plan import VerdictJob
    from panel.store.queries import find_cached

    brief = ToolBrief(slug="widget", name="Widget", tagline="t", category="c", vendor="v", description="d",
                      pricing={"model": "free", "entry": "Free"}, licence="MIT")
    persona = SimpleNamespace(name="skeptic", version="v1", file_text="name: skeptic\n", system_source="s",
                              prompt_source="p")

    def verdict(headline):
        return Verdict(rationale="r", verdict="ship", confidence=0.5, headline=headline, strengths=[], risks=[],
                       competitors=[])

    with Store(tmp_path / "p.db") as store:
        digest = store.save_brief(brief)
        store.save_persona_version(persona)
        run_id = store.start_run("review", "m", ["widget"], 1)

        def record(key, status, headline=None):
            call = CallOutcome(persona="skeptic", persona_version="v1", model="m", status=status,
                               answer=verdict(headline) if status == "ok" else None, raw="x",
                               error=None if status == "ok" else "failed")
            return store.record_call(run_id, VerdictJob(persona, brief, digest, ModelSettings(model="m"), key), call)

        record("a", "ok", "older")
        record("a", "error")
        newest_ok = record("a", "ok", "newer")
        record("a", "unscored")  # a later failure does not displace the ok verdict
        record("b", "error")
        record("b", "unscored")
        record("c", "ok", "not asked for")
        far = record("k-550", "ok", "past the first chunk")

        found = find_cached(store.db, ["a", "b", "missing"])
        assert set(found) == {"a"}
        assert (found["a"]["id"], found["a"]["headline"], found["a"]["status"]) == (newest_ok, "newer", "ok")
        many = find_cached(store.db, [f"k-{n}" for n in range(600)])
        assert list(many) == ["k-550"] and many["k-550"]["id"] == far


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
