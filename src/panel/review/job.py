"""What the batch, the graph, the seam and the store know of a piece of work: a *job* is one model
question with everything about it decided at planning time, and a *plan* is the jobs of one
subject (a brief's panel, a pair of tools) and what their answers become.

Two kinds exist: a persona's verdict on a brief (`VerdictJob`, `PanelPlan` in panel.review.plan)
and a persona's judgment of two tools (`JudgmentJob`, `MatchPlan` in panel.review.headtohead). The
batch treats both alike; adding a kind means writing these two classes, nothing in the batch.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from ..core.brief import ToolBrief
from ..inputs.personas import Persona
from ..models.seam import CallOutcome, ModelSettings


class Job(Protocol):
    persona: Persona
    settings: ModelSettings
    key: str  # the cache key: two jobs with the same key are answered by one stored answer
    table: str  # the store table its answers go to (and are looked up in, by key)
    answer: type[BaseModel]  # the schema the model answers in
    calibrated: bool  # on the embedded model, is its decision calibrated (panel.models.local.calibrate)?

    @property
    def name(self) -> str: ...  # the persona asked

    @property
    def group(self) -> str: ...  # the slug of the plan it belongs to (progress is reported per plan)

    def messages(self) -> list[dict]: ...

    def call_columns(self) -> dict: ...  # what the `calls` row says the call was about

    def answer_columns(self, answer: BaseModel | None) -> dict: ...  # its row in `table`, beyond the shared columns

    def stored(self, row: dict) -> Any: ...  # the result, from a stored row

    def answered(self, call: CallOutcome, answer_id: int) -> Any: ...  # the result, from a fresh call


class Plan(Protocol):
    jobs: list  # the jobs to ask
    kept: dict  # results carried over without a call (a re-run keeps the personas it does not re-run)

    @property
    def slug(self) -> str: ...

    def briefs(self) -> dict[str, ToolBrief]: ...  # every real brief it judges, by content hash

    def tally(self, results: list) -> Any: ...  # its finished result (a PanelResult, a MatchResult)

    def finish(self, results: list, store, run_id: int) -> Any: ...  # the same, recorded if it is kept

    def file(self, outcome, finished) -> None: ...  # put the finished result where the batch's outcome keeps it
