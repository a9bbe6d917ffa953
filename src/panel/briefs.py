"""Tool briefs: the YAML files in tool_briefs/ that describe a tool for the panel to review."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .errors import BriefError
from .yamlfile import load_model

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("links must start with https:// or http://")
    return value


Url = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]


class Pricing(BaseModel):
    """How the tool is paid for. `entry` is what the cheapest way in costs, as a reader sees it."""

    model_config = ConfigDict(extra="forbid")

    model: Line = Field(description="free, open weights, freemium, subscription, usage-based, enterprise ...")
    entry: Line = Field(description='e.g. "Free" or "$20 per month"')
    notes: Text | None = None


class ToolBrief(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Line
    tagline: Line
    category: Line
    vendor: Line
    description: Text
    pricing: Pricing
    licence: Line
    links: dict[Annotated[str, StringConstraints(max_length=40)], Url] = Field(default_factory=dict)
    panel: list[Slug] | None = Field(default=None, description="personas to seat; default: all")

    def content_hash(self) -> str:
        """Hash of the brief's meaning, not its formatting: reflowing the YAML re-runs nothing."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            self.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True, width=88
        )


def load_brief(path: Path) -> ToolBrief:
    """Load and validate one brief; the slug defaults to the file name and must match it."""
    path = Path(path)
    brief = load_model(path, ToolBrief, BriefError, defaults={"slug": path.stem})
    if brief.slug != path.stem:
        raise BriefError(f"{path}: slug: '{brief.slug}' does not match the file name '{path.stem}'")
    return brief


def brief_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.yaml") if not p.name.startswith("."))
