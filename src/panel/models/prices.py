"""Token prices without importing litellm: the price map litellm ships, read as data.

The pinned litellm wheel carries `model_prices_and_context_window_backup.json` (the map litellm
itself prices from offline). Calls that go through the openai SDK (panel.models.openai_sdk) are
priced from that file, so `panel audit` shows the same cost for a known model whichever path made
the call; a model the map does not list stays unpriced (0), as litellm leaves it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

PRICE_FILE = "model_prices_and_context_window_backup.json"


@functools.cache
def price_map() -> dict[str, dict]:
    """litellm's bundled map, found without importing the package (find_spec runs none of its
    code); empty if litellm is not installed or the file moved."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / PRICE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def prices_for(model: str) -> dict | None:
    """The map's entry for a model string (as written, else without its provider prefix), if it
    has token prices."""
    prices = price_map()
    for name in (model, model.split("/", 1)[-1]):
        entry = prices.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return entry
    return None


def token_cost(usage: Any, model: str) -> float:
    """Dollars for a response's usage: prompt tokens (those read from the provider's cache at their
    own price, where the map has one) and completion tokens."""
    entry = prices_for(model)
    if entry is None or usage is None:
        return 0.0
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if "cache_read_input_token_cost" in entry else 0
    return ((prompt - cached) * entry["input_cost_per_token"]
            + cached * entry["cache_read_input_token_cost"]
            + completion * entry.get("output_cost_per_token", 0.0))
