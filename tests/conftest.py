"""Shared fixtures: a temp workspace (copies of this repo's personas and briefs), a temp
database, and the scripted model reset around every test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's real environment or writes into the repository."""
    for var in ("PANEL_MODEL", "PANEL_DB", "PANEL_API_BASE", "PANEL_CONCURRENCY", "PANEL_HOME"):
        monkeypatch.delenv(var, raising=False)
    from panel.models import scripted

    scripted.reset()
    yield
    scripted.reset()


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A workspace folder with the repository's personas and briefs; the CLI runs in it."""
    home = tmp_path / "ws"
    shutil.copytree(REPO / "personas", home / "personas")
    shutil.copytree(REPO / "tool_briefs", home / "tool_briefs")
    (home / "outputs").mkdir()
    monkeypatch.setenv("PANEL_HOME", str(home))
    monkeypatch.chdir(home)
    return home


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
import sys as _sys

_sys.path.insert(0, str(Path(__file__).parent))
