"""A head-to-head judgment: one persona, shown two tools, picks the first, the second, or neither.

Each pair of tools is put to each persona in both orders. A persona whose pick follows the
position (the first tool both times, or the second both times) is inconsistent: its judgment of
the pair counts as a tie. A consistent pick names a tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .fields import Confidence, Rationale, Short, Status


def picked_slug(pick: str, first: str, second: str) -> str:
    """The slug a pick names ("first" -> the tool shown first), or "tie"."""
    return {"first": first, "second": second}.get(pick, "tie")


class Judgment(BaseModel):
    """What a persona answers about a pair. The rationale comes first: the model reasons, then picks."""

    model_config = ConfigDict(extra="forbid")

    rationale: Rationale
    pick: Literal["first", "second", "tie"]
    confidence: Confidence
    headline: Short

    def to_columns(self, first: str, second: str) -> dict:
        """The judgment as store columns, with the slug it picks (the tools shown first and second)."""
        return {**self.model_dump(), "picked": picked_slug(self.pick, first, second)}


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


@dataclass
class MatchResult:
    """Every judgment of one pair of tools in a batch: what a comparison is computed from."""

    slug: str  # "a-vs-b", in the order the user named the tools
    judgments: list[JudgmentResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every judgment answered."""
        return all(r.status == "ok" for r in self.judgments)

    @property
    def answered(self) -> int:
        return sum(1 for r in self.judgments if r.status == "ok")

    def summary(self) -> str:
        """One line for a log: `3/4 judgments`."""
        return f"{self.answered}/{len(self.judgments)} judgments"

    def to_json(self) -> dict:
        return {"judgments": len(self.judgments)}
