"""The structured verdict a persona returns, and the panel-level results built from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Verdict(BaseModel):
    """Field order matters: the model writes its rationale before it commits to a decision."""

    model_config = ConfigDict(extra="forbid")

    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6000)]
    verdict: Literal["ship", "skip"]
    confidence: float = Field(ge=0, le=1)
    headline: Short
    strengths: list[Short] = Field(max_length=8)
    risks: list[Short] = Field(max_length=8)
    competitors: list[Short] = Field(max_length=8)


def verdict_schema() -> dict:
    """JSON schema sent as `response_format`; every field required (OpenAI strict mode wants that)."""
    schema = Verdict.model_json_schema()
    schema["required"] = list(Verdict.model_fields)
    return schema


Status = Literal["ok", "unscored", "error"]


@dataclass
class PersonaResult:
    """One seated persona's outcome for one brief, fresh from a model or reused from the store."""

    persona: str
    persona_version: str
    model: str
    status: Status
    verdict: Verdict | None = None
    raw: str = ""
    error: str | None = None
    cached: bool = False
    verdict_id: int | None = None

    @property
    def decision(self) -> str | None:
        return self.verdict.verdict if self.verdict else None

    def to_json(self) -> dict:
        v = self.verdict
        return {
            "persona": self.persona,
            "status": self.status,
            "verdict": v.verdict if v else None,
            "confidence": v.confidence if v else None,
            "headline": v.headline if v else None,
            "rationale": v.rationale if v else None,
            "cached": self.cached,
            "model": self.model,
            "persona_version": self.persona_version,
            "error": self.error,
        }
