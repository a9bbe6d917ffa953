"""Slugs: the identifiers of briefs and personas (file names, URL parts, database keys)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
_SLUG = re.compile(SLUG_PATTERN)


def is_slug(text: str) -> bool:
    return bool(_SLUG.match(text))


def describe_bad_slug(value: object) -> str:
    shown = repr(value)[:80]
    return f"{shown} is not a valid slug (lowercase letters, digits and hyphens; no '/' or '..')"


def slugify(text: str) -> str:
    """A slug made from any text ("Tool Verdicts Weekly" -> "tool-verdicts-weekly"); "site" if none is left."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-") or "site"
