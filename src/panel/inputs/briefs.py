"""Loading tool brief files (tool_briefs/*.yaml) into ToolBrief."""

from __future__ import annotations

from pathlib import Path

from ..core.brief import ToolBrief
from ..core.errors import BriefError
from .yamlfile import load_model


def load_brief(path: Path) -> ToolBrief:
    """Load and validate one brief; the slug defaults to the file name and must match it."""
    path = Path(path)
    brief = load_model(path, ToolBrief, BriefError, defaults={"slug": path.stem})
    if brief.slug != path.stem:
        raise BriefError(f"{path}: slug: '{brief.slug}' does not match the file name '{path.stem}'")
    return brief


def brief_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.yaml") if not p.name.startswith("."))
