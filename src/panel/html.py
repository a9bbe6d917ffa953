"""HTML pages: one autoescaping Jinja environment, shared filters and the inline SVG bars.

Every page is self-contained: inline CSS, no scripts, no fonts or images fetched from anywhere,
and a Content-Security-Policy that forbids scripts outright, so even a slip in escaping could
not run a vendor's `<script>`. Brief and model text is always escaped by the environment.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import jinja2

from .compare import OUTCOME_LABELS
from .compare import pct_text as pct


def span(interval) -> str:
    """A 95% interval as "30–95%" (or an em dash when there is none)."""
    if not interval:
        return "—"
    return f"{interval[0]:.0f}–{interval[1]:.0f}%"


def when(stamp: str | None) -> str:
    """A stored UTC ISO time as "2025-06-01 14:03 UTC"."""
    if not stamp:
        return "—"
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def bar_widths(parts: list[int]) -> list[tuple[float, float]]:
    """(x, width) in a 0-100 box for each count; an all-zero bar stays empty."""
    total = sum(parts)
    out, x = [], 0.0
    for n in parts:
        w = 100.0 * n / total if total else 0.0
        out.append((round(x, 2), round(w, 2)))
        x += w
    return out


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("panel", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # every brief and every model answer is untrusted
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, span=span, when=when)
    env.globals.update(outcome_label=OUTCOME_LABELS, bar_widths=bar_widths)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def render_comparison_html(comparison, root: str | None = None) -> str:
    """A comparison page. With `root` (the site's relative root, e.g. "../") tool names link to
    their pages; without it the page stands alone and links nowhere inside a site."""
    return render("site/compare.html.j2", c=comparison, root=root, page_title=comparison.title)
