"""The tool brief: what the panel reviews (a tool's name, claims, pricing and licence).

Loading a brief file lives in panel.inputs.briefs; this module is only the type."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .slugs import Slug

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

