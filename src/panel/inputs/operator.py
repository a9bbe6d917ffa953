"""Who ran a command or made a publication: --by, else PANEL_EDITOR, else the OS user."""

from __future__ import annotations

import getpass
import os

from ..core.errors import PanelError


def operator(by: str | None = None) -> str:
    name = (by if by is not None else os.environ.get("PANEL_EDITOR") or _os_user()).strip()
    if not name or len(name) > 80 or any(not c.isprintable() for c in name):
        raise PanelError(f"--by / PANEL_EDITOR: give a name of 1 to 80 printable characters, not {name!r}")
    return name


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"
