"""The command line: `panel` and its sub-commands, one module per area.

Commands import what they need inside their bodies, so `panel --help` stays fast (litellm
alone costs seconds to import).
"""

from __future__ import annotations

from .app import app
from . import catalog, review, rerun, audit, persona_history, compare, votes, evaluate  # noqa: F401  (registers)
from . import publication, submissions  # noqa: F401  (registers)


def main() -> None:
    app()


__all__ = ["app", "main"]
