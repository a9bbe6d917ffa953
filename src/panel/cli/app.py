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


def one_line(message: str) -> str:
    """A file name or value may carry newlines or terminal escapes: show them escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


def echo_error(message: str) -> None:
    typer.echo(f"Error: {one_line(str(message))}", err=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line on stderr and a non-zero exit: how every bad input ends."""
    echo_error(message)
    raise typer.Exit(code)


def guarded(func):
    """Turn the project's narrow errors into one-line messages at the CLI boundary."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..core.errors import PanelError

        try:
            return func(*args, **kwargs)
        except PanelError as exc:
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

    path = workspace().db_path(db_override)
    if must_exist and not path.exists():
        raise StoreError(f"{path}: no panel database yet; run `panel review` first")
    return Store(path)
