"""A brief submitted as data (LangGraph's server, its /submissions route, or
`graph.ainvoke({"brief": ...})`): queued for an editor (panel.review.intake), or,
with `submissions.auto_accept`, accepted and reviewed at once as a one-brief batch built from the
configuration, answered as JSON.

The configuration is the CLI's: the workspace is PANEL_HOME (else the current folder), the store
PANEL_DB (else outputs/panel.db there), the model PANEL_MODEL (else the embedded default), and
PANEL_API_BASE, PANEL_CONCURRENCY, PANEL_TIMEOUT, PANEL_ROUTER. The store is the cache, so the same
brief submitted again is answered from it with no model call, and every call is in the audit.

A client may choose a model and a number of samples through the run's context, within what the
server offers: PANEL_SUBMIT_MODELS (comma-separated; the configured model is always offered) and
PANEL_SUBMIT_MAX_SAMPLES (default 3). Anything else would let a client spend the server's API keys
on any provider, or make it open any file as a `local/<path>` model.
"""

from __future__ import annotations

import asyncio
import functools
import os

from ..core.defaults import DEFAULT_CONCURRENCY, DEFAULT_MODEL, DEFAULT_SUBMIT_MAX_SAMPLES
from ..core.errors import ModelConfigError, PanelError, SubmissionError
from ..inputs.personas import load_personas
from ..inputs.workspace import Workspace
from ..store import queue
from ..store.store import Store
from . import intake
from .graph import PanelContext, PanelState, build_graph
from .plan import ReviewOptions
from .run import run_review


# A graph run names no submitter: LangGraph's server keeps a run's input and a thread's state and
# shows them to any client (GET /threads/{id}/state, POST /threads/search), so a contact sent there
# would be public. Submissions that carry who sent them go to POST /submissions
# (panel.review.server_routes), which LangGraph does not record. Graph runs count as one submitter.
GRAPH_SUBMITTER = {"name": "LangGraph client", "contact": "langgraph"}


@functools.lru_cache(maxsize=1)
def served_graph():
    """The graph LangGraph's server serves (langgraph.json): the review graph with the submit node."""
    return build_graph(submit=submit_node)


async def submit_node(state: PanelState, runtime) -> dict:
    data = {"brief": state.get("brief"), "submitter": GRAPH_SUBMITTER}
    return await review_submission(data, runtime.context or PanelContext())


def offered_models() -> list[str]:
    """The models a client may name in its context: the configured one, then PANEL_SUBMIT_MODELS."""
    extra = [m.strip() for m in os.environ.get("PANEL_SUBMIT_MODELS", "").split(",") if m.strip()]
    return list(dict.fromkeys([os.environ.get("PANEL_MODEL") or DEFAULT_MODEL, *extra]))


def check_client_choices(context) -> None:
    """A client's context.model and context.samples, within what this server offers."""
    if context.model is not None and context.model not in offered_models():
        raise ModelConfigError(f"context.model {context.model!r} is not offered by this server (offered: "
                               f"{', '.join(offered_models())}; the operator adds more with PANEL_SUBMIT_MODELS)")
    limit = os.environ.get("PANEL_SUBMIT_MAX_SAMPLES", "").strip()
    limit = int(limit) if limit.isdigit() else DEFAULT_SUBMIT_MAX_SAMPLES
    if not isinstance(context.samples, int) or not 1 <= context.samples <= limit:
        raise ModelConfigError(f"context.samples {context.samples!r}: expected a whole number from 1 to {limit} "
                               "(PANEL_SUBMIT_MAX_SAMPLES)")


def options_from_env(context) -> ReviewOptions:
    concurrency = os.environ.get("PANEL_CONCURRENCY", "").strip()
    return ReviewOptions(
        model=context.model, default_model=os.environ.get("PANEL_MODEL") or DEFAULT_MODEL,
        api_base=os.environ.get("PANEL_API_BASE") or None,
        concurrency=int(concurrency) if concurrency else DEFAULT_CONCURRENCY,
        only_personas=context.personas, samples=context.samples, router=os.environ.get("PANEL_ROUTER") or None,
        command="submit",
    )


_SHOWN: dict[type, type] = {}


def shown_to_client(exc: PanelError) -> PanelError:
    """The same error (same class name, message and isinstance), made a ValueError as well.

    LangGraph's server passes a node's error on as `{"error": class name, "message": str(exc)}`
    only for builtin classes such as ValueError (langgraph_api/serde.py); any other class reaches
    the client as "An internal error occurred", which would hide what is wrong with a brief."""
    if isinstance(exc, ValueError):
        return exc
    base = type(exc)
    if base not in _SHOWN:
        _SHOWN[base] = type(base.__name__, (base, ValueError), {
            "__module__": base.__module__, "__reduce__": lambda self: (base, self.args)})
    return _SHOWN[base](*exc.args)


async def review_submission(data, context) -> dict:
    """Take one submission given as data ({"brief": ..., "submitter": ...}): queued as pending, or,
    when the workspace accepts by itself, accepted and reviewed as a draft. Everything that makes
    it bad input is found before any write. A PanelError (a bad brief, an unknown persona, an
    unusable model, a refusal of the queue) is raised as itself, and shown_to_client keeps its
    one-line message for the server's client."""
    try:
        return await take_submission(data, context, source="langgraph")
    except PanelError as exc:
        raise shown_to_client(exc) from exc


async def take_submission(data, context, *, source: str) -> dict:
    """{"submission": its public fields} (never the submitter's name or contact), plus "panel" and
    "run" as `panel review --json` prints them when it was accepted and reviewed at once."""
    check_client_choices(context)
    ws = Workspace.from_env()
    db_path = ws.db_path()
    personas = load_personas(ws.personas_dir)
    row = await asyncio.to_thread(intake.submit, ws, db_path, data, source=source)
    if not await asyncio.to_thread(intake.auto_accepts, ws, row):
        return {"submission": queue.public(row)}
    try:
        accepted = await asyncio.to_thread(intake.accept, ws, db_path, row["id"], by=intake.AUTO)
    except SubmissionError:  # another submission of the slug was accepted meanwhile: this one waits
        return {"submission": queue.public(await asyncio.to_thread(_row, db_path, row["id"]))}
    outcome = await run_review([accepted.brief], personas, db_path, options_from_env(context))
    await asyncio.to_thread(_attach_run, db_path, row["id"], outcome.run_id)
    return {"submission": queue.public(accepted.row), "panel": outcome.panels[0].to_json(),
            "run": {"run_id": outcome.run_id, "calls_made": outcome.calls_made, "calls_reused": outcome.calls_reused}}


def _row(db_path, submission_id: int) -> dict:
    with Store(db_path) as store:
        return queue.get(store.db, submission_id)


def _attach_run(db_path, submission_id: int, run_id: int) -> None:
    with Store(db_path) as store:
        queue.attach_run(store.db, submission_id, run_id)
