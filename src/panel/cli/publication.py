"""`panel publish`, `panel unpublish` and `panel publications`: the sign-off between a draft panel
and the public pages (panel.publish.publication holds the rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import options
from .app import app, echo_error, guarded, load_workspace_settings, print_json, workspace

@app.command()
@guarded
def publish(
    slugs: list[str] = typer.Argument(..., help="Tools to publish, e.g. smollm3 mistral-small-3-1."),
    note: Optional[str] = typer.Option(None, "--note", help="Why (required when the panel's call moves)."),
    by: options.By = None,
    at: Optional[str] = typer.Option(None, "--at", metavar="DATETIME",
                                     help="Hold it until then (embargo), e.g. 2026-12-08T09:00; a time without a "
                                          "zone is in the workspace's time zone (panel.yaml)."),
    editor_call: Optional[str] = typer.Option(None, "--editor-call", metavar="ship|skip",
                                              help="Your own call on the tool(s), kept as a label the personas are "
                                                   "scored against (`panel eval --labels editors`)."),
    draft: Optional[int] = typer.Option(None, "--draft", metavar="PANEL_ID",
                                        help="Publish this draft instead of the newest (see `panel publications "
                                             "SLUG --drafts`); only with one SLUG."),
    ack_flags: bool = typer.Option(False, "--ack-flags", help="Publish although the brief linter flags the brief"
                                   " (text addressed to the reviewers, hidden characters, comments...); the flags"
                                   " you acknowledge are recorded with the publication."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Publish each tool's newest draft panel: from now on (or from --at) the site, its feed and the
    digest show that panel. Reviews, re-runs and side runs only make drafts; nothing reaches a
    public page without this. Republishing records what changed (brief, prompts, model, calls,
    ship %) as a dated correction; when the panel's call moves, --note is required.

    All tools are checked before any is published: a bad one publishes none (exit 2).
    """
    from ..core.errors import PublishError
    from ..inputs.operator import operator
    from ..publish.publication import PublishRequest, plan_publication
    from ..store.db import now
    from .app import known_tools, open_store

    if draft is not None and len(slugs) != 1:
        raise PublishError("--draft picks one panel: give exactly one SLUG with it")
    ws = workspace()
    settings = load_workspace_settings(ws)
    requests = [PublishRequest(slug=s, operator=operator(by), note=note, at=at, draft=draft, ack_flags=ack_flags)
                for s in slugs]
    results = []
    known = known_tools(ws, db) if editor_call is not None else set()
    with open_store(db, must_exist=True) as store:
        for request in requests:  # every check first: a bad slug anywhere publishes nothing
            plan_publication(store.db, request, settings.zone, now())
            if editor_call is not None:
                check_editor_call(store.db, request.slug, editor_call, known)
        for request in requests:
            row = store.record_publication(lambda db, r=request: plan_publication(db, r, settings.zone, now()))
            if editor_call is not None:
                store.save_editor_label(request.slug, editor_call, note, request.operator, "publish")
            results.append((request.slug, row))
    if as_json:
        return print_json({"publications": [row or {"slug": slug, "unchanged": True} for slug, row in results]})
    for slug, row in results:
        typer.echo(describe_publication(slug, row, settings))


@app.command()
@guarded
def unpublish(
    slug: str = typer.Argument(..., help="The tool to take off the public pages."),
    note: str = typer.Option(..., "--note", help="Why it is withdrawn (kept with the record; required)."),
    by: options.By = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Withdraw a published tool: it and its comparisons leave the site and the feed at the next
    `panel site`. Its panels and publication records stay in the store (see `panel publications`)."""
    from ..inputs.operator import operator
    from ..publish.publication import plan_withdrawal
    from ..store.db import now
    from .app import open_store

    who = operator(by)
    with open_store(db, must_exist=True) as store:
        plan_withdrawal(store.db, slug, note, who, now())
        row = store.record_publication(lambda db: plan_withdrawal(db, slug, note, who, now()))
    if as_json:
        return print_json(row)
    typer.echo(f"Withdrew {slug} (by {who}); run `panel site` to rebuild the public pages.")


@app.command()
@guarded
def publications(
    slug: Optional[str] = typer.Argument(None, help="One tool (default: every tool's latest record)."),
    drafts: bool = typer.Option(False, "--drafts", help="Also list the tool's drafts (its recorded panels)."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """The publication record: who published or withdrew what, when, with which note and changes;
    with SLUG and --drafts, the drafts that could be published (--draft ID)."""
    import json

    from ..store import queries
    from .app import open_store

    ws = workspace()
    settings = load_workspace_settings(ws)
    with open_store(db, must_exist=True) as store:
        rows = queries.publication_rows(store.db, slug=slug)
        draft_rows = queries.draft_rows(store.db, slug) if slug and drafts else []
    if as_json:
        return print_json({"publications": rows, "drafts": draft_rows})
    if not rows and not draft_rows:
        typer.echo(f"No publications{' of ' + slug if slug else ''} yet; publish with `panel publish SLUG`.", err=True)
    for row in (rows if slug else latest_per_tool(rows)):
        typer.echo(publication_line(row, settings))
        for change in json.loads(row["changes"] or "[]"):
            typer.echo(f"    {change}")
    if draft_rows:
        typer.echo("Drafts (newest first):")
        for d in draft_rows:
            typer.echo(f"  draft {d['id']}  {d['created_at'][:16]} UTC  {d['ships']}/{d['reported']} ship of"
                       f" {d['seated']} seated  ({d['command']}, by {d['operator'] or 'unknown'})")


def latest_per_tool(rows: list[dict]) -> list[dict]:
    newest = {}
    for row in rows:
        newest[row["slug"]] = row
    return sorted(newest.values(), key=lambda r: r["slug"])


def publication_line(row: dict, settings) -> str:
    from ..core.panel import pct
    from ..publish.render import local_time

    shown = local_time(row["visible_from"], settings.zone)
    if row["action"] == "unpublish":
        what = "withdrawn"
    else:
        what = f"published {pct(row['ship_pct'])} ship ({row['ships']}/{row['reported']}), draft {row['panel_id']}"
    note = f" — {row['note']}" if row["note"] else ""
    return f"{row['slug']}: {what}, {shown} by {row['operator']}{note}"


def describe_publication(slug: str, row: dict | None, settings) -> str:
    if row is None:
        return f"{slug}: already published as it stands (nothing changed); nothing recorded."
    line = publication_line(row, settings)
    held = row["visible_from"] > row["recorded_at"]
    tail = (" (held until then; `panel site` shows it from that time)" if held
            else "; run `panel site` to rebuild the pages")
    return line + tail


@app.command()
@guarded
def digest(
    since: options.Since = "7d",
    until: options.Until = None,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the digest (default: outputs/digest/)."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Write a digest of what was published in a window (default: the last 7 days): new verdicts,
    updates and corrections, withdrawals and comparisons, as Markdown and as email-ready HTML
    (outputs/digest/digest-DATE.md and .html). Reads publications only, like the site."""
    from ..inputs.timewindow import window
    from ..publish.digest import gather_digest, write_digest
    from ..publish.publication import published_panels, visible_publications
    from ..publish.site import site_comparisons
    from ..store.db import now
    from .app import current_prompt_versions, open_store

    ws = workspace()
    settings = load_workspace_settings(ws)
    start, end = window(since, until)
    end = min(end or now(), now())  # nothing after now is public yet
    with open_store(db, must_exist=True) as store:
        shown = visible_publications(store.db, end)
        comparisons = site_comparisons(store.db, published_panels(store.db, end), current_prompt_versions(ws),
                                       settings.quorum)
        found = gather_digest(store.db, settings, shown, comparisons, start, end)
    md_path, html_path = write_digest(found, out or ws.outputs_dir / "digest")
    if as_json:
        return print_json({"title": found.title, "since": start, "until": end, "items": found.items,
                           "files": {"markdown": str(md_path), "html": str(html_path)}})
    typer.echo(str(md_path))
    typer.echo(f"HTML: {html_path} ({len(found.items)} item{'s' if len(found.items) != 1 else ''})", err=True)


AUTOMATIC_NOTE = "Published automatically (auto_publish in panel.yaml)."


def after_run(ws, db_path: Path, outcome, quiet: bool, by: str) -> None:
    """After a review or re-run: publish its panels when the workspace publishes automatically;
    else say they are drafts and how to publish them."""
    from ..core.errors import PublishError
    from ..publish.publication import PublishRequest, plan_publication
    from ..store.db import now
    from ..store.store import Store

    settings = load_workspace_settings(ws)
    warn_flags(db_path, outcome.panels)
    slugs = [panel.slug for panel in outcome.panels if panel.reported]
    if not slugs:
        return
    if not settings.auto_publish:
        if not quiet:
            typer.echo(f"Drafts: `panel publish {' '.join(slugs)}` puts them on the site (`panel site --drafts` "
                       "previews them).", err=True)
        return
    with Store(db_path) as store:
        for slug in slugs:
            request = PublishRequest(slug=slug, operator=by, note=AUTOMATIC_NOTE)
            try:
                row = store.record_publication(lambda db, r=request: plan_publication(db, r, settings.zone, now()))
            except PublishError as exc:
                echo_error(f"not published automatically: {exc}")
                continue
            if not quiet:
                typer.echo(describe_publication(slug, row, settings), err=True)


def warn_flags(db_path: Path, panels) -> None:
    """A reviewed brief the linter flags is a warning on its draft (stderr: --json keeps stdout)."""
    from ..publish.publication import brief_flags
    from ..store.store import Store

    with Store(db_path) as store:
        flagged = {panel.slug: brief_flags(store.db, panel.brief_hash) for panel in panels}
    for slug, flags in flagged.items():
        if flags:
            more = f" (and {len(flags) - 1} more)" if len(flags) > 1 else ""
            typer.echo(f"Warning: {slug}'s brief is flagged: {flags[0].line()}{more}. `panel briefs validate {slug}`"
                       " lists every flag; publishing it needs --ack-flags.", err=True)


EDITOR_CALLS = ("ship", "skip")


def check_editor_call(db, slug: str, call: str, known: set[str]) -> None:
    """An editor's call must be ship or skip, on a tool the panel has reviewed (else there is no
    verdict to hold it against)."""
    from ..core.errors import LabelError
    from ..core.suggest import did_you_mean
    from ..store.queries import judged_slugs

    if call not in EDITOR_CALLS:
        raise LabelError(f"the editor's call must be ship or skip, not '{call}'")
    if slug not in known:
        raise LabelError(f"unknown tool '{slug}'{did_you_mean(slug, sorted(known))}")
    if slug not in judged_slugs(db):
        raise LabelError(f"'{slug}' was never reviewed: review it first, so the call can be held against its panel")


@app.command()
@guarded
def label(
    slug: str = typer.Argument(..., help="The tool."),
    call: str = typer.Argument(..., metavar="ship|skip", help="Your own call on it."),
    note: Optional[str] = typer.Option(None, "--note", help="Why (kept with the label)."),
    by: options.By = None,
    db: options.Db = None,
):
    """Record an editor's own call on a tool: a label the personas are scored against with
    `panel eval --labels editors`. A new call is a new record; the newest counts. (`panel publish
    --editor-call` records one at sign-off.)"""
    from ..inputs.operator import operator
    from .app import known_tools, open_store

    who = operator(by)
    ws = workspace()
    known = known_tools(ws, db)
    with open_store(db, must_exist=True) as store:
        check_editor_call(store.db, slug, call, known)
        store.save_editor_label(slug, call, note, who, "label")
    typer.echo(f"Labelled {slug} {call} (by {who}); `panel eval --labels editors` scores the personas against it.")
