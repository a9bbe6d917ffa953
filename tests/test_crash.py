"""Crashes and concurrent writers, with real `panel review` processes and a real HTTP model server.

- A review of many briefs killed with SIGKILL leaves a sound database, and the same command run
  again completes every panel, reusing what was stored: no verdict lost, none duplicated.
- Two `panel review` processes writing to one (new) database at once both finish, with no
  "database is locked" failure, and every model answer is stored exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess

import pytest
from reliability_helpers import (
    MODEL,
    PERSONAS,
    FakeOpenAI,
    count,
    panel_exe,
    run_panel,
    subprocess_env,
    verdict_rows,
    wait_for,
    write_briefs,
)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def check_database_sound(db_path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def latest_panels_complete(db_path, slugs) -> None:
    conn = sqlite3.connect(db_path)
    try:
        for slug in slugs:
            row = conn.execute(
                "SELECT id, seated, reported FROM panels WHERE slug = ? ORDER BY id DESC LIMIT 1", [slug]
            ).fetchone()
            assert row is not None, f"no panel stored for {slug}"
            panel_id, seated, reported = row
            assert seated == reported == len(PERSONAS), slug
            members = conn.execute(
                "SELECT m.persona, v.status, v.slug FROM panel_members m JOIN verdicts v ON v.id = m.verdict_id"
                " WHERE m.panel_id = ?", [panel_id]
            ).fetchall()
            assert sorted(p for p, _, _ in members) == sorted(PERSONAS)
            assert {(s, sl) for _, s, sl in members} == {("ok", slug)}
    finally:
        conn.close()


@pytest.fixture
def server():
    with FakeOpenAI(latency=0.1) as srv:
        yield srv


@pytest.mark.slow  # `panel review` subprocesses
def test_sigkill_mid_run_then_the_same_command_completes(workspace, server):
    slugs = write_briefs(workspace / "batch", 30)
    db = workspace / "outputs" / "panel.db"
    args = ["review", "batch", "--model", MODEL, "--api-base", server.url, "--concurrency", "4", "--json"]
    proc = subprocess.Popen(
        [panel_exe(), *args], cwd=workspace, env=subprocess_env(workspace),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        stored_some = wait_for(lambda: count(db, "SELECT count(*) FROM verdicts") >= 25, timeout=90)
        still_running = proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert stored_some and still_running, "the run ended before it could be killed mid-way"
    assert proc.returncode == -signal.SIGKILL

    check_database_sound(db)
    before = verdict_rows(db)
    assert 25 <= len(before) < 150
    assert {v["status"] for v in before} == {"ok"}
    assert count(db, "SELECT count(*) FROM runs WHERE status = 'running' AND finished_at IS NULL") == 1

    again = run_panel(workspace, *args)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert len(out["panels"]) == 30
    assert all(p["reported"] == p["seated"] == 5 for p in out["panels"])
    assert out["calls_reused"] == len(before)
    assert out["calls_made"] == 150 - len(before)

    check_database_sound(db)
    after = verdict_rows(db)
    # Nothing lost: every verdict stored before the kill is still there, unchanged.
    by_id = {v["id"]: v for v in after}
    assert all(by_id.get(v["id"]) == v for v in before)
    # Nothing duplicated: one ok verdict per (persona version, brief, model, params), 30 x 5 of them.
    assert len(after) == 150
    assert len({v["cache_key"] for v in after}) == 150
    assert len({(v["slug"], v["persona"]) for v in after}) == 150
    assert count(db, "SELECT count(*) FROM calls") == 150
    latest_panels_complete(db, slugs)


@pytest.mark.slow  # `panel review` subprocesses
def test_two_writers_on_one_new_database(workspace):
    everything = workspace / "all"
    write_briefs(everything, 16)
    first, second = workspace / "first", workspace / "second"
    for folder, numbers in ((first, range(0, 10)), (second, range(6, 16))):  # 4 briefs in both
        folder.mkdir()
        for n in numbers:
            shutil.copy(everything / f"tool-{n:02d}.yaml", folder)
    db = workspace / "outputs" / "shared.db"
    assert not db.exists()  # both processes also race to create the schema

    with FakeOpenAI(latency=0.05) as srv:
        procs = [
            subprocess.Popen(
                [panel_exe(), "review", str(folder), "--model", MODEL, "--api-base", srv.url,
                 "--concurrency", "4", "--db", str(db), "--json"],
                cwd=workspace, env=subprocess_env(workspace),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for folder in (first, second)
        ]
        results = [p.communicate(timeout=180) for p in procs]
        requests = srv.requests

    for proc, (stdout, stderr) in zip(procs, results):
        assert "locked" not in stderr.lower()
        assert proc.returncode == 0, stderr
        panels = json.loads(stdout)["panels"]
        assert len(panels) == 10 and all(p["reported"] == p["seated"] == 5 for p in panels)

    check_database_sound(db)
    verdicts = verdict_rows(db)
    # Every model answer stored exactly once, linked to its own call.
    assert len(verdicts) == count(db, "SELECT count(*) FROM calls") == requests
    assert len({v["call_id"] for v in verdicts}) == len(verdicts)
    assert {v["status"] for v in verdicts} == {"ok"}
    # The four shared briefs may have been reviewed by both processes at the same moment; each
    # (brief, persona) pair has at least one verdict and at most one per process.
    pairs = {}
    for v in verdicts:
        pairs.setdefault((v["slug"], v["persona"]), set()).add(v["run_id"])
    assert len(pairs) == 16 * 5
    assert all(len(runs) == sum(1 for v in verdicts if (v["slug"], v["persona"]) == pair)
               for pair, runs in pairs.items())
    assert count(db, "SELECT count(*) FROM runs WHERE status = 'complete'") == 2
    latest_panels_complete(db, [f"tool-{n:02d}" for n in range(16)])


def test_schema_migration_waits_for_another_process_applying_it(tmp_path, monkeypatch):
    """A second process that finds a migration missing, while a first is applying it, waits for
    the write lock and then sees it applied; a deferred transaction failed with "locked" here."""
    import threading

    from panel.store import db as store_module
    from panel.store.store import Store

    db = tmp_path / "panel.db"
    Store(db).close()

    def m999_extra(database):
        database.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY)")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, m999_extra])
    holding, release = threading.Event(), threading.Event()

    def other_process():  # another connection, as another process would have
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO _migrations VALUES ('m999_extra', 'now')")
        holding.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    writer = threading.Thread(target=other_process)
    writer.start()
    assert holding.wait(10)
    # Commit only once this store has read `_migrations` (and found m999 missing).
    real_execute = store_module.Database.execute

    def execute_then_release(self, sql, *args, **kwargs):
        result = real_execute(self, sql, *args, **kwargs)
        if sql.startswith("SELECT name FROM _migrations"):
            threading.Timer(0.2, release.set).start()
        return result

    monkeypatch.setattr(store_module.Database, "execute", execute_then_release)
    try:
        opened = Store(db)  # must not raise StoreError("database is locked")
    finally:
        release.set()
        writer.join(10)
    try:
        names = [r[0] for r in opened.db.execute("SELECT name FROM _migrations").fetchall()]
        assert names.count("m999_extra") == 1
    finally:
        opened.close()
