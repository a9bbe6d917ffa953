"""The structured verdict a persona returns: its schema, how a reply is parsed into it, the
re-ask text when a reply does not fit, and one persona's result on one brief."""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import VerdictParseError
from .fields import Confidence, Rationale, Short, Status

LIST_FIELDS = ("strengths", "risks", "competitors")


class Verdict(BaseModel):
    """Field order matters: the model writes its rationale before it commits to a decision."""

    model_config = ConfigDict(extra="forbid")

    rationale: Rationale
    verdict: Literal["ship", "skip"]
    confidence: Confidence
    headline: Short
    strengths: list[Short] = Field(max_length=8)
    risks: list[Short] = Field(max_length=8)
    competitors: list[Short] = Field(max_length=8)

    def to_columns(self) -> dict:
        """The verdict as store columns (lists as JSON text)."""
        data = self.model_dump()
        for name in LIST_FIELDS:
            data[name] = json.dumps(data[name])
        return data

    @classmethod
    def from_columns(cls, row: dict) -> "Verdict":
        data = {name: row[name] for name in cls.model_fields}
        for name in LIST_FIELDS:
            data[name] = json.loads(data[name] or "[]")
        return cls.model_validate(data)


def answer_schema(model: type[BaseModel]) -> dict:
    """JSON schema sent as `response_format`; every field required (OpenAI strict mode wants that)."""
    schema = model.model_json_schema()
    schema["required"] = list(model.model_fields)
    return schema


def verdict_schema() -> dict:
    return answer_schema(Verdict)


def grammar_safe_schema(schema: dict) -> dict:
    """A schema without string length limits, for grammar compilers: llama.cpp expands
    `maxLength: 6000` into a 6000-deep rule, refuses the grammar and can crash the process.
    Lengths are still checked afterwards, when the reply is validated."""
    if isinstance(schema, dict):
        return {k: grammar_safe_schema(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [grammar_safe_schema(v) for v in schema]
    return schema


# --- parsing a reply -------------------------------------------------------------------------------

_FENCED = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.S)


def parse_verdict(text: str) -> Verdict:
    return parse_answer(text, Verdict)


def parse_answer(text: str, model: type[BaseModel]):
    """Parse a reply into `model` (a Verdict, a Judgment). Tolerates a code fence or prose around one
    JSON object."""
    body = (text or "").strip()
    if not body:
        raise VerdictParseError("the reply was empty")
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        start, end = body.find("{"), body.rfind("}")
        try:
            data = json.loads(body[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            raise VerdictParseError(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise VerdictParseError("the reply must be one JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors()[:6])
        raise VerdictParseError(f"the JSON does not match the {model.__name__.lower()} schema: {problems}") from None


def _field_hint(model: type[BaseModel], name: str) -> str:
    """`verdict ("ship" or "skip")`, `confidence (0 to 1)`: the field's name and what it takes."""
    info = model.model_fields[name]
    if typing.get_origin(info.annotation) is Literal:
        return f"{name} (" + " or ".join(f'"{v}"' for v in typing.get_args(info.annotation)) + ")"
    bounds = {type(m).__name__: m for m in info.metadata}
    if "Ge" in bounds and "Le" in bounds:
        return f"{name} ({bounds['Ge'].ge} to {bounds['Le'].le})"
    return name


def reask_message(error: str, model: type[BaseModel] = Verdict) -> dict:
    """The follow-up sent when a reply does not fit: the error, then the fields it must have."""
    fields = ", ".join(_field_hint(model, name) for name in model.model_fields)
    return {
        "role": "user",
        "content": f"Your reply could not be used: {error}. Reply again with only one JSON object with the"
                   f" fields {fields}.",
    }


# --- one persona's result ----------------------------------------------------------------------------

def consensus(decisions: list[str]) -> str:
    """The majority of sampled decisions; "split" when ship and skip tie."""
    ships, skips = decisions.count("ship"), decisions.count("skip")
    return "ship" if ships > skips else "skip" if skips > ships else "split"


RECUSED = "recused"  # a juror's vote when the tool is its own vendor's: it sits that one out


@dataclass(frozen=True)
class Juror:
    """One model's vote on a jury seat: ship or skip; None when it gave no usable answer (it does
    not vote, and is never a skip); RECUSED when the tool is its vendor's."""

    model: str
    vote: str | None
    verdict_id: int | None = None

    def to_row(self) -> list:
        return [self.model, self.vote, self.verdict_id]


@dataclass(frozen=True)
class FailedAttempt:
    """An attempt that produced no usable verdict, shown beside the standing verdict, never instead."""

    status: Status
    at: str
    model: str
    error: str | None

    @classmethod
    def from_row(cls, row: dict) -> "FailedAttempt":
        return cls(status=row["status"], at=row["created_at"], model=row["model"], error=row["error"])

    def to_json(self) -> dict:
        return {"status": self.status, "at": self.at, "model": self.model, "error": self.error}


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
    made_at: str | None = None  # when the model gave this answer (not when a run reused it)
    last_failure: "FailedAttempt | None" = None  # a failed attempt newer than this standing verdict
    sampled: list[str] | None = None  # with --samples K: the K samples' decisions (this is one of them)
    # A seat held by a jury of models: each juror's vote. `sampled` then holds the decisions of the
    # jurors that answered.
    jurors: list["Juror"] | None = None

    @property
    def decision(self) -> str | None:
        """ship or skip; with samples, their majority, or "split" when they split evenly."""
        if self.sampled:
            return consensus(self.sampled)
        return self.verdict.verdict if self.verdict else None

    @property
    def stability(self) -> float | None:
        """With samples: the share of them that agree with the majority (1.0 = all agree)."""
        if not self.sampled:
            return None
        return round(max(self.sampled.count("ship"), self.sampled.count("skip")) / len(self.sampled), 3)

    def jury_votes(self) -> str | None:
        """A jury seat's votes in one line, as every page shows them: "m1 ship · m2 no answer · ..."."""
        if not self.jurors:
            return None
        return " · ".join(f"{j.model} {j.vote or 'no answer'}" for j in self.jurors)

    @property
    def counted(self) -> bool:
        """Does this seat count in the panel's ship %? An ok verdict does; a split seat does not."""
        return self.status == "ok" and self.decision in ("ship", "skip")

    @classmethod
    def from_row(cls, row: dict, cached: bool) -> "PersonaResult":
        """Rebuild a result from a stored verdicts row."""
        return cls(
            persona=row["persona"],
            persona_version=row["persona_version"],
            model=row["model"],
            status=row["status"],
            verdict=Verdict.from_columns(row) if row["status"] == "ok" else None,
            raw=row["raw"] or "",
            error=row["error"],
            cached=cached,
            verdict_id=row["id"],
            made_at=row.get("created_at"),
        )

    def to_json(self) -> dict:
        v = self.verdict
        return {
            "persona": self.persona,
            "status": self.status,
            "verdict": self.decision,
            "confidence": v.confidence if v else None,
            "headline": v.headline if v else None,
            "rationale": v.rationale if v else None,
            "cached": self.cached,
            "model": self.model,
            "persona_version": self.persona_version,
            "error": self.error,
            "samples": len(self.sampled) if self.sampled else 1,
            "stability": self.stability,
            "jurors": [{"model": j.model, "verdict": j.vote} for j in self.jurors] if self.jurors else None,
        }
