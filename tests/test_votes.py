"""Community votes: one per voter per tool, latest wins; a CSV is imported whole or not at all."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from panel.core.errors import VoteError
from panel.store.store import Store
from panel.inputs.votes import Vote, read_votes_csv
from panel.store.queries import tallies

KNOWN = {"widget", "gadget"}


@pytest.fixture
def briefs(make_brief):
    """The tools a vote may name: widget and gadget have briefs in the workspace."""
    for slug in sorted(KNOWN):
        make_brief(slug)


def votes_in(workspace: Path) -> list[tuple]:
    with sqlite3.connect(workspace / "outputs" / "panel.db") as conn:
        return conn.execute("SELECT slug, voter, vote, cast_at FROM votes ORDER BY slug, voter").fetchall()


def write(tmp_path: Path, text: str, name: str = "votes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- panel vote ----------------------------------------------------------------------------------------


def test_vote_records_and_a_second_vote_replaces_the_first(workspace, run_cli, briefs):
    res = run_cli("vote", "widget", "ship", "--voter", "ada")
    assert res.exit_code == 0, res.output
    assert "Recorded ship on widget from ada. Community: 100% ship over 1 vote." in res.stdout
    res = run_cli("vote", "widget", "skip", "--voter", "ada", "--json")
    data = json.loads(res.stdout)
    assert data["community"] == {"slug": "widget", "ships": 0, "skips": 1, "votes": 1, "pct": 0.0,
                                 "interval": [0.0, 79.3]}
    assert [(s, v, c) for s, v, c, _ in votes_in(workspace)] == [("widget", "ada", "skip")]


def test_vote_without_voter_uses_a_stable_local_id(workspace, run_cli, briefs, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "grace")
    assert run_cli("vote", "gadget", "SHIP").exit_code == 0
    assert run_cli("vote", "gadget", "skip").exit_code == 0
    assert [(s, v, c) for s, v, c, _ in votes_in(workspace)] == [("gadget", "local:grace", "skip")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-tool", "ship"], "unknown tool 'no-such-tool'"),
        (["widget", "maybe"], "vote must be ship or skip, not 'maybe'"),
        (["widget", "ship", "--voter", " "], "voter is empty"),
        (["Not A Slug", "ship"], "'Not A Slug' is not a valid slug"),
    ],
)
def test_bad_vote_exits_2_and_creates_nothing(workspace, run_cli, briefs, args, message):
    res = run_cli("vote", *args)
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: ") and message in res.stderr and res.stderr.count("\n") == 1
    assert not (workspace / "outputs" / "panel.db").exists()


def test_vote_may_name_a_tool_only_the_store_knows(workspace, run_cli, make_brief, tmp_path):
    # A brief reviewed from a file outside tool_briefs/ is known through the store.
    outside = make_brief("side-tool", folder=tmp_path / "elsewhere")
    assert not (workspace / "tool_briefs" / "side-tool.yaml").exists()
    assert run_cli("vote", "side-tool", "ship", "--voter", "x").exit_code == 2  # not known yet
    assert run_cli("review", str(outside), "--model", "scripted/demo").exit_code in (0, 1)
    assert run_cli("vote", "side-tool", "ship", "--voter", "x").exit_code == 0


# --- reading a CSV -------------------------------------------------------------------------------------


def test_csv_with_and_without_header(tmp_path):
    with_header = write(tmp_path, "slug,voter,vote,cast_at\nwidget,a,ship,2025-03-01T10:00:00Z\ngadget,b,skip\n")
    without = write(tmp_path, "widget,a,ship,2025-03-01\n\ngadget,b,SKIP,\n", "plain.csv")
    first = read_votes_csv(with_header, KNOWN)
    second = read_votes_csv(without, KNOWN)
    assert [(v.slug, v.voter, v.vote) for v in first] == [("widget", "a", "ship"), ("gadget", "b", "skip")]
    assert [(v.slug, v.voter, v.vote) for v in second] == [("widget", "a", "ship"), ("gadget", "b", "skip")]
    assert first[0].cast_at == "2025-03-01T10:00:00.000+00:00"
    assert second[0].cast_at == "2025-03-01T00:00:00.000+00:00"


def test_bad_csv_lists_every_bad_line(tmp_path):
    path = write(tmp_path, "\n".join([
        "slug,voter,vote,cast_at",
        "widget,a,ship",
        "widget,b,maybe",
        "nope,c,ship",
        "gadget,d,skip,yesterday",
        "gadget,e",
        "gadget,f,ship,2999-01-01",
        "gadget,,ship",
    ]) + "\n")
    with pytest.raises(VoteError) as info:
        read_votes_csv(path, KNOWN)
    message = str(info.value)
    assert message.startswith("votes.csv: line 3: vote must be ship or skip, not 'maybe'; line 4: unknown tool 'nope'")
    assert "line 5: cast_at 'yesterday' is not an ISO-8601 date or time" in message
    assert "line 6: expected 3 or 4 fields" in message
    assert "line 7: cast_at '2999-01-01' is in the future" in message
    assert "and 1 more bad lines; nothing was imported" in message
    assert "\n" not in message


def test_empty_or_header_only_csv_is_rejected(tmp_path):
    with pytest.raises(VoteError, match="no votes in the file"):
        read_votes_csv(write(tmp_path, "slug,voter,vote\n"), KNOWN)
    with pytest.raises(VoteError, match="file is empty"):
        read_votes_csv(write(tmp_path, "", "empty.csv"), KNOWN)


def test_same_voter_twice_in_a_file_keeps_the_latest(tmp_path):
    path = write(tmp_path, "widget,a,ship,2025-05-02\nwidget,a,skip,2025-05-01\ngadget,a,skip\ngadget,a,ship\n")
    votes = {(v.slug, v.voter): v.vote for v in read_votes_csv(path, KNOWN)}
    assert votes == {("widget", "a"): "ship", ("gadget", "a"): "ship"}


# --- panel votes import --------------------------------------------------------------------------------


def test_import_stores_votes_and_latest_wins_across_imports(workspace, run_cli, briefs, tmp_path):
    first = write(tmp_path, "slug,voter,vote,cast_at\nwidget,a,ship,2025-01-10\nwidget,b,skip,2025-01-10\n")
    res = run_cli("votes", "import", first)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"Imported 2 votes from {first}: 2 new, 0 changed, 0 unchanged."
    older = write(tmp_path, "widget,a,skip,2025-01-01\nwidget,b,ship,2025-02-01\n", "later.csv")
    res = run_cli("votes", "import", older, "--json")
    assert json.loads(res.stdout) == {"file": str(older), "votes": 2, "applied": 1, "stale": 1, "new": 0,
                                      "changed": 1, "unchanged": 0}
    assert [(v, c) for _, v, c, _ in votes_in(workspace)] == [("a", "ship"), ("b", "ship")]


def test_importing_the_same_file_twice_says_nothing_new_the_second_time(workspace, run_cli, briefs, tmp_path):
    """It said "Imported 2 votes" both times, as if the second import had added anything."""
    path = write(tmp_path, "widget,a,ship,2025-01-10\nwidget,b,skip,2025-01-10\n")
    assert run_cli("votes", "import", path).exit_code == 0
    res = run_cli("votes", "import", path)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"Imported 2 votes from {path}: 0 new, 0 changed, 2 unchanged."
    assert len(votes_in(workspace)) == 2


def test_bad_file_imports_nothing(workspace, run_cli, briefs, tmp_path):
    assert run_cli("vote", "widget", "ship", "--voter", "keep").exit_code == 0
    before = votes_in(workspace)
    path = write(tmp_path, "widget,a,ship\nwidget,b,skip\nwidget,c,perhaps\n")
    res = run_cli("votes", "import", path)
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "Error: votes.csv: line 3: vote must be ship or skip, not 'perhaps'; nothing was imported")
    assert votes_in(workspace) == before


def test_missing_file_is_a_one_line_error(workspace, run_cli, tmp_path):
    res = run_cli("votes", "import", tmp_path / "absent.csv")
    assert res.exit_code == 2 and "absent.csv: no such file" in res.stderr


def test_a_failed_save_rolls_back_the_whole_batch(workspace):
    store = Store(workspace / "outputs" / "panel.db")
    try:
        good = Vote("widget", "a", "ship", "2025-01-01T00:00:00.000+00:00")
        broken = Vote("widget", "b", "ship", None)  # NOT NULL cast_at: the database refuses it
        with pytest.raises(sqlite3.IntegrityError):
            store.save_votes([good, broken])
        assert tallies(store.db, ["widget"])["widget"].votes == 0
    finally:
        store.close()


def test_tally_counts_and_says_nothing_without_votes(workspace):
    store = Store(workspace / "outputs" / "panel.db")
    try:
        tally = tallies(store.db, ["gadget"])["gadget"]
        assert tally.pct is None and tally.interval is None
        store.save_votes([Vote("gadget", str(i), "ship" if i < 3 else "skip", "2025-01-01T00:00:00.000+00:00")
                           for i in range(4)])
        counted = tallies(store.db, ["gadget"])["gadget"]
        assert (counted.ships, counted.skips, counted.votes, counted.pct) == (3, 1, 4, 75.0)
    finally:
        store.close()


def test_votes_keep_their_history_with_sources_and_can_be_retracted(workspace, run_cli, briefs, tmp_path):
    """A changed vote replaced the old one without a trace, and a vote could not be taken back."""
    assert run_cli("vote", "widget", "ship", "--voter", "ann").exit_code == 0
    path = write(tmp_path, "widget,ann,skip\nwidget,bob,ship\n")
    assert run_cli("votes", "import", path).exit_code == 0
    assert run_cli("votes", "import", path).exit_code == 0  # unchanged: no new history rows
    shown = json.loads(run_cli("votes", "show", "widget", "--json").stdout)["votes"]
    assert [(r["voter"], r["vote"], r["source"], r["current"]) for r in shown] == [
        ("bob", "ship", "import votes.csv", True), ("ann", "skip", "import votes.csv", True),
        ("ann", "ship", "cli", False)]
    res = run_cli("vote", "widget", "retract", "--voter", "ann")
    assert res.exit_code == 0 and "Retracted the vote of ann on widget" in res.stdout
    assert [(v, c) for _, v, c, _ in votes_in(workspace)] == [("bob", "ship")]
    text = run_cli("votes", "show", "widget").stdout
    assert "retracted" in text and text.splitlines()[0].startswith(" ")  # the retraction is newest, not counted
    again = run_cli("vote", "widget", "retract", "--voter", "ann")
    assert again.exit_code == 2 and "no vote from ann on 'widget' to retract" in again.stderr
    assert run_cli("votes", "show", "nothing-here").exit_code == 2
