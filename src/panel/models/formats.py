"""Structured-output modes: how a verdict's JSON shape is asked for, and how a server's refusal of
one is recognised, so the seam can fall back to the next.

OpenAI-compatible servers differ: vLLM and llama.cpp's server take `json_schema`; llama-cpp-python's
server accepts only `text` or `json_object` with a `schema` (a `json_schema` request is a 500 naming
`response_format`); LM Studio rejects `json_object`; some ignore the format silently. The seam asks in
this order and remembers, per (api_base, model), the first mode the server accepted:

  json_schema   response_format {"type": "json_schema", "json_schema": {...}}
  json_object   response_format {"type": "json_object", "schema": {...}} (llama-cpp-python's form)
  prompted      no response_format; the schema is described in the system message

A reply in any mode is validated and re-asked in the same way.

Where the endpoint honours it (OpenAI's own API: its backend record says `strict`) and the answer's
schema allows it, json_schema is asked with `strict: true`: the model's decoding is constrained to
the schema, so a reply that does not fit (and the re-ask it costs) cannot happen. Strict mode
takes no string length limits; lengths are still checked on the reply.
"""

from __future__ import annotations

import functools
import json

from pydantic import BaseModel

from ..core.verdict import Verdict, answer_schema, grammar_safe_schema

MODES = ("json_schema", "json_object", "prompted")

# What servers say when they refuse a response_format (seen: llama-cpp-python's server, LM Studio,
# llama.cpp's server). Matched in the error text and in the HTTP body, lower-cased.
_REFUSALS = (
    "input should be 'text' or 'json_object'",
    "'response_format.type' must be",
    "response_format type must be",
    'either "json_schema" or "grammar"',
)


def next_mode(mode: str) -> str | None:
    at = MODES.index(mode)
    return MODES[at + 1] if at + 1 < len(MODES) else None


def response_format(mode: str, answer: type[BaseModel] = Verdict, strict: bool = False) -> dict | None:
    """The response_format a mode sends for an answer model (None: none at all); `strict` where the
    endpoint takes strict schemas (and this one qualifies)."""
    if mode == "json_schema":
        name = answer.__name__.lower()
        if strict and strict_allowed(answer):
            return {"type": "json_schema", "json_schema": {"name": name, "schema": _schema(answer, lengths=False),
                                                           "strict": True}}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": _schema(answer), "strict": False}}
    if mode == "json_object":
        # Without string length limits: llama.cpp turns maxLength 6000 into a grammar it refuses,
        # and llama-cpp-python's server then crashes. Lengths are still checked on the reply.
        return {"type": "json_object", "schema": _schema(answer, lengths=False)}
    return None


def prepare_messages(mode: str, messages: list[dict], answer: type[BaseModel] = Verdict) -> list[dict]:
    """The messages as sent in `mode`: in prompted mode the schema joins the system message."""
    if mode != "prompted":
        return messages
    note = ("Reply with one JSON object, nothing before or after it, that matches this JSON schema:\n"
            + json.dumps(_schema(answer, lengths=False), separators=(",", ":")))
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n\n" + note}, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def is_format_refusal(exc: BaseException) -> bool:
    """Did the server refuse the response_format (as opposed to failing in some other way)?"""
    status = getattr(exc, "status_code", None)
    if status not in (400, 422, 500):
        return False
    response = getattr(exc, "response", None)
    body = ""
    try:
        body = response.text if response is not None else ""
    except Exception:  # noqa: BLE001 - a streamed or closed response has no text to read
        body = ""
    text = f"{getattr(exc, 'message', '') or exc} {body}".lower()
    if any(marker in text for marker in _REFUSALS):
        return True
    return "response_format" in text and any(word in text for word in ("json_schema", "json_object", "type"))


@functools.lru_cache(maxsize=8)
def strict_allowed(answer: type[BaseModel]) -> bool:
    """Can this schema be asked strictly? OpenAI's strict mode wants every object closed
    (additionalProperties false) with every property required."""
    return _closed(answer_schema(answer))


def _closed(node) -> bool:
    if isinstance(node, list):
        return all(_closed(item) for item in node)
    if not isinstance(node, dict):
        return True
    if node.get("type") == "object" or "properties" in node:
        properties = node.get("properties", {})
        if node.get("additionalProperties") is not False or set(node.get("required", [])) != set(properties):
            return False
    return all(_closed(value) for value in node.values())


@functools.lru_cache(maxsize=8)
def _schema_json(answer: type[BaseModel], lengths: bool) -> str:
    schema = answer_schema(answer)
    return json.dumps(schema if lengths else grammar_safe_schema(schema))


def _schema(answer: type[BaseModel], lengths: bool = True) -> dict:
    """An answer's schema, built once (pydantic takes ~1 ms to generate it) and copied per call so
    nothing downstream can change the cached one."""
    return json.loads(_schema_json(answer, lengths))
