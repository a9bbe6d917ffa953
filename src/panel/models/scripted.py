"""A scripted model for tests and demos, reached through litellm as `scripted/<name>`.

Tests queue outputs (or give a callable) and the whole pipeline — graph, seam, store, CLI —
runs exactly as in production, offline. Each queued item is one completion:
  - a dict: returned as JSON text (a verdict, or anything else to test validation);
  - a str: returned as the raw completion text;
  - an Exception instance: raised from the provider (e.g. a litellm.RateLimitError);
  - a callable(messages) -> any of the above.
With nothing queued, `scripted/<name>` answers with a deterministic valid verdict, so
`--model scripted/demo` works without any setup.

This module does not import litellm; panel.models.providers wraps it in a litellm CustomLLM.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

Item = Any
_lock = threading.Lock()
_queues: dict[str, deque] = {}
_responders: dict[str, Callable[[list[dict]], Item]] = {}
calls: list[dict] = []  # every request seen: {"model", "messages", "params"}


def script(name: str, outputs: list[Item] | Callable[[list[dict]], Item]) -> None:
    """Queue outputs for `scripted/<name>`, or set a callable that answers every call."""
    with _lock:
        if callable(outputs):
            _responders[name] = outputs
        else:
            _queues.setdefault(name, deque()).extend(outputs)


def reset() -> None:
    with _lock:
        _queues.clear()
        _responders.clear()
        calls.clear()


def call_count(name: str | None = None) -> int:
    with _lock:
        return sum(1 for c in calls if name is None or c["model"] == name)


def default_verdict(messages: list[dict], seed: int | None = None) -> dict:
    """A valid verdict whose decision depends only on the prompt (and the sample's seed), so runs
    are reproducible."""
    text = (messages[-1]["content"] if messages else "") + (f"#sample{seed}" if seed else "")
    digest = hashlib.sha256(text.encode()).digest()
    decision = "ship" if digest[0] % 3 else "skip"
    return {
        "rationale": (
            "Scripted reviewer: this text stands in for a model's reasoning so the pipeline can run "
            f"offline. Prompt digest {digest[:4].hex()} decides the outcome deterministically."
        ),
        "verdict": decision,
        "confidence": round(0.5 + digest[1] / 512, 2),
        "headline": f"Scripted {decision} verdict",
        "strengths": ["deterministic"],
        "risks": ["not a real model"],
        "competitors": [],
    }


def default_judgment(messages: list[dict], seed: int | None = None) -> dict:
    """A valid head-to-head judgment whose pick depends only on the prompt."""
    text = (messages[-1]["content"] if messages else "") + (f"#sample{seed}" if seed else "")
    digest = hashlib.sha256(text.encode()).digest()
    pick = ("first", "second", "tie")[digest[0] % 3]
    return {"rationale": f"Scripted judge: prompt digest {digest[:4].hex()} decides.", "pick": pick,
            "confidence": round(0.5 + digest[1] / 512, 2), "headline": f"Scripted pick: {pick}"}


def asks_for_judgment(params: dict) -> bool:
    """Does the request's response format describe a head-to-head judgment? (Scripted models always
    get one: panel's own providers skip the structured-output probe.)"""
    return '"pick"' in json.dumps(params.get("response_format") or {})


def next_item(name: str, messages: list[dict], params: dict) -> Item:
    with _lock:
        calls.append({"model": name, "messages": messages, "params": params})
        queue = _queues.get(name)
        if queue:
            item = queue.popleft()
        elif name in _responders:
            item = _responders[name]
        else:
            item = default_verdict
    if item is default_verdict:
        made = default_judgment if asks_for_judgment(params) else default_verdict
        item = made(messages, params.get("seed"))
    elif callable(item) and not isinstance(item, BaseException):
        item = item(messages)
    return item


def respond(name: str, messages: list[dict], params: dict) -> str:
    """The completion text for one call; raises the item if it is an exception."""
    item = next_item(name, messages, params)
    if isinstance(item, BaseException):
        raise item
    if isinstance(item, (dict, list)):
        return json.dumps(item)
    return str(item)
