"""`panel submit` and `panel submissions ...`: the queue of submitted tools (panel.review.intake)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import options
from .app import (EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL, app, console, echo_error, guarded,
                  load_workspace_settings, print_json, workspace)

submissions_app = typer.Typer(
    help="The queue of submitted tools: list and show them, accept one (its brief is written to tool_briefs/ and"
         " reviewed as a draft) or reject one with a reason. `panel submit FILE` adds to it.",
    no_args_is_help=True)
app.add_typer(submissions_app, name="submissions")

STATE_CHOICES = ("pending", "accepted", "rejected", "all")


@app.command()
@guarded
def submit(
    file: Path = typer.Argument(..., help="A brief or submission (.yaml/.json), a JSON list of them, or a CSV batch "
                                          "(columns: the brief's fields, pricing.entry, links.homepage, ...,"
                                          " submitter.name, submitter.contact)."),
    name: Optional[str] = typer.Option(None, "--name", help="Who submits a bare brief (default: --by)."),
    contact: Optional[str] = typer.Option(None, "--contact", help="How to reach them, kept private (default: "
                                                                  "the name)."),
    model: options.Model = None,
    api_base: options.ApiBase = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
    by: options.By = None,
):
    """Queue tool briefs as pending submissions, for an editor to accept or reject.

    Each is checked like a brief file (and linted), compared with the tools panel knows (same
    slug, homepage or repository, or a close name: "possible duplicate"), and refused if it is too
    large, has unknown fields, copies a pending one, or passes its submitter's daily limit
    (panel.yaml `submissions:`). Nothing is reviewed unless `submissions.auto_accept` is on.
    Exit codes: 0 all queued, 1 some refused (the rest queued), 2 none queued.
    """
    from ..core.errors import PanelError
    from ..inputs.operator import operator
    from ..inputs.submission import read_submissions
    from ..review import intake

    ws = workspace()
    load_workspace_settings(ws)
    who = operator(by)
    items = read_submissions(file, {"name": name or who, "contact": contact or name or who})
    queued, refused = [], 0
    for where, data in items:
        try:
            queued.append(intake.submit(ws, ws.db_path(db), data, source="cli", where=where))
        except PanelError as exc:
            refused += 1
            message = str(exc)  # every refusal names its file and row, the queue's own ones too
            echo_error(message if message.startswith(where) else f"{where}: {message}")
    automatic = [row["id"] for row in queued if intake.auto_accepts(ws, row)]
    if automatic:
        accept_and_review(ws, automatic, intake.AUTO, db, model, api_base, as_json)
        queued = reread(ws, db, [row["id"] for row in queued])  # accepted, or still pending if one could not be
    if as_json:
        print_json({"queued": [listed_json(row) for row in queued], "refused": refused})
    else:
        for row in queued:
            show_row(row)
        if refused:
            typer.echo(f"{refused} of {len(items)} refused (see above).", err=True)
    raise typer.Exit(EXIT_OK if not refused else EXIT_PARTIAL if queued else EXIT_BAD_INPUT)


def reread(ws, db, ids: list[int]) -> list[dict]:
    from ..store import queue
    from ..store.store import Store

    with Store(ws.db_path(db)) as store:
        return [queue.get(store.db, submission_id) for submission_id in ids]


def show_row(row: dict) -> None:
    """`#3 pending  relay-cloud  Relay Cloud`, then a line per flag and possible duplicate."""
    from ..core.duplicates import describe

    typer.echo(f"#{row['id']} {row['state']}  {row['slug']}  {row['name']}")
    for flag in row["flags"]:
        typer.echo(f"  warning: {flag['field']}: {flag['kind']}: {flag['text']}")
    for found in row["duplicates"]:
        typer.echo(f"  warning: {describe(found)}")


def listed_json(row: dict) -> dict:
    """A submission as the queue's listings print it: never the submitter's name or contact."""
    from ..store.queue import public

    return public(row) | {key: row[key] for key in ("source", "decided_by", "reason", "accepted_as", "run_id")}


@submissions_app.command("list")
@guarded
def submissions_list(
    state: str = typer.Option("pending", "--state", help="pending, accepted, rejected or all."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """The queue, oldest first: id, state, tool, when, and how many flags and possible duplicates."""
    from ..core.errors import SubmissionError
    from ..store import queue
    from .app import open_store

    if state not in STATE_CHOICES:
        raise SubmissionError(f"--state '{state}': expected one of {', '.join(STATE_CHOICES)}")
    if not workspace().db_path(db).exists():
        found = []
    else:
        with open_store(db, must_exist=True) as store:
            found = queue.listed(store.db, None if state == "all" else state)
    if as_json:
        return print_json([listed_json(row) for row in found])
    if not found:
        return typer.echo(f"No {'' if state == 'all' else state + ' '}submissions.")
    from rich.table import Table

    table = Table("#", "State", "Slug", "Name", "Submitted", "Flags", "Possible duplicate of")
    for row in found:
        when = row["submitted_at"][:16].replace("T", " ")
        table.add_row(str(row["id"]), row["state"], row["slug"], row["name"], when,
                      str(len(row["flags"])) if row["flags"] else "",
                      ", ".join(sorted({d["of"] for d in row["duplicates"]})))
    console().print(table)


@submissions_app.command("show")
@guarded
def submissions_show(
    submission_id: int = typer.Argument(..., metavar="ID", help="The submission's number (`panel submissions list`)."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """One submission for an editor: the brief, who sent it and how to reach them (private: shown
    only here), the linter's flags, possible duplicates and every change of state."""
    import json

    import yaml

    from ..store import queue
    from .app import open_store

    with open_store(db, must_exist=True) as store:
        row = queue.get(store.db, submission_id)
        history = queue.events(store.db, submission_id)
    brief = json.loads(row["brief"])
    if as_json:
        return print_json(listed_json(row) | {"submitter": {"name": row["submitter"], "contact": row["contact"]},
                                              "brief": brief, "history": history})
    show_row(row)
    typer.echo(f"  submitted by {row['submitter']} <{row['contact']}> via {row['source']}, {row['submitted_at']}")
    for event in history:
        note = f" ({event['note']})" if event["note"] else ""
        typer.echo(f"  {event['at']}  {event['state']:<8}  by {event['by']}{note}")
    if row["run_id"]:
        typer.echo(f"  reviewed in run {row['run_id']} (`panel audit show {row['run_id']}`)")
    typer.echo("")
    typer.echo(yaml.safe_dump(brief, sort_keys=False, allow_unicode=True, width=88).rstrip())


@submissions_app.command("accept")
@guarded
def submissions_accept(
    ids: list[int] = typer.Argument(..., metavar="ID...", help="Submissions to accept."),
    slug: Optional[str] = typer.Option(None, "--slug", help="Accept one submission under another slug (its "
                                                            "own tool beside one of the same slug)."),
    replace: bool = typer.Option(False, "--replace", help="Replace a different brief of the same slug in "
                                                          "tool_briefs/."),
    no_review: bool = typer.Option(False, "--no-review", help="Write the briefs only; review them later."),
    model: options.Model = None,
    api_base: options.ApiBase = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
    by: options.By = None,
):
    """Accept pending submissions: each brief is written to tool_briefs/<slug>.yaml and the batch is
    reviewed as drafts (publishing stays `panel publish`). A slug that already names a different
    brief is refused unless --slug or --replace says what to do."""
    from ..core.errors import SubmissionError
    from ..inputs.operator import operator

    if slug and len(ids) > 1:
        raise SubmissionError("--slug: accept one submission at a time under another slug")
    ws = workspace()
    load_workspace_settings(ws)
    accepted = accept_and_review(ws, ids, operator(by), db, model, api_base, as_json, slug=slug, replace=replace,
                                 review=not no_review)
    if as_json:
        print_json({"accepted": [listed_json(row) for row in accepted]})
    else:
        for row in accepted:
            show_row(row)
    raise typer.Exit(EXIT_OK if len(accepted) == len(ids) else EXIT_PARTIAL if accepted else EXIT_BAD_INPUT)


def accept_and_review(ws, ids: list[int], by: str, db, model, api_base, quiet: bool, *, slug=None, replace=False,
                      review: bool = True) -> list[dict]:
    """Accept each submission (one error line for one that cannot be), then review the accepted
    briefs in one batch as drafts; returns the accepted rows, with the review's run."""
    from ..core.errors import PanelError
    from ..review import intake
    from ..review.plan import ReviewOptions
    from ..store import queue
    from ..store.store import Store
    from .review import default_model, review_and_report

    done = []
    for submission_id in ids:
        try:
            done.append(intake.accept(ws, ws.db_path(db), submission_id, by=by, slug=slug, replace=replace))
        except PanelError as exc:
            echo_error(exc)
    if not done or not review:
        return [item.row for item in done]
    review_options = ReviewOptions(model=model, default_model=default_model(), api_base=api_base, operator=by,
                                   command="submissions accept")
    outcome = review_and_report(ws, [str(item.path) for item in done], review_options, db, None, quiet)
    with Store(ws.db_path(db)) as store:
        for item in done:
            queue.attach_run(store.db, item.row["id"], outcome.run_id)
    return reread(ws, db, [item.row["id"] for item in done])


@submissions_app.command("reject")
@guarded
def submissions_reject(
    submission_id: int = typer.Argument(..., metavar="ID", help="The submission to reject."),
    reason: str = typer.Option(..., "--reason", help="Why, for the record (the submitter may ask)."),
    db: options.Db = None,
    by: options.By = None,
):
    """Reject a pending submission with a reason; it stays on record, and its brief is not written."""
    from ..inputs.operator import operator
    from ..review import intake

    row = intake.reject(workspace().db_path(db), submission_id, by=operator(by), reason=reason)
    typer.echo(f"#{row['id']} rejected  {row['slug']}  ({row['reason']})")
