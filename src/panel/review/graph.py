"""The review graph: one persona node per planned pair, fanned out from START with LangGraph's
`Send`, fanned back in by a list reducer, and an aggregate node that turns the results into the
brief's panel and records it.

Where a brief becomes a verdict: `persona_node` -> `Batch.review_pair` (panel.review.batch) ->
`ModelSeam.review` (panel.models.seam).

langgraph is imported only when the graph is built (it costs about a second): `run_panel` runs
the same node steps in place when a batch has no model call to make.

Two ways in. A batch (the CLI) passes a planned brief as `plan`, with itself as the context. On
its own — `graph.ainvoke({"brief": {...}})`, or under LangGraph's server — the graph is given a
brief as data: the `submit` node validates it like a brief file, builds a batch from the
configuration (panel.review.service: PANEL_HOME, PANEL_DB, PANEL_MODEL, ...), runs the panel
through this same graph and returns it as `panel review --json` prints it.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from ..core.verdict import PersonaResult
from .plan import Pair, PanelPlan


@dataclass
class PanelContext:
    """What the nodes run in (LangGraph's context_schema). In process, the batch that owns the store
    and the seam. On its own, nothing (or JSON settings): the submit node builds a batch from the
    configuration, with these overrides."""

    batch: Any = None  # a panel.review.batch.Batch
    model: str | None = None  # overrides PANEL_MODEL for a submission
    personas: list[str] | None = None  # seat only these (default: the brief's panel, else all)
    samples: int = 1


class PanelState(TypedDict, total=False):
    brief: dict  # in: a brief as data, when the graph runs on its own
    plan: PanelPlan  # in: a planned brief, when a batch runs the graph
    results: Annotated[list[PersonaResult], operator.add]
    panel: dict  # out: the panel as `panel review --json` prints it
    run: dict  # out, on its own: {"run_id", "calls_made", "calls_reused"}


class PairTask(TypedDict):
    pair: Pair


# The routing and aggregate functions are async although they never await: langgraph runs a sync
# function in a thread pool, one hand-off per brief that a batch of hundreds does not need.
def pair_tasks(state: PanelState) -> list[PairTask]:
    return [PairTask(pair=pair) for pair in state["plan"].pairs]


async def route(state: PanelState) -> list | str:
    """A planned brief fans out to its persona nodes; a brief given as data goes to submit first. A
    plan with no pair to ask (every seat recused, or carried over) goes straight to the aggregate:
    an empty fan-out would end the graph without it."""
    if "plan" not in state:
        return "submit"
    from langgraph.types import Send

    return [Send("persona", task) for task in pair_tasks(state)] or "aggregate"


async def submit_node(state: PanelState, runtime) -> dict:
    from .service import review_submission

    return await review_submission(state.get("brief"), runtime.context or PanelContext())


async def persona_node(task: PairTask, runtime) -> dict:
    return {"results": [await runtime.context.batch.review_pair(task["pair"])]}


async def aggregate_node(state: PanelState, runtime) -> dict:
    finished = runtime.context.batch.finish_panel(state["plan"], state["results"])
    return {"panel": finished.to_json() if hasattr(finished, "to_json") else {"judgments": len(finished)}}


def build_graph():
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(PanelState, context_schema=PanelContext)
    builder.add_node("submit", submit_node)
    builder.add_node("persona", persona_node)
    builder.add_node("aggregate", aggregate_node)
    builder.add_conditional_edges(START, route, ["submit", "persona", "aggregate"])
    builder.add_edge("submit", END)
    builder.add_edge("persona", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile(name="panel-review")


@functools.lru_cache(maxsize=1)
def compiled_graph():
    return build_graph()


def __getattr__(name: str):
    """`panel.review.graph:graph`, the compiled graph, built on first use (see langgraph.json)."""
    if name == "graph":
        return compiled_graph()
    raise AttributeError(name)


class _InPlace:
    """The runtime the nodes see when run_panel runs them without langgraph."""

    def __init__(self, context: PanelContext):
        self.context = context


async def run_panel(plan: PanelPlan, batch, use_graph: bool = True):
    """One brief's panel: carried-over verdicts first, then a node per pair, then the aggregate."""
    state: PanelState = {"plan": plan, "results": batch.carry_over(plan)}
    context = PanelContext(batch=batch)
    if use_graph:
        await compiled_graph().ainvoke(state, context=context)
    else:
        runtime = _InPlace(context)
        for task in pair_tasks(state):
            state["results"] = state["results"] + (await persona_node(task, runtime))["results"]
        await aggregate_node(state, runtime)
    return batch.matches[plan.slug] if plan.slug in batch.matches else batch.panels[plan.slug]
