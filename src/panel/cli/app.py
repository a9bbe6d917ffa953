"""The typer application and the helpers every command shares."""

from __future__ import annotations

import functools
import json
import sys

import typer

app = typer.Typer(
    help="A multi-persona LLM review panel: five reviewers judge a tool brief; ship or skip.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT = 0, 1, 2


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"panel {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print panel's version and exit."),
) -> None:
    """A multi-persona LLM review panel: five reviewers judge a tool brief; ship or skip."""


def _flags_without_metavar() -> None:
    """typer 0.29 prints `<bool>` beside every on/off flag (`--json <bool>`), as if it took a value."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "panel_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.panel_flags = True
    TyperOption.display_type_rich = display_type_rich


_flags_without_metavar()


def one_line(message: str) -> str:
    """A file name or value may carry newlines or terminal escapes: show them escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


def plural(count: int, noun: str) -> str:
    """"1 comparison", "2 comparisons"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def echo_error(message: str) -> None:
    typer.echo(f"Error: {one_line(str(message))}", err=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line on stderr and a non-zero exit: how every bad input ends."""
    echo_error(message)
    raise typer.Exit(code)


def guarded(func):
    """Turn the project's narrow errors into one-line messages at the CLI boundary. A command run
    with --json also prints the error as its one JSON document, so a script reading stdout sees it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..core.errors import PanelError

        try:
            return func(*args, **kwargs)
        except PanelError as exc:
            if kwargs.get("as_json"):
                print_json({"error": {"message": one_line(str(exc)), "exit_code": exc.exit_code}})
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume", 130)

    return wrapper


def workspace():
    from ..inputs.workspace import Workspace

    return Workspace.from_env()


def print_json(data) -> None:
    """The only thing a --json command writes to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def open_store(db_override=None, must_exist: bool = False):
    """The workspace's store; with must_exist, a missing database is bad input, not a new file."""
    from ..core.errors import StoreError
    from ..store.store import Store

    ws = workspace()
    path = ws.db_path(db_override)
    if must_exist and not path.exists():
        raise StoreError(f"{path}: no panel database yet; run `panel review` first{ws.hint()}")
    return Store(path)


def known_tools(ws, db) -> set[str]:
    """Slugs a vote or a comparison may name: the workspace's briefs and the tools the store holds.
    Reads the store only if it exists: a rejected command creates nothing."""
    from ..inputs.briefs import brief_files
    from ..store.queries import stored_brief_slugs
    from ..store.store import Store

    known = {path.stem for path in brief_files(ws.briefs_dir)} if ws.briefs_dir.is_dir() else set()
    if ws.db_path(db).exists():
        with Store(ws.db_path(db)) as store:
            known |= stored_brief_slugs(store.db)
    return known


def load_workspace_settings(ws):
    from ..inputs.settings import load_settings

    return load_settings(ws.home)


def current_prompt_versions(ws) -> dict[str, str]:
    """persona -> the version of its file today (to tell a stale head-to-head); {} if they don't load."""
    from ..core.errors import PanelError
    from ..inputs.personas import load_personas

    try:
        return {name: persona.version for name, persona in load_personas(ws.personas_dir).items()}
    except PanelError:
        return {}
