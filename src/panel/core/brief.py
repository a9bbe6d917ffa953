"""The tool brief: what the panel reviews (a tool's name, claims, pricing and licence).

Loading a brief file lives in panel.inputs.briefs; this module is only the type."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .slugs import Slug

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("links must start with https:// or http://")
    try:
        urlsplit(value).hostname
    except ValueError:
        raise ValueError("not a valid link (its host cannot be read)") from None
    return value


Url = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]


class Pricing(BaseModel):
    """How the tool is paid for. `entry` is what the cheapest way in costs, as a reader sees it."""

    model_config = ConfigDict(extra="forbid")

    model: Line = Field(description="free, open weights, freemium, subscription, usage-based, enterprise ...")
    entry: Line = Field(description='e.g. "Free" or "$20 per month"')
    notes: Text | None = None


# A fact's words are panel's own, never the vendor's: short values from a closed alphabet (dates,
# counts, SPDX ids, versions, file names), so evidence shown outside the brief's fence cannot carry
# an instruction.
FactText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120,
                                            pattern=r"^[A-Za-z0-9 .,:;/+_()'@#=<>!~*\[\]-]+$")]


class Fact(BaseModel):
    """One thing panel read itself, with where it read it: `licence file: MIT` from `LICENSE`."""

    model_config = ConfigDict(extra="forbid")

    fact: FactText
    value: FactText
    source: FactText


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
    evidence: list[Fact] | None = Field(default=None, max_length=40, description="what panel read itself "
                                        "(`panel briefs draft`), apart from the vendor's claims")

    def content_hash(self) -> str:
        """Hash of the brief's meaning, not its formatting: reflowing the YAML re-runs nothing. A
        brief without evidence hashes as it did before evidence existed (its stored verdicts stay its own)."""
        canonical = json.dumps(self.model_dump(mode="json", exclude=self.unset()), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def unset(self) -> set[str] | None:
        """Fields added after briefs were first stored, left out of the hash and the stored JSON
        while empty."""
        return {"evidence"} if self.evidence is None else None

    def claims(self) -> dict:
        """The vendor's part of the brief (everything but panel's evidence), as YAML shows it."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"evidence"})

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            self.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True, width=88
        )

