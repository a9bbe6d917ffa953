"""Provider keys never reach the database, the reports or the output.

A fake key is planted in the environment of real `panel review` processes that talk to the fake
OpenAI server — which, like some real providers, echoes the key back in its error messages. Then
every file the runs left behind (database, WAL, reports) and everything they printed is scanned.
"""

from __future__ import annotations

import json

import fake_openai
import pytest
from reliability_helpers import MODEL, FakeOpenAI, run_panel, subprocess_env

PLANTED = "sk-test-PLANTED-SECRET-1234567890abcdef"
pytestmark = pytest.mark.slow  # real `panel` processes

NEEDLES = [PLANTED, "PLANTED-SECRET", "1234567890abcdef"]  # the key, or a recognisable part of it


class LeakyProvider(FakeOpenAI):
    """Answers queued 401s and 500s with the caller's key in the message, and notes the keys
    it was sent (so the test knows the planted key really was used)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.echo: list[int] = []  # statuses to answer with, before the ordinary fault queue

    async def _completion(self, raw: bytes):
        if self.echo:
            status = self.echo.pop(0)
            with self._lock:
                self._requests += 1
            message = f"Incorrect API key provided: {PLANTED}. You can find your key at https://example.com."
            if status == 500:
                message = f"upstream failed for Authorization: Bearer {PLANTED}"
            body = json.dumps({"error": {"message": message, "type": "error", "code": None}}).encode()
            return status, body, {"Retry-After": "0"}
        return await super()._completion(raw)


@pytest.fixture
def provider(monkeypatch):
    seen: list[str] = []
    real = fake_openai._read_request

    async def recording(reader):
        request = await real(reader)
        if request is not None:
            seen.append(request[2].get("authorization", ""))
        return request

    monkeypatch.setattr(fake_openai, "_read_request", recording)
    with LeakyProvider() as srv:
        srv.authorizations = seen
        yield srv


def scan(text_or_bytes, where: str) -> None:
    data = text_or_bytes if isinstance(text_or_bytes, bytes) else text_or_bytes.encode()
    for needle in NEEDLES:
        assert needle.encode() not in data, f"the planted key leaked into {where}"


def test_planted_key_never_leaks(workspace, make_brief, provider):
    make_brief("quintet")  # seats all five personas
    env = subprocess_env(workspace, OPENAI_API_KEY=PLANTED, LITELLM_LOG="DEBUG")
    base = ["review", "quintet", "--model", MODEL, "--api-base", provider.url, "--concurrency", "1"]
    runs = []

    # 1. A provider error that quotes the key, retried to the end; unparseable answers kept raw.
    provider.echo = [500] * 4
    provider.add_faults("non_json", "non_json", "non_json")
    runs.append(run_panel(workspace, *base, "--json", env=env))
    # 2. An authentication failure that quotes the key (stops the rest of the batch).
    provider.echo = [401]
    runs.append(run_panel(workspace, *base, "--fresh", env=env))
    # 3. A normal run that completes the panel (the table output, not JSON).
    runs.append(run_panel(workspace, *base, env=env))

    assert [r.returncode for r in runs] == [1, 1, 0], [r.stderr for r in runs]
    assert any(PLANTED in auth for auth in provider.authorizations)  # the key was really used
    out = json.loads(runs[0].stdout)  # --json: one document on stdout, even with litellm at DEBUG
    statuses = sorted(v["status"] for v in out["panels"][0]["verdicts"])
    assert statuses == ["error", "ok", "ok", "ok", "unscored"]

    for i, run in enumerate(runs):
        scan(run.stdout, f"stdout of run {i + 1}")
        scan(run.stderr, f"stderr of run {i + 1}")
    files = [p for p in workspace.rglob("*") if p.is_file()]
    db_files = [p for p in files if p.name.startswith("panel.db")]
    assert db_files and any(p.suffix == ".md" for p in files)
    for path in files:
        scan(path.read_bytes(), str(path.relative_to(workspace)))

    # The errors were stored, and say what happened, without the key.
    import sqlite3

    conn = sqlite3.connect(workspace / "outputs" / "panel.db")
    try:
        errors = [r[0] for r in conn.execute("SELECT error FROM verdicts WHERE status = 'error'")]
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    scan(dump, "the database dump")
    assert any("authentication failed" in e and "[redacted]" in e for e in errors)
    assert any("InternalServerError" in e and "[redacted]" in e for e in errors)
