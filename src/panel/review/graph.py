"""The review graph: one persona node per planned job, fanned out from START with LangGraph's
`Send`, fanned back in by a list reducer, and an aggregate node that turns the results into the
plan's finished result (a brief's panel, recorded; a pair's judgments).

Where a brief becomes a verdict: `persona_node` -> `Batch.ask` (panel.review.batch) ->
`ModelSeam.review` (panel.models.seam).

langgraph is imported only when the graph is built (it costs about a second): `run_plan` runs
the same node steps in place when a batch has no model call to make.

Two ways in. A batch (the CLI) passes a plan as `plan`, with itself as the context. Under
LangGraph's server (or `served_graph().ainvoke({"brief": {...}})`) the graph
is given a submission as data: the `submit` node of panel.review.service validates it like a brief
file and queues it for an editor; a workspace that accepts by itself reviews it at once, as a
one-brief batch built from the configuration (PANEL_HOME, PANEL_DB, PANEL_MODEL, ...), and returns
it as `panel review --json` prints it.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, Union

from ..core.judgment import JudgmentResult
from ..core.verdict import PersonaResult
from .job import Job, Plan


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
    brief: dict  # in: a brief as data, when the graph runs on its own (a submission)
    submission: dict  # out, on its own: the submission's public fields (id, state, flags, ...)
    plan: Plan  # in: planned work (a brief's panel, a pair of tools), when a batch runs the graph
    results: Annotated[list[Union[PersonaResult, JudgmentResult]], operator.add]
    panel: dict  # out: the finished plan as JSON (a panel as `panel review --json` prints it)
    run: dict  # out, on its own: {"run_id", "calls_made", "calls_reused"}


class PanelOutput(TypedDict, total=False):
    """What a run of the graph answers: never its input back (a submission's contact stays private)."""

    panel: dict
    run: dict
    submission: dict


class JobTask(TypedDict):
    job: Job


# The routing and aggregate functions are async although they never await: langgraph runs a sync
# function in a thread pool, one hand-off per plan that a batch of hundreds does not need.
def job_tasks(state: PanelState) -> list[JobTask]:
    return [JobTask(job=job) for job in state["plan"].jobs]


async def route(state: PanelState) -> list | str:
    """Planned work fans out to its persona nodes; a brief given as data goes to submit first. A
    plan with no job to ask (every seat recused, or carried over) goes straight to the aggregate:
    an empty fan-out would end the graph without it."""
    if "plan" not in state:
        return "submit"
    from langgraph.types import Send

    return [Send("persona", task) for task in job_tasks(state)] or "aggregate"


async def persona_node(task: JobTask, runtime) -> dict:
    return {"results": [await runtime.context.batch.ask(task["job"])]}


async def aggregate_node(state: PanelState, runtime) -> dict:
    return {"panel": runtime.context.batch.finish(state["plan"], state["results"]).to_json()}


def build_graph(submit=None):
    """The graph. `submit` (panel.review.service) is the node that takes a brief given as data;
    a batch's graph needs none, since a batch always gives it a plan."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(PanelState, context_schema=PanelContext, output_schema=PanelOutput)
    builder.add_node("persona", persona_node)
    builder.add_node("aggregate", aggregate_node)
    routes = ["persona", "aggregate"]
    if submit is not None:
        builder.add_node("submit", submit)
        builder.add_edge("submit", END)
        routes.append("submit")
    builder.add_conditional_edges(START, route, routes)
    builder.add_edge("persona", "aggregate")
    builder.add_edge("aggregate", END)
    return builder.compile(name="panel-review")


@functools.lru_cache(maxsize=1)
def batch_graph():
    """The graph a batch runs its plans through (built once per process)."""
    return build_graph()


class _InPlace:
    """The runtime the nodes see when run_plan runs them without langgraph."""

    def __init__(self, context: PanelContext):
        self.context = context


async def run_plan(plan: Plan, batch, use_graph: bool = True):
    """One plan: carried-over results first, then a node per job, then the aggregate."""
    state: PanelState = {"plan": plan, "results": batch.carry_over(plan)}
    context = PanelContext(batch=batch)
    if use_graph:
        await batch_graph().ainvoke(state, context=context)
    else:
        runtime = _InPlace(context)
        for task in job_tasks(state):
            state["results"] = state["results"] + (await persona_node(task, runtime))["results"]
        await aggregate_node(state, runtime)
    return batch.finished[plan.slug]
