"""`panel personas diff` and `panel personas history`: a persona's stored prompt versions."""

from __future__ import annotations

from typing import Optional

import typer

from . import options
from .app import console, guarded, print_json, workspace
from .catalog import personas_app



def current_persona(name: str):
    """The persona as on disk now, or None when its file is gone (its stored versions remain)."""
    from ..inputs.personas import load_persona

    path = workspace().personas_dir / f"{name}.yaml"
    return load_persona(path) if path.exists() else None


@personas_app.command("diff")
@guarded
def personas_diff(
    name: str = typer.Argument(..., help="Persona name, e.g. skeptic."),
    from_version: Optional[str] = typer.Option(None, "--from", help="Stored version (or a unique prefix). Default: "
                                                                    "the newest stored version before --to."),
    to_version: Optional[str] = typer.Option(None, "--to", help="Stored version (or prefix), or 'current'. Default: "
                                                                "the file on disk now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: options.Db = None,
):
    """Show the prompt diff (persona file and templates) between two versions of a persona.

    Compares with the file on disk without storing it; versions are stored when a review runs."""
    from ..analysis.audit import version_diff, version_from_file
    from ..core.errors import AuditError
    from ..store.audit import default_from_version, stored_version
    from .app import open_store

    store = open_store(db, must_exist=True)
    try:
        to_is_file = to_version in (None, "current")
        if to_is_file:
            persona = current_persona(name)
            if persona is None:
                raise AuditError(f"no persona '{name}' in {workspace().personas_dir}; give --to VERSION")
            to = version_from_file(persona)
        else:
            to = stored_version(store.db, name, to_version)
        old = stored_version(store.db, name, from_version) if from_version else default_from_version(
            store.db, name, to, to_is_file)
    finally:
        store.close()
    diff = version_diff(old, to)
    if as_json:
        return print_json({"persona": name, "from": old["version"], "to": to["version"],
                           "to_is_file": to_is_file, "diff": diff})
    if not diff:
        typer.echo(f"{name}: versions {old['version']} and {to['version']} have the same text.")
        return
    from rich.syntax import Syntax

    console().print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))


@personas_app.command("history")
@guarded
def personas_history(
    name: str = typer.Argument(..., help="Persona name, e.g. skeptic."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: options.Db = None,
):
    """List a persona's stored versions with the date first seen and the verdicts each produced."""
    from ..core.errors import AuditError, PersonaError
    from ..store.audit import persona_versions
    from .app import open_store

    store = open_store(db, must_exist=True)
    try:
        versions = persona_versions(store.db, name)
    finally:
        store.close()
    if not versions:
        raise AuditError(f"no stored versions of persona '{name}'; versions are stored when a review runs")
    try:
        persona = current_persona(name)
    except PersonaError:
        persona = None  # a broken file on disk does not hide the stored history
    current = persona.version if persona else None
    for v in versions:
        v["current"] = v["version"] == current
    if as_json:
        return print_json({"persona": name, "current_version": current,
                           "current_is_stored": any(v["current"] for v in versions), "versions": versions})
    from .audit import table, when

    grid = table("Version", "First seen (UTC)", "Verdicts", "Ok", "Ships", "Skips",
                 title=f"[bold]{name}[/bold]: stored versions ([bold]*[/bold] = the file on disk now)")
    for v in versions:
        grid.add_row(v["version"] + (" *" if v["current"] else ""), when(v["first_seen"]), str(v["verdicts"]),
                     str(v["ok"]), str(v["ships"]), str(v["skips"]))
    out = console()
    out.print(grid)
    if current and not any(v["current"] for v in versions):
        out.print(f"[dim]The file on disk ({current}) is not stored yet: no review has used it.[/dim]")
