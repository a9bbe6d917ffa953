"""Secrets never leave the process: API keys are removed from provider errors before they are
stored or printed."""

from __future__ import annotations

import os
import re

_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|[A-Za-z0-9_\-]{4,}\*{3,}[A-Za-z0-9_\-]*)")
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")


def redact(text: str | None) -> str | None:
    """Remove API keys (any secret-named environment value, and key-shaped strings) from `text`."""
    if not text:
        return text
    for name, value in os.environ.items():
        if value and len(value) >= 8 and _SECRET_ENV.search(name.upper()) and value in text:
            text = text.replace(value, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)
