"""The field types a model's structured answer is made of, shared by every kind of answer (a
persona's Verdict, a head-to-head Judgment), so a limit is changed in one place for all of them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

Rationale = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6000)]
# A headline, a list item.
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Confidence = Annotated[float, Field(ge=0, le=1)]

# What became of one model call: a usable answer, an answer that never fit the schema, or a failure.
Status = Literal["ok", "unscored", "error"]
