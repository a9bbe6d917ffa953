"""What a person sees (issue 11, part 4): each case here was seen by trying the tool as a new user."""

import json
import os
import stat

import pytest


def test_version(run_cli):
    from panel import __version__

    res = run_cli("--version")
    assert res.exit_code == 0 and res.stdout.strip() == f"panel {__version__}"


def test_flags_show_no_value_placeholder(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    text = run_cli("review", "--help").stdout
    assert "--fresh" in text and "--json" in text and "<bool>" not in text


def test_pages_and_reports_are_readable_like_any_file_the_user_writes(workspace, run_cli, make_brief):
    old = os.umask(0o022)
    try:
        make_brief("one", panel=["builder"])
        make_brief("two", panel=["builder"])
        assert run_cli("compare", "one", "two", "--model", "scripted/p").exit_code == 0
        assert run_cli("publish", "one", "two").exit_code == 0
        assert run_cli("site").exit_code == 0
    finally:
        os.umask(old)
    written = [*(workspace / "outputs").glob("*.md"), *(workspace / "outputs" / "compare").iterdir(),
               *(workspace / "outputs" / "site").rglob("*.html")]
    assert written and {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}


@pytest.mark.slow
def test_embedded_default_says_so_at_the_top(workspace, run_cli, make_brief, monkeypatch):
    """Pages from the embedded default carry the caveat; pages from another model do not. (The
    store is filled through the scripted model; only the model name decides the caveat. The
    comparison's head-to-head is then judged by the real embedded model, which the panels name.)"""
    import sqlite3

    make_brief("one", panel=["builder"])
    make_brief("two", panel=["builder"])
    assert run_cli("review", "one", "two", "--model", "scripted/p").exit_code == 0
    assert run_cli("publish", "one", "two").exit_code == 0
    assert run_cli("site").exit_code == 0
    assert "Embedded model" not in (workspace / "outputs" / "one.md").read_text()
    assert "Embedded model" not in (workspace / "outputs" / "site" / "tools" / "one.html").read_text()
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:  # as if the default model had written them
        conn.execute("UPDATE verdicts SET model = 'local/smollm2'")
    assert run_cli("review", "one", "--model", "scripted/p").exit_code == 0  # reused (same cache key); report rewritten
    assert run_cli("compare", "one", "two").exit_code == 0 and run_cli("site").exit_code == 0
    for page in ("one.md", "compare/one-vs-two.md", "compare/one-vs-two.html", "site/index.html",
                 "site/tools/one.html"):
        assert "Embedded model" in (workspace / "outputs" / page).read_text(), page


def test_briefs_validate_lists_every_problem(workspace, run_cli):
    bad = workspace / "typo.yaml"
    bad.write_text("slug: typo\nname: Typo\ntaglne: misspelt\ncategory: c\nvendor: v\ndescription: d\n"
                   "pricing: {model: free, entry: Free}\nlicence: MIT\n")
    res = run_cli("briefs", "validate", str(bad))
    assert res.exit_code == 2
    assert "tagline: required field is missing" in res.stderr
    assert "taglne: unknown field, did you mean 'tagline'?" in res.stderr


def test_outside_a_workspace_messages_suggest_init(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PANEL_HOME", str(tmp_path))
    for args in (["review", "smollm3"], ["site"], ["audit", "runs"], ["personas", "list"]):
        res = run_cli(*args)
        assert res.exit_code == 2 and "panel init" in res.stderr, (args, res.stderr)


def test_site_counts_in_words(workspace, run_cli, make_brief):
    make_brief("one", panel=["builder"])
    make_brief("two", panel=["builder"])
    assert run_cli("compare", "one", "two", "--model", "scripted/p").exit_code == 0
    assert run_cli("publish", "one", "two").exit_code == 0
    assert run_cli("compare", "one", "two").exit_code == 0  # over the published panels: on the site
    res = run_cli("site")
    assert "2 tools, 1 comparison" in res.stderr and "1 comparisons" not in res.stderr


def test_off_a_terminal_each_finished_panel_is_a_line_on_stderr(workspace, run_cli, make_brief):
    make_brief("one", panel=["builder", "skeptic"])
    make_brief("two", panel=["builder"])
    res = run_cli("review", "one", "two", "--model", "scripted/p")
    lines = [line for line in res.stderr.splitlines() if " reported · " in line]
    assert sorted(line.split(":")[0] for line in lines) == ["one", "two"]
    assert any("2/2 reported" in line for line in lines)
    quiet = run_cli("review", "one", "--model", "scripted/p", "--json")
    assert quiet.stderr == "" and json.loads(quiet.stdout)


def test_audit_show_fits_80_columns(workspace, run_cli, make_brief, monkeypatch):
    make_brief("a-tool-with-a-rather-long-name", panel=["builder"])
    assert run_cli("review", "a-tool-with-a-rather-long-name", "--model", "scripted/p").exit_code == 0
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("audit", "show", "1").stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    for needed in ("attempt(s)", "tokens", "$0", "s · format json_schema"):
        assert needed in text, needed


def _commands(group, path=()):
    """Every command of the CLI, as (its words, the click command); a group is walked into."""
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_help_text_shows_its_square_brackets(run_cli, monkeypatch):
    """`audit search --help` said "Matches are marked ." : rich took "[like this]" for markup and
    dropped it. Every bracketed phrase written in a command's help must reach the reader."""
    import re

    import typer

    from panel.cli.app import app

    monkeypatch.setenv("COLUMNS", "400")  # one line per option: the phrase is not wrapped apart
    lost = []
    for words, command in _commands(typer.main.get_command(app)):
        written = " ".join([command.help or "", *(getattr(p, "help", None) or "" for p in command.params)])
        shown = " ".join(run_cli(*words, "--help").stdout.split())
        lost += [f"{' '.join(words)}: {phrase}" for phrase in re.findall(r"\[[^\]]*\]", written)
                 if " ".join(phrase.split()) not in shown]
    assert lost == []
