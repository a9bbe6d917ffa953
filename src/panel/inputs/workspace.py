"""Where things live: the workspace folder (personas/, tool_briefs/, outputs/) and its defaults.

A workspace is the current folder, or PANEL_HOME. `panel init` copies the defaults shipped in
the package (the personas and briefs of this repository) into a new folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BriefError, PanelError
from ..core.slugs import is_slug


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def from_env(cls) -> "Workspace":
        return cls(Path(os.environ.get("PANEL_HOME") or Path.cwd()))

    @property
    def personas_dir(self) -> Path:
        return self.home / "personas"

    @property
    def briefs_dir(self) -> Path:
        return self.home / "tool_briefs"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    def hint(self) -> str:
        """Said after a "not found" outside a workspace: how to get one."""
        if self.personas_dir.is_dir():
            return ""
        return (f" ({self.home} is not a panel workspace: run `panel init` to create one here,"
                " cd to one, or set PANEL_HOME)")

    def db_path(self, override: Path | None = None) -> Path:
        if override:
            return Path(override)
        env = os.environ.get("PANEL_DB")
        return Path(env) if env else self.outputs_dir / "panel.db"

    def brief_path(self, slug: str) -> Path:
        if not is_slug(slug):
            raise BriefError(f"'{slug}' is not a valid slug (lowercase letters, digits and hyphens)")
        return self.briefs_dir / f"{slug}.yaml"

    def resolve_briefs(self, args: list[str]) -> list[Path]:
        """Each BRIEF argument is a file, a folder of *.yaml briefs, or a slug in tool_briefs/."""
        paths: list[Path] = []
        for arg in args:
            candidate = Path(arg)
            if candidate.is_dir():
                found = sorted(candidate.glob("*.yaml"))
                if not found:
                    raise BriefError(f"{candidate}: folder has no *.yaml briefs")
                paths.extend(found)
            elif candidate.exists() or arg.endswith((".yaml", ".yml")) or os.sep in arg:
                paths.append(candidate)
            elif is_slug(arg):
                path = self.brief_path(arg)
                if not path.exists():
                    raise BriefError(f"no brief '{arg}': {path} does not exist{self.hint()}")
                paths.append(path)
            else:
                raise BriefError(f"'{arg}' is not a brief file, a folder of briefs or a slug")
        return paths


def defaults_dir() -> Path:
    """The shipped defaults: inside the installed package, or the repository in a checkout."""
    packaged = Path(__file__).parents[1] / "defaults"
    if (packaged / "personas").is_dir():
        return packaged
    return Path(__file__).resolve().parents[3]


# What `panel init` copies: each folder of the defaults, and the kinds of file taken from it. The
# labelled set is there so `panel eval standard` works in a new workspace, as the README says.
SCAFFOLD = {"personas": (".yaml", ".j2"), "tool_briefs": (".yaml",), "evals/standard": (".yaml", ".csv", ".md"),
            "datasette": (".json",)}


def init_workspace(target: Path) -> list[Path]:
    """Copy the default personas, briefs, labelled set, Datasette metadata and site settings
    (panel.yaml) into `target`; refuse to overwrite anything."""
    source = defaults_dir()
    written: list[Path] = []
    for folder in SCAFFOLD:
        dest = target / folder
        if dest.exists() and any(dest.iterdir()):
            raise PanelError(f"{dest} already exists and is not empty; nothing was written")
    for folder, kinds in SCAFFOLD.items():
        dest = target / folder
        dest.mkdir(parents=True, exist_ok=True)
        for item in sorted((source / folder).iterdir()):
            if item.is_file() and item.suffix in kinds:
                shutil.copyfile(item, dest / item.name)
                written.append(dest / item.name)
    settings = source / "panel.yaml"
    if settings.is_file() and not (target / "panel.yaml").exists():
        shutil.copyfile(settings, target / "panel.yaml")
        written.append(target / "panel.yaml")
    (target / "outputs").mkdir(exist_ok=True)
    return written
