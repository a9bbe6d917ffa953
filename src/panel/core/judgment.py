"""A head-to-head judgment: one persona, shown two tools, picks the first, the second, or neither.

Each pair of tools is put to each persona in both orders. A persona whose pick follows the
position (the first tool both times, or the second both times) is inconsistent: its judgment of
the pair counts as a tie. A consistent pick names a tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .verdict import Status

PICKS = ("first", "second", "tie")


def picked_slug(pick: str, first: str, second: str) -> str:
    """The slug a pick names ("first" -> the tool shown first), or "tie"."""
    return {"first": first, "second": second}.get(pick, "tie")


class Judgment(BaseModel):
    """What a persona answers about a pair. The rationale comes first: the model reasons, then picks."""

    model_config = ConfigDict(extra="forbid")

    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6000)]
    pick: Literal["first", "second", "tie"]
    confidence: float = Field(ge=0, le=1)
    headline: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


@dataclass
class JudgmentResult:
    """One persona's judgment of one ordering of a pair, fresh or from the store."""

    persona: str
    persona_version: str
    model: str
    first: str  # the slug shown first
    second: str
    blind: bool  # names, vendors and links masked
    status: Status
    judgment: Judgment | None = None
    error: str | None = None
    cached: bool = False
    judgment_id: int | None = None

    @property
    def picked(self) -> str | None:
        """The slug picked, "tie", or None without a usable answer."""
        return None if self.judgment is None else picked_slug(self.judgment.pick, self.first, self.second)

    @property
    def position(self) -> str | None:
        return self.judgment.pick if self.judgment else None
