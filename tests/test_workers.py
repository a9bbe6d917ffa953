"""`--workers N`: a batch's remote model calls made by forked worker processes.

Every test drives the real CLI against tests/fake_openai.py, a real OpenAI-compatible server on
127.0.0.1 that counts what reaches it. The CLI runs in this process, so its workers are this
process's children: a test can see them, and kill one.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import sqlite3

import pytest
from reliability_helpers import FakeOpenAI

from panel.models import seam, workers
from panel.models.workers import workers_to_start

pytestmark = pytest.mark.skipif(not workers.available(), reason="worker processes are forked: Linux only")

BRIEFS = ["alpha", "bravo", "charlie", "delta"]  # four briefs x five personas = 20 calls
# Workers make the calls litellm makes: a server reached through litellm's own OpenAI client (calls
# to openai/... go through the openai SDK in process, panel.models.openai_sdk).
MODEL = "custom_openai/fake"


class CountingFake(FakeOpenAI):
    """The fake server, also keeping the most chat-completion requests it ever had in flight at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = self.peak = 0
        self.on_request = None  # called with the request's number (1-based) as it arrives

    async def _completion(self, raw: bytes):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.on_request is not None:
            self.on_request(self.requests)
        try:
            return await super()._completion(raw)
        finally:
            self.in_flight -= 1


@pytest.fixture
def server(workspace, make_brief, monkeypatch):
    for slug in BRIEFS:
        make_brief(slug)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with CountingFake(latency=0.2) as srv:
        yield srv


@pytest.fixture
def spies(monkeypatch):
    """Count the calls this process handed to workers, and the calls it made itself."""
    seen = {"to_workers": 0, "here": 0}
    to_worker, here = workers.WorkerPool.review, seam.ModelSeam._converse

    async def counted_to_worker(self, *args, **kwargs):
        seen["to_workers"] += 1
        return await to_worker(self, *args, **kwargs)

    async def counted_here(self, *args, **kwargs):
        seen["here"] += 1
        return await here(self, *args, **kwargs)

    monkeypatch.setattr(workers.WorkerPool, "review", counted_to_worker)
    monkeypatch.setattr(seam.ModelSeam, "_converse", counted_here)
    return seen


def review(run_cli, server, *args):
    res = run_cli("review", *BRIEFS, "--model", MODEL, "--api-base", server.url, "--json", *args)
    assert res.exit_code in (0, 1), res.stderr
    return res, json.loads(res.stdout)


def stored(workspace, run_id: int) -> dict[tuple[str, str], dict]:
    """(slug, persona) -> the call row and its verdict, for one run."""
    con = sqlite3.connect(workspace / "outputs" / "panel.db")
    con.row_factory = sqlite3.Row
    try:
        rows = con.execute("SELECT c.slug, c.persona, c.request, c.response, c.outcome, c.error, c.attempts,"
                           " v.verdict, v.confidence, v.rationale FROM calls c LEFT JOIN verdicts v ON v.call_id = c.id"
                           " WHERE c.run_id = ?", [run_id]).fetchall()
    finally:
        con.close()
    return {(r["slug"], r["persona"]): dict(r) for r in rows}


def test_how_many_workers_a_batch_starts():
    cores = workers.default_workers()
    assert workers_to_start(None, 1000, 50) == min(cores, 20)  # one per core by default
    assert workers_to_start(3, 1000, 50) == 3
    assert workers_to_start(4, 100, 50) == 2  # never more than the full windows of calls
    assert workers_to_start(2, 49, 50) == 0  # less than one window: one round of calls, made here
    assert workers_to_start(0, 1000, 50) == 0  # --workers 0: everything in this process
    assert workers_to_start(None, 0, 8) == 0  # nothing remote to call (embedded model, all cached)


def test_a_batch_made_by_workers_stores_what_one_made_here_does(run_cli, server, workspace, spies):
    res, out = review(run_cli, server, "--concurrency", "4", "--workers", "2")
    assert res.exit_code == 0 and out["workers"] == 2
    assert spies == {"to_workers": 20, "here": 0}  # every call was made in a worker process
    assert server.requests == 20 and out["calls_made"] == 20
    assert all(p["reported"] == p["seated"] == 5 for p in out["panels"])
    by_workers = stored(workspace, out["run_id"])

    res, again = review(run_cli, server, "--concurrency", "4", "--workers", "0", "--fresh")
    assert res.exit_code == 0 and spies["here"] == 20 and again["workers"] == 0
    in_process = stored(workspace, again["run_id"])
    assert by_workers.keys() == in_process.keys() and len(by_workers) == 20
    for key, row in by_workers.items():  # the same conversation, answer and verdict, whoever made the call
        assert row == in_process[key], key


def test_workers_keep_the_one_cap_on_calls_in_flight(run_cli, server, spies):
    res, out = review(run_cli, server, "--concurrency", "3", "--workers", "2")
    assert res.exit_code == 0 and server.requests == 20
    assert out["workers"] == 2 and spies["to_workers"] == 20
    assert server.peak == 3  # the cap is the main process's, across both workers


def test_a_bad_key_found_by_one_worker_stops_the_calls_to_every_worker(run_cli, server, workspace):
    server.add_faults("401")
    res, out = review(run_cli, server, "--concurrency", "1", "--workers", "2")
    assert res.exit_code == 1 and out["workers"] == 2
    assert server.requests == 1  # the 401 was not retried, and no other call was sent with that key
    errors = [row["error"] for row in stored(workspace, out["run_id"]).values()]
    assert sum(e.startswith("authentication failed") for e in errors) == 1
    assert sum(e.startswith("not attempted: authentication failed") for e in errors) == 19


def test_a_worker_that_dies_fails_only_its_calls_in_flight(run_cli, server, workspace):
    killed = []

    def kill_a_worker(number: int) -> None:
        if number == 5 and not killed:  # four calls are in flight, two in each worker
            victim = next(p for p in multiprocessing.active_children() if p.name == "panel-worker-1")
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    server.on_request = kill_a_worker
    res, out = review(run_cli, server, "--concurrency", "4", "--workers", "2")
    assert killed and res.exit_code == 1  # a partial batch, not a crash
    rows = stored(workspace, out["run_id"])
    assert len(rows) == 20  # every call has its record
    lost = [r for r in rows.values() if r["outcome"] == "error"]
    assert 1 <= len(lost) <= 4
    assert all(r["error"] == "panel's worker process stopped (exit code -9)" for r in lost)
    assert sum(r["outcome"] == "ok" for r in rows.values()) == 20 - len(lost)  # the other worker made the rest

    server.on_request = None
    res, again = review(run_cli, server, "--concurrency", "4", "--workers", "2")
    assert res.exit_code == 0
    assert again["calls_made"] == len(lost) and again["calls_reused"] == 20 - len(lost)


def test_no_worker_outlives_its_batch(run_cli, server):
    res, out = review(run_cli, server, "--concurrency", "2", "--workers", "2")
    assert res.exit_code == 0 and out["workers"] == 2
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("panel-worker")]


def test_a_worker_ignores_ctrl_c_and_stops_when_its_pipe_closes():
    """Ctrl-C reaches the whole process group; the main process decides, and closes the pipes."""

    async def start_and_close():
        pool = workers.WorkerPool(1, concurrency=1)
        await pool.start()
        process = pool._workers[0].process
        os.kill(process.pid, signal.SIGINT)
        await asyncio.sleep(0.3)
        alive_after_ctrl_c = process.is_alive()
        await pool.close()
        return alive_after_ctrl_c, process.exitcode

    alive_after_ctrl_c, exitcode = asyncio.run(start_and_close())
    assert alive_after_ctrl_c and exitcode == 0


def test_without_worker_processes_the_batch_runs_in_process(run_cli, server, spies, monkeypatch):
    def no_pipes():
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(workers.os, "pipe", no_pipes)
    res, out = review(run_cli, server, "--concurrency", "4", "--workers", "2")
    assert res.exit_code == 0 and out["calls_made"] == 20 and out["workers"] == 0
    assert spies == {"to_workers": 0, "here": 20}
    assert "could not start worker processes ([Errno 24] Too many open files)" in res.stderr


def test_a_pool_that_cannot_start_leaves_no_pipe_open(monkeypatch):
    real, made = os.pipe, []

    def pipe():
        if len(made) == 3:  # two workers need four pipes: the last one fails
            raise OSError(24, "Too many open files")
        made.append(real())
        return made[-1]

    monkeypatch.setattr(workers.os, "pipe", pipe)
    with pytest.raises(OSError):
        asyncio.run(workers.WorkerPool(2, concurrency=1).start())
    for fd in (fd for pair in made for fd in pair):
        with pytest.raises(OSError):
            os.fstat(fd)


@pytest.mark.parametrize("where", ["flag", "env"])
@pytest.mark.parametrize("value", ["-1", "65", "two", "1.5"])
def test_a_bad_worker_count_is_refused_before_anything_is_written(run_cli, server, workspace, monkeypatch,
                                                                    where, value):
    args = ["review", *BRIEFS, "--model", MODEL, "--api-base", server.url]
    if where == "flag":
        args += ["--workers", value]
    else:
        monkeypatch.setenv("PANEL_WORKERS", value)
    res = run_cli(*args)
    assert res.exit_code == 2 and "--workers" in res.stderr
    assert server.requests == 0 and not (workspace / "outputs" / "panel.db").exists()
