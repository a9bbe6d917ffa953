"""Shared helpers for the reliability tests (faults, crashes, hostile input, secrets, budget).

They drive the real `panel` CLI — in process through the `run_cli` fixture, or as a subprocess
through the installed console script — against tests/fake_openai.py, a real OpenAI-compatible
HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

try:
    from fake_openai import FakeOpenAI
except ImportError:  # e.g. pytest --import-mode=importlib
    sys.path.insert(0, str(HERE))
    from fake_openai import FakeOpenAI

__all__ = [
    "FakeOpenAI", "RecordingFake", "panel_exe", "subprocess_env", "write_briefs", "BRIEF_TEMPLATE",
    "tree_snapshot", "table_dump", "verdict_rows", "count", "wait_for", "run_panel", "fresh_python",
]

MODEL = "openai/fake"
PERSONAS = ("builder", "business", "creative", "futurist", "skeptic")

BRIEF_TEMPLATE = """\
slug: {slug}
name: {name}
tagline: A generated tool for reliability tests
category: Developer Tools
vendor: Test Vendor {n}
description: >-
  {name} is a generated tool brief. It exists so the reliability tests can review many
  briefs at once; number {n} of the batch.
pricing:
  model: free
  entry: Free
licence: MIT
links:
  homepage: https://example.com/{slug}
"""


class RecordingFake(FakeOpenAI):
    """The fake server, also noting when each chat-completion request arrived (monotonic clock),
    so a test can see the gap a client left after a 429 with Retry-After."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrivals: list[float] = []

    async def _completion(self, raw: bytes):
        self.arrivals.append(time.monotonic())
        return await super()._completion(raw)

    def reset(self) -> None:
        super().reset()
        self.arrivals.clear()


def panel_exe() -> str:
    """The installed `panel` console script of this interpreter's environment."""
    beside = Path(sys.executable).parent / "panel"
    found = str(beside) if beside.exists() else shutil.which("panel")
    assert found, "the panel console script is not installed (pip install -e .)"
    return found


def subprocess_env(home: Path, **extra: str) -> dict:
    """The environment for a `panel` subprocess: this workspace, no real keys, no TTY tricks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANEL_", "OPENAI_", "LITELLM_"))}
    env.update(PANEL_HOME=str(home), COLUMNS="200", NO_COLOR="1")
    env.update(extra)
    return env


def run_panel(home: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [panel_exe(), *map(str, args)], cwd=home, env=env or subprocess_env(home),
        capture_output=True, text=True, timeout=timeout,
    )


def write_briefs(folder: Path, count: int, prefix: str = "tool") -> list[str]:
    """`count` valid briefs named <prefix>-NN in `folder`; returns their slugs."""
    folder.mkdir(parents=True, exist_ok=True)
    slugs = []
    for n in range(count):
        slug = f"{prefix}-{n:02d}"
        (folder / f"{slug}.yaml").write_text(
            BRIEF_TEMPLATE.format(slug=slug, name=f"{prefix.title()} {n}", n=n), encoding="utf-8"
        )
        slugs.append(slug)
    return slugs


def tree_snapshot(folder: Path) -> dict[str, str]:
    """Every path under `folder`, with a hash of each file's bytes (folders included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def table_dump(db_path: Path) -> list[str]:
    """The whole database as SQL text. immutable=1 reads the file as it is, without creating
    -wal/-shm files or taking locks, so taking the snapshot changes nothing."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def count(db_path: Path, sql: str, params=()) -> int:
    if not Path(db_path).exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet


def verdict_rows(db_path: Path, where: str = "1", params=()) -> list[dict]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM verdicts WHERE {where} ORDER BY id", params)]
    finally:
        conn.close()


def wait_for(predicate, timeout: float = 60, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def fresh_python(code: str) -> str:
    """What `code` prints in a fresh interpreter (asserting it ran cleanly): for tests of what an
    import pulls in, which a process that already imported everything cannot show."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ), check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
