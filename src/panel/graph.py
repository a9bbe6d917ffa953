"""The review graph: START fans out one persona node per seated persona (LangGraph `Send`),
a list reducer fans the results back in, and the aggregate node turns them into a panel.

Where a brief becomes a verdict: `persona_node` -> `ReviewContext.review_persona`
(panel.review) -> `ModelSeam.review` (panel.llm).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Awaitable, Callable, Protocol, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from .aggregate import PanelResult, aggregate
from .briefs import ToolBrief
from .verdict import PersonaResult


class ReviewContext(Protocol):
    """What the nodes need from the batch they run in (see panel.review.BatchReview)."""

    review_persona: Callable[[str, ToolBrief], Awaitable[PersonaResult]]


class ReviewState(TypedDict, total=False):
    brief: ToolBrief
    seated: list[str]
    results: Annotated[list[PersonaResult], operator.add]
    panel: PanelResult


class PersonaTask(TypedDict):
    brief: ToolBrief
    persona: str


# The routing and aggregate functions are async although they never await: langgraph runs a sync
# function in a thread pool, one hand-off per brief that a batch of hundreds does not need.
async def fan_out(state: ReviewState) -> list[Send]:
    return [Send("persona", PersonaTask(brief=state["brief"], persona=name)) for name in state["seated"]]


async def persona_node(task: PersonaTask, runtime: Runtime[Any]) -> dict:
    result = await runtime.context.review_persona(task["persona"], task["brief"])
    return {"results": [result]}


async def aggregate_node(state: ReviewState) -> dict:
    brief = state["brief"]
    return {"panel": aggregate(brief.slug, brief.content_hash(), state["seated"], state["results"])}


def build_graph():
    builder = StateGraph(ReviewState)
    builder.add_node("persona", persona_node)
    builder.add_node("aggregate", aggregate_node)
    builder.add_conditional_edges(START, fan_out, ["persona"])
    builder.add_edge("persona", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile(name="panel-review")


# The compiled graph, for panel.review and for LangGraph's own tools (see langgraph.json).
graph = build_graph()
