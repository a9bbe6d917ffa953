"""The routes panel adds to LangGraph's server (langgraph.json `http.app`): the submission queue
over plain HTTP, with the status codes a client expects.

    POST /submissions        {"brief": {...}, "submitter": {"name": ..., "contact": ...}}
        201  queued (or, with submissions.auto_accept, accepted and reviewed: "panel" and "run" too)
        400  not JSON, control characters      409  a copy of a pending submission
        413  over submissions.max_bytes        422  an invalid brief, an unknown field or persona
        429  the submitter's daily limit
    GET  /submissions/{id}   its state; 404 if there is none

Answers never carry the submitter's name or contact. The flow is panel.review.service's
take_submission, the same as a graph run's.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..core.errors import PanelError, SubmissionError
from ..inputs.settings import load_settings
from ..inputs.workspace import Workspace
from ..store import queue
from ..store.store import Store
from .graph import PanelContext
from .service import take_submission

# The body is read only this far beyond the limit: a 1 GB post costs the server nothing.
RAW_BODY_FACTOR = 4


def refused(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_body(request: Request, cap: int) -> bytes | None:
    """The request body, or None once it passes `cap` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)


async def create_submission(request: Request) -> JSONResponse:
    max_bytes = load_settings(Workspace.from_env().home).submissions.max_bytes
    body = await read_body(request, RAW_BODY_FACTOR * max_bytes)
    if body is None:
        return refused(f"submission: over {max_bytes:,} bytes (submissions.max_bytes)", 413)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return refused("submission: the body is not JSON", 400)
    try:
        answer = await take_submission(data, PanelContext(), source="http")
    except SubmissionError as exc:
        return refused(str(exc), exc.status)
    except PanelError as exc:  # an unknown persona in the brief's panel, an unusable server model
        return refused(str(exc), 422)
    return JSONResponse(answer, status_code=201)


async def show_submission(request: Request) -> JSONResponse:
    with Store(Workspace.from_env().db_path()) as store:
        try:
            asked = request.path_params["id"]  # read here: Starlette's int convertor fails (500) on thousands of digits
            number = int(asked) if asked.isascii() and asked.isdigit() and len(asked) <= 19 else 0
            row = queue.get(store.db, number)
        except SubmissionError as exc:
            return refused(str(exc), 404)
    return JSONResponse(queue.public(row))


app = Starlette(routes=[
    Route("/submissions", create_submission, methods=["POST"]),
    Route("/submissions/{id}", show_submission, methods=["GET"]),
])
