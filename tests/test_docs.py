"""Every command has help, and every command is documented in the README."""

import re
from pathlib import Path

import click
import typer.main

from panel.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        path = prefix + (name,)
        if isinstance(command, click.Group):
            yield from all_commands(command, path)
        else:
            yield path, command


def test_every_command_has_help_and_is_in_the_readme(run_cli):
    root = typer.main.get_command(app)
    commands = list(all_commands(root))
    assert len(commands) >= 8
    for path, command in commands:
        assert (command.help or "").strip(), f"panel {' '.join(path)} has no help text"
        res = run_cli(*path, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout
        assert re.search(r"panel " + r"\s+".join(map(re.escape, path)) + r"\b", README), \
            f"`panel {' '.join(path)}` is not documented in README.md"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1].split("\n", 1)[1]  # drop the language tag
    lines = [line for line in first_block.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("make demo") and lines[1].startswith("make test")
