"""The submission queue (issue 26): `panel submit` queues briefs as pending without reviewing them;
an editor lists, shows, accepts (the brief is written and reviewed as a draft) or rejects them;
duplicates are flagged, not merged; limits refuse with one line and write nothing; the submitter's
contact never reaches a page, the feed or a public command's --json. The same flow under LangGraph's
real server is in tests/test_server.py."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import yaml

from panel.core.brief import ToolBrief
from panel.core.duplicates import close_names, edit_distance, possible_duplicates, tool_address
from panel.models import scripted
from test_compare import reviewer

CONTACT = "ann.vendor@relay.example"
SUBMITTER = "Ann Vendorperson"


def brief_data(slug: str, name: str | None = None, **fields) -> dict:
    name = name or slug.replace("-", " ").title()
    data = {"slug": slug, "name": name, "tagline": f"{name}, a tool the tests made up", "category": "Developer Tools",
            "vendor": "Relay Inc", "description": f"{name} moves messages between services, for panel's tests.",
            "pricing": {"model": "free", "entry": "Free"}, "licence": "MIT"}
    return data | fields


def submission(slug: str, contact: str = CONTACT, **fields) -> dict:
    return {"brief": brief_data(slug, **fields), "submitter": {"name": SUBMITTER, "contact": contact}}


def write(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False) if path.suffix == ".yaml" else json.dumps(data),
                    encoding="utf-8")
    return path


def queue_rows(workspace: Path, sql: str = "SELECT id, slug, state FROM submissions ORDER BY id") -> list[tuple]:
    db = workspace / "outputs" / "panel.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def settings(workspace: Path, **submissions) -> None:
    (workspace / "panel.yaml").write_text(yaml.safe_dump({"submissions": submissions}), encoding="utf-8")


# --- duplicates, unit by unit ----------------------------------------------------------------------------


def test_edit_distance_and_close_names_by_hand():
    assert edit_distance("kitten", "sitting", 5) == 3
    assert edit_distance("relaycloud", "relaykloud", 2) == 1
    assert edit_distance("abc", "abcdefgh", 2) == 3  # gave up: more than the limit
    assert close_names("Relay Cloud", "relay-cloud")  # punctuation and case ignored
    assert close_names("Lantern", "Lanturn")  # 7 letters: one edit
    assert not close_names("Lantern", "Lanterns Pro")
    assert close_names("Kestrel Coder", "Kestral Coders")  # 12 letters: two edits
    assert not close_names("Zed", "Zep")  # short names must be equal
    assert tool_address("https://www.GitHub.com/Relay/relay.git/") == tool_address("http://github.com/relay/relay")


def test_possible_duplicates_name_each_reason():
    mine = ToolBrief.model_validate(brief_data("relay-cloud", "Relay Cloud",
                                               links={"repository": "https://github.com/relay/relay"}))
    known = [("tool_briefs/relay-cloud.yaml", ToolBrief.model_validate(brief_data("relay-cloud", "Wren"))),
             ("tool_briefs/relais.yaml", ToolBrief.model_validate(
                 brief_data("relais", "Relais", links={"homepage": "https://www.github.com/relay/relay/"}))),
             ("tool_briefs/relay-kloud.yaml", ToolBrief.model_validate(brief_data("relay-kloud", "Relay Kloud"))),
             ("tool_briefs/other.yaml", ToolBrief.model_validate(
                 brief_data("other", "Other", links={"docs": "https://github.com/relay/relay"})))]  # docs: not home
    found = possible_duplicates(mine, known)
    assert [(f["of"], f["why"]) for f in found] == [
        ("relay-cloud", "same slug"),
        ("relais", "same homepage or repository (github.com/relay/relay)"),
        ("relay-kloud", "similar name ('Relay Kloud')")]


# --- the CLI --------------------------------------------------------------------------------------------


def test_submit_queues_without_reviewing_and_accept_reviews_a_draft(run_cli, workspace):
    source = write(workspace / "relay.yaml", submission("relay-cloud", name="Relay Cloud"))
    res = run_cli("submit", source)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("#1 pending  relay-cloud  Relay Cloud")
    assert queue_rows(workspace) == [(1, "relay-cloud", "pending")]
    assert queue_rows(workspace, "SELECT count(*) FROM runs") == [(0,)]  # queued, not reviewed
    assert not (workspace / "tool_briefs" / "relay-cloud.yaml").exists()

    listed = json.loads(run_cli("submissions", "list", "--json").stdout)
    assert [(r["id"], r["slug"], r["state"], r["source"]) for r in listed] == [(1, "relay-cloud", "pending", "cli")]

    scripted.script("queue", reviewer({("Relay Cloud", "Skeptic"): "skip"}))
    res = run_cli("submissions", "accept", "1", "--model", "scripted/queue", "--by", "Edna")
    assert res.exit_code == 0, res.stderr
    assert "relay-cloud: 80% ship" in res.stdout and "#1 accepted  relay-cloud" in res.stdout
    written = ToolBrief.model_validate(yaml.safe_load((workspace / "tool_briefs" / "relay-cloud.yaml").read_text()))
    assert written == ToolBrief.model_validate(brief_data("relay-cloud", name="Relay Cloud"))
    run_id = queue_rows(workspace, "SELECT run_id FROM submissions WHERE id = 1")[0][0]
    assert queue_rows(workspace, f"SELECT command, status FROM runs WHERE id = {run_id}") == [
        ("submissions accept", "complete")]
    # A draft: nothing is published until `panel publish`.
    assert queue_rows(workspace, "SELECT count(*) FROM publications") == [(0,)]
    shown = json.loads(run_cli("submissions", "show", "1", "--json").stdout)
    assert [(e["state"], e["by"]) for e in shown["history"]] == [("pending", SUBMITTER), ("accepted", "Edna")]
    assert shown["submitter"] == {"name": SUBMITTER, "contact": CONTACT} and shown["run_id"] == run_id

    again = run_cli("submissions", "accept", "1")
    assert again.exit_code == 2 and again.stderr.startswith("Error: submission #1 is already accepted (by Edna, ")


def test_reject_needs_a_reason_and_is_recorded(run_cli, workspace):
    run_cli("submit", write(workspace / "a.json", submission("wren-notes")))
    assert run_cli("submissions", "reject", "1", "--reason", "  ").exit_code == 2
    res = run_cli("submissions", "reject", "1", "--reason", "not an AI tool", "--by", "Edna")
    assert res.exit_code == 0 and res.stdout.strip() == "#1 rejected  wren-notes  (not an AI tool)"
    assert queue_rows(workspace, "SELECT state, decided_by, reason FROM submissions") == [
        ("rejected", "Edna", "not an AI tool")]
    assert not (workspace / "tool_briefs" / "wren-notes.yaml").exists()
    assert json.loads(run_cli("submissions", "list", "--json").stdout) == []  # the default: pending only
    assert run_cli("submissions", "accept", "1").exit_code == 2
    for absent in ("7", "9" * 30):
        missing = run_cli("submissions", "show", absent)
        assert missing.exit_code == 2 and missing.stderr.startswith(f"Error: no submission #{absent}")


def test_a_csv_batch_flags_duplicates_and_refuses_only_the_bad_rows(run_cli, workspace, make_brief):
    make_brief("relay-cloud", name="Relay Cloud", links={"homepage": "https://relay.example/"})
    settings(workspace, max_per_day=3)
    rows = [
        {"slug": "relay-cloud", "name": "Relay Cloud", "submitter.contact": "a@x.example"},  # same slug
        {"slug": "relay-edge", "name": "Relay Edge", "links.homepage": "https://www.relay.example",
         "submitter.contact": "b@x.example"},  # same homepage
        {"slug": "relay-clowd", "name": "Relay Clowd", "submitter.contact": "c@x.example"},  # close name
        {"slug": "kestrel", "name": "Kestrel", "submitter.contact": "d@x.example", "panel": "builder, skeptic"},
        {"slug": "Bad Slug", "name": "Bad", "submitter.contact": "e@x.example"},  # invalid
        *({"slug": f"flood-{i}", "name": f"Flood number {i}", "submitter.contact": "F@X.example"} for i in range(5)),
    ]
    columns = ["slug", "name", "tagline", "category", "vendor", "description", "pricing.model", "pricing.entry",
               "licence", "links.homepage", "panel", "submitter.name", "submitter.contact"]
    path = workspace / "batch.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, columns)
        out.writeheader()
        for row in rows:
            data = brief_data(row["slug"], row["name"])
            out.writerow({"tagline": data["tagline"], "category": data["category"], "vendor": data["vendor"],
                          "description": data["description"], "pricing.model": "free", "pricing.entry": "Free",
                          "licence": "MIT", "submitter.name": "Batch"} | row)
    res = run_cli("submit", path)
    assert res.exit_code == 1  # some refused, the rest queued
    refused = res.stderr.strip().splitlines()
    assert refused[0].startswith(f"Error: {path} #5: brief: slug: 'Bad Slug' is not a valid slug")
    assert refused[1] == "1 of 10 refused (see above)."
    # Five from one contact, past the daily limit of three (panel.yaml): the limit guards the server's
    # door (tests/test_server.py), not an editor's own batch.
    assert [slug for _, slug, _ in queue_rows(workspace)] == ["relay-cloud", "relay-edge", "relay-clowd", "kestrel",
                                                              "flood-0", "flood-1", "flood-2", "flood-3", "flood-4"]
    again = run_cli("submit", path)  # every row now a copy of a pending one: each refusal names its row
    assert again.exit_code == 2
    first = again.stderr.splitlines()[0]
    assert first == f"Error: {path} #1: brief 'relay-cloud' is identical to pending submission #1"
    dups = {row["slug"]: [(d["of"], d["why"]) for d in row["duplicates"]]
            for row in json.loads(run_cli("submissions", "list", "--json").stdout)}
    assert dups["relay-cloud"] == [("relay-cloud", "same slug; similar name ('Relay Cloud')")]
    assert dups["relay-edge"] == [("relay-cloud", "same homepage or repository (relay.example)")]
    # Known twice: the workspace's brief, and submission #1 still pending.
    assert dups["relay-clowd"] == [("relay-cloud", "similar name ('Relay Cloud')")] * 2
    assert dups["kestrel"] == []
    assert queue_rows(workspace, "SELECT brief FROM submissions WHERE slug = 'kestrel'")[0][0].count(
        '"panel":["builder","skeptic"]') == 1
    assert "possible duplicate of relay-cloud (tool_briefs/relay-cloud.yaml): same slug;" in res.stdout
    assert "possible duplicate of relay-cloud (pending submission #1): similar name" in res.stdout


def test_accepting_over_a_different_brief_needs_slug_or_replace(run_cli, workspace, make_brief):
    original = make_brief("relay-cloud", name="Relay Cloud")
    before = original.read_text()
    run_cli("submit", write(workspace / "s.json", submission("relay-cloud", name="Relay Cloud Two")))
    res = run_cli("submissions", "accept", "1", "--no-review")
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: tool_briefs/relay-cloud.yaml already holds a different brief; accept with")
    assert original.read_text() == before and queue_rows(workspace)[0][2] == "pending"  # nothing changed
    res = run_cli("submissions", "accept", "1", "--no-review", "--slug", "relay-cloud-two")
    assert res.exit_code == 0, res.stderr
    assert original.read_text() == before
    assert yaml.safe_load((workspace / "tool_briefs" / "relay-cloud-two.yaml").read_text())["name"] == "Relay Cloud Two"
    assert queue_rows(workspace, "SELECT state, accepted_as, run_id FROM submissions") == [
        ("accepted", "relay-cloud-two", None)]


def test_bad_submissions_are_one_line_each_and_write_nothing(run_cli, workspace):
    settings(workspace, max_bytes=2000)
    cases = {
        "unknown.json": ({"brief": brief_data("a"), "submitter": {"name": "A", "contact": "a"}, "priority": "high"},
                         "priority: unknown field (a submission has `brief` and `submitter`)"),
        "brief-extra.json": (submission("a", instructions="ship it"),
                             "brief: instructions: unknown field (check the spelling)"),
        "huge.json": (submission("a", description="x" * 3000), "bytes; the limit is 2,000 (submissions.max_bytes)"),
        "nosubmitter.json": ({"brief": brief_data("a")}, "submitter: "),
        "list.yaml": (["not", "a", "brief"], "expected a mapping of fields, found list"),
        "control.json": (submission("a", name="A\u0007B"), "control character"),
        "persona.json": (submission("a", panel=["builder", "oracle"]), "panel: unknown persona 'oracle'"),
        "ipv6.json": (submission("a", links={"homepage": "https://[::1"}),
                      "links.homepage: Value error, not a valid link"),
        "date.yaml": ({"brief": brief_data("a", tagline=__import__("datetime").date(2024, 1, 1)),
                       "submitter": {"name": "A", "contact": "a"}}, "brief: tagline: Input should be a valid string"),
    }
    for name, (data, message) in cases.items():
        res = run_cli("submit", write(workspace / name, data))
        assert res.exit_code == 2, (name, res.stdout)
        lines = res.stderr.strip().splitlines()
        assert lines[0].startswith("Error: ") and message in lines[0], (name, lines)
        assert lines[-1] == "1 of 1 refused (see above)." or name == "list.yaml", (name, lines)
    assert run_cli("submit", workspace / "missing.yaml").exit_code == 2
    assert run_cli("submit", write(workspace / "notes.txt", {})).exit_code == 2
    assert queue_rows(workspace) == []


def test_auto_accept_reviews_at_once_unless_it_would_replace_a_brief(run_cli, workspace, make_brief):
    make_brief("relay-cloud", name="Relay Cloud")
    settings(workspace, auto_accept=True)
    scripted.script("queue", reviewer({}))
    batch = write(workspace / "two.json", [submission("wren-notes", contact="w@x.example"),
                                           submission("relay-cloud", name="Relay Cloud Again")])
    res = run_cli("submit", batch, "--model", "scripted/queue")
    assert res.exit_code == 0, res.stderr
    assert queue_rows(workspace, "SELECT slug, state, decided_by FROM submissions ORDER BY id") == [
        ("wren-notes", "accepted", "auto_accept"), ("relay-cloud", "pending", None)]
    assert (workspace / "tool_briefs" / "wren-notes.yaml").exists()
    assert queue_rows(workspace, "SELECT slug FROM panels") == [("wren-notes",)]  # reviewed, as a draft
    assert "wren-notes: 100% ship" in res.stdout


def test_the_contact_never_reaches_a_page_the_feed_or_public_json(run_cli, workspace):
    (workspace / "panel.yaml").write_text("base_url: https://verdicts.example/\n", encoding="utf-8")
    run_cli("submit", write(workspace / "s.json", submission("relay-cloud", name="Relay Cloud")))
    scripted.script("queue", reviewer({}))
    assert run_cli("submissions", "accept", "1", "--model", "scripted/queue").exit_code == 0
    assert run_cli("publish", "relay-cloud", "--note", "first look").exit_code == 0
    assert run_cli("site").exit_code == 0
    assert run_cli("digest", "--since", "7d").exit_code == 0
    outputs = [run_cli(*args, "--json").stdout for args in (
        ("review", "relay-cloud", "--model", "scripted/queue"), ("publications", "relay-cloud"), ("briefs", "list"),
        ("submissions", "list", "--state", "all"), ("audit", "runs"))]
    written = [p.read_text(errors="replace") for p in (workspace / "outputs").rglob("*")
               if p.is_file() and p.suffix in (".html", ".xml", ".md", ".json")]
    written += [p.read_text() for p in (workspace / "tool_briefs").glob("*.yaml")]
    assert any("Relay Cloud" in text for text in written)  # the pages were written
    for text in outputs + written:
        assert CONTACT not in text and SUBMITTER not in text
    assert CONTACT in run_cli("submissions", "show", "1").stdout  # an editor can still reach them


def test_the_daily_limit_counts_the_servers_door_only(run_cli, workspace):
    import pytest

    from panel.core.errors import SubmissionError
    from panel.inputs.workspace import Workspace
    from panel.review import intake

    settings(workspace, max_per_day=2)
    for i in range(3):  # an editor's own batch for one vendor: not limited, and not counted below
        path = workspace / f"mine-{i}.yaml"
        path.write_text(yaml.safe_dump({"brief": brief_data(f"mine-{i}"),
                                        "submitter": {"name": "Vendor", "contact": "v@x.example"}}), encoding="utf-8")
        assert run_cli("submit", path).exit_code == 0
    ws = Workspace.from_env()
    for i in range(2):
        intake.submit(ws, ws.db_path(), {"brief": brief_data(f"web-{i}"),
                                         "submitter": {"name": "Vendor", "contact": "V@x.example"}}, source="http")
    with pytest.raises(SubmissionError, match="has made 2 submissions") as refused:
        intake.submit(ws, ws.db_path(), {"brief": brief_data("web-2"),
                                         "submitter": {"name": "Vendor", "contact": "v@x.example"}}, source="http")
    assert refused.value.status == 429
