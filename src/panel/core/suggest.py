"""The "did you mean" hint of an error about an unknown name (a persona, a slug), worded once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """", did you mean 'skeptic'?" for a near miss among `known`; "" when nothing is close."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f", did you mean '{close[0]}'?" if close else ""
