"""Shared fixtures: a temp workspace (a copy of this repo's personas, and an empty tool_briefs/
that tests fill with `make_brief`), a temp database, and the scripted model reset around every
test.

Tests build the briefs they review, so every seat count, call count and ship % they assert
follows from a panel the test itself wrote down, not from the demo briefs in tool_briefs/
(those are checked as data in tests/test_briefs.py, and `panel init` ships them)."""

from __future__ import annotations

import os
import shutil
import sys
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No test reads panel's settings from the developer's environment: every PANEL_* variable is
    unset (a test that wants one sets it). Every setting panel takes from the environment is named
    PANEL_* (PANEL_ROUTER, PANEL_WORKERS, PANEL_TIMEOUT, ...), so one added later is unset too.
    Provider credentials (OPENAI_API_KEY and the like) are left as they are."""
    for var in [name for name in os.environ if name.startswith("PANEL_")]:
        monkeypatch.delenv(var, raising=False)
    from panel.models import scripted

    scripted.reset()
    yield
    scripted.reset()


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A workspace folder with the repository's personas and no briefs yet; the CLI runs in it."""
    home = tmp_path / "ws"
    shutil.copytree(REPO / "personas", home / "personas")
    (home / "tool_briefs").mkdir()
    (home / "outputs").mkdir()
    monkeypatch.setenv("PANEL_HOME", str(home))
    monkeypatch.chdir(home)
    return home


@pytest.fixture
def make_brief(workspace):
    """Write a valid brief and return its path: `make_brief(slug, panel=[...], name=..., ...)`.

    It goes to the workspace's tool_briefs/<slug>.yaml (or `folder`/<slug>.yaml), written by
    ToolBrief(...).to_yaml(), so it is exactly what `panel briefs new` would write. `panel=None`
    seats every persona (all five). The name defaults to the slug in title case, and the
    description starts with the name. Any other ToolBrief field (tagline, category, links) may
    be passed as a keyword."""
    from panel.core.brief import ToolBrief

    def make(slug: str, *, panel: list[str] | None = None, name: str | None = None, vendor: str = "Example Labs",
             pricing: dict | None = None, licence: str = "MIT", description: str | None = None,
             folder: Path | None = None, **fields) -> Path:
        name = name or slug.replace("-", " ").title()
        fields.setdefault("tagline", f"{name}, a tool the tests made up")
        fields.setdefault("category", "Developer Tools")
        brief = ToolBrief(
            slug=slug, name=name, vendor=vendor, licence=licence, panel=panel,
            pricing=pricing or {"model": "free", "entry": "Free"},
            description=description or f"{name} is a developer tool from {vendor}, written for panel's tests.",
            **fields,
        )
        target = (folder or workspace / "tool_briefs") / f"{slug}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(brief.to_yaml(), encoding="utf-8")
        return target

    return make


@pytest.fixture
def run_cli():
    """Invoke the real CLI in process; returns the click Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from panel.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


# tests/fake_openai.py is imported by tests as a plain module.
sys.path.insert(0, str(Path(__file__).parent))


def stored_calls(workspace: Path) -> list[dict]:
    """Every row of the workspace store's `calls` table, oldest first (for tests that count attempts,
    deployments and outcomes)."""
    con = sqlite3.connect(workspace / "outputs" / "panel.db")
    con.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in con.execute("SELECT * FROM calls ORDER BY id")]
    finally:
        con.close()
