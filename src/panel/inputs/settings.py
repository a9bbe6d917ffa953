"""Workspace settings: `panel.yaml` in the workspace folder (every field optional).

    title: Panel verdicts          # the site's name, on every page and in the feed
    base_url: https://example.org/verdicts/   # absolute links: canonical, social previews, the feed
    timezone: Europe/Berlin        # how pages and the digest show dates (stored times stay UTC)
    auto_publish: false            # true: every finished review is published at once (no sign-off)
    quorum: 3                      # no ship % is published from fewer counted verdicts
    submissions:                   # the queue of new tools (docs/submissions.md)
      auto_accept: false           # true: a valid submission is accepted and reviewed at once
      max_per_day: 5               # submissions one submitter (by contact) may send the server in 24 hours
      max_bytes: 20000             # a larger submission is refused
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from ..core.errors import SettingsError
from .yamlfile import load_model

SETTINGS_FILE = "panel.yaml"


class SubmissionSettings(BaseModel):
    """The submission queue's rules (panel.inputs.submission, panel.store.queue)."""

    model_config = ConfigDict(extra="forbid")

    auto_accept: StrictBool = False
    max_per_day: StrictInt = Field(5, ge=1, le=10_000)
    max_bytes: StrictInt = Field(20_000, ge=1_000, le=1_000_000)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("Panel verdicts", max_length=80)
    base_url: str | None = None
    timezone: str = "UTC"
    auto_publish: StrictBool = False
    quorum: StrictInt = Field(3, ge=1, le=50)
    submissions: SubmissionSettings = Field(default_factory=SubmissionSettings)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if not value or any(not c.isprintable() for c in value):
            raise ValueError("must be one line of printable text")
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        """The site's address: http(s), a host, a path; no query, fragment or characters that would
        need escaping in a link (the pages, the feed and the Markdown digest all print it)."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or any(c.isspace() or c in "\"'<>\\`()[]{}|^" for c in value):
            raise ValueError("must be the site's absolute http(s) address, e.g. https://example.org/verdicts/")
        return value if value.endswith("/") else value + "/"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Europe/Berlin or UTC)")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def url(self, relative: str) -> str | None:
        """An absolute address for a page of the site, or None without a base_url."""
        return self.base_url + relative if self.base_url else None


def load_settings(home: Path) -> Settings:
    path = Path(home) / SETTINGS_FILE
    if not path.exists():
        return Settings()
    return load_model(path, Settings, SettingsError)
