"""`panel vote`, `panel votes import` and `panel votes show`: the community's ship/skip votes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import options
from .app import app, guarded, known_tools, plural, print_json, workspace

votes_app = typer.Typer(help="Community votes: import a CSV of ship/skip votes, show a tool's votes.",
                        no_args_is_help=True)
app.add_typer(votes_app, name="votes")


@app.command()
@guarded
def vote(
    slug: str = typer.Argument(..., help="The tool's slug."),
    choice: str = typer.Argument(..., metavar="ship|skip|retract", help="Your vote: ship or skip; retract takes"
                                 " your vote on the tool back."),
    voter: Optional[str] = typer.Option(None, "--voter", help="Who is voting (default: local:<your login name>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the tool's community tally as JSON."),
    db: options.Db = None,
):
    """Cast a community vote on a tool. One vote per voter per tool: voting again replaces it, and
    `retract` takes it back; every change is kept (`panel votes show SLUG`)."""
    from ..inputs.votes import default_voter, make_vote
    from ..store.queries import tallies
    from ..store.store import Store

    ws = workspace()
    who = voter if voter is not None else default_voter()
    if choice.strip().lower() == "retract":
        return retract(ws, db, slug, who, as_json)
    cast = make_vote(slug, choice.strip().lower(), who, known_tools(ws, db))
    with Store(ws.db_path(db)) as store:
        store.save_votes([cast])
        counts = tallies(store.db, [slug])[slug]
    if as_json:
        return print_json({"vote": cast.__dict__, "community": counts.to_json()})
    pct = "—" if counts.pct is None else f"{counts.pct:.0f}%"
    typer.echo(f"Recorded {cast.vote} on {slug} from {cast.voter}. Community: {pct} ship over {counts.votes}"
               f" vote{'s' if counts.votes != 1 else ''}.")


@votes_app.command("import")
@guarded
def votes_import(
    file: Path = typer.Argument(..., help="CSV with lines slug,voter,vote[,cast_at]; an optional header line."),
    as_json: bool = typer.Option(False, "--json", help="Print the import counts as JSON."),
    db: options.Db = None,
):
    """Import community votes from a CSV file, all or nothing.

    Each line: slug,voter,vote[,cast_at]. vote is ship or skip; cast_at is ISO-8601 (default: now).

    Any bad line rejects the whole file, listing the line numbers.

    A vote older than the one already stored for that voter and tool is ignored: the latest wins.
    """
    from ..inputs.votes import read_votes_csv
    from ..store.store import Store

    ws = workspace()
    votes = read_votes_csv(file, known_tools(ws, db))
    with Store(ws.db_path(db)) as store:
        result = store.save_votes(votes, source=f"import {file.name}")
    if as_json:
        return print_json({"file": str(file), "votes": result.read, "applied": result.applied, "stale": result.stale,
                           "new": result.new, "changed": result.changed, "unchanged": result.unchanged})
    typer.echo(f"Imported {plural(result.applied, 'vote')} from {file}: {result.new} new, {result.changed} changed,"
               f" {result.unchanged} unchanged"
               + (f"; {result.stale} older than a stored vote were ignored." if result.stale else "."))


def retract(ws, db, slug: str, voter: str, as_json: bool) -> None:
    from ..core.errors import VoteError
    from ..store.queries import tallies
    from ..store.store import Store

    if not ws.db_path(db).exists():
        raise VoteError(f"no vote from {voter} on '{slug}' to retract")
    with Store(ws.db_path(db)) as store:
        if not store.retract_vote(slug, voter):
            raise VoteError(f"no vote from {voter} on '{slug}' to retract")
        counts = tallies(store.db, [slug])[slug]
    if as_json:
        return print_json({"retracted": {"slug": slug, "voter": voter}, "community": counts.to_json()})
    typer.echo(f"Retracted the vote of {voter} on {slug}. Community: {plural(counts.votes, 'vote')} left.")


@votes_app.command("show")
@guarded
def votes_show(
    slug: str = typer.Argument(..., help="The tool's slug."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Every vote cast, changed or retracted on a tool, newest first, with where it came from; the
    votes that count now are marked *."""
    from ..core.errors import VoteError
    from ..store.queries import vote_history
    from .app import open_store
    from .audit import when

    with open_store(db, must_exist=True) as store:
        found = vote_history(store.db, slug)
    if not found and slug not in known_tools(workspace(), db):
        raise VoteError(f"unknown tool '{slug}'")
    if as_json:
        return print_json({"slug": slug, "votes": found})
    if not found:
        typer.echo(f"No votes on {slug} yet.")
    for row in found:
        mark = "*" if row["current"] else " "
        typer.echo(f"{mark} {when(row['cast_at'])}  {row['vote'] or 'retracted':<9}  {row['voter']}  ({row['source']})")
