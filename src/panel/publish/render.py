"""Rendering: the template environments (HTML autoescaped, Markdown with its own escaping), the
filters and labels every page shares, and writing a page atomically.

Every HTML page is self-contained: inline CSS, no scripts, no fonts or images fetched from
anywhere, and a Content-Security-Policy that forbids scripts outright, so even a slip in escaping
could not run a vendor's `<script>`. Brief and model text is always escaped.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import jinja2

from ..core.panel import pct  # noqa: F401 - the templates and pages format percentages through render

OUTCOME_LABELS = {"ship": "Ship", "skip": "Skip", "split": "Split", "unscored": "Unscored", "error": "No answer",
                  "recused": "Recused", "not seated": "Not seated"}

EMBEDDED_MODEL = "local/smollm2"
# Said at the top of every page or report with a verdict from the embedded default model.
EMBEDDED_NOTE = (
    "Written by the embedded offline model (SmolLM2-135M, local/smollm2). Its ship/skip calls are calibrated"
    " and carry some signal but are not reliable judgements: on panel's labelled set of 24 clear cases its"
    " panels reached a balanced accuracy of 0.75 to 0.83 (AUC 0.94 to 0.95) and shipped 1 of 12 duds, and at 135M"
    " parameters its rationales and lists can be generic or wrong (docs/benchmarks.md). For verdicts you"
    " publish, review with a real model: panel review --model openai/gpt-4o-mini (or any model litellm supports)."
)


def embedded_note(models) -> str | None:
    """The embedded-model caveat, if any of these models is the embedded default."""
    return EMBEDDED_NOTE if EMBEDDED_MODEL in set(models) else None


# --- filters ---------------------------------------------------------------------------------------


def score(value: float | None, missing: str = "—") -> str:
    """A metric between 0 and 1, to two decimals (`missing` when it cannot be computed)."""
    return missing if value is None else f"{value:.2f}"


def share(value: float | None, missing: str = "—") -> str:
    """A share between 0 and 1 as a percentage."""
    return missing if value is None else f"{100 * value:.0f}%"


def span(interval) -> str:
    """A 95% interval as "30–95%" (or an em dash when there is none)."""
    if not interval:
        return "—"
    return f"{interval[0]:.0f}–{interval[1]:.0f}%"


def when(stamp: str | None, zone: str = " UTC", missing: str = "—") -> str:
    """A stored UTC ISO time, to the minute: "2025-06-01 14:03 UTC" (the audit's tables leave the
    zone out, since every stored time is UTC, and show nothing for a missing one)."""
    if not stamp:
        return missing
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M") + zone
    except ValueError:
        return stamp


def local_time(stamp: str | None, zone: ZoneInfo | None = None, missing: str = "—") -> str:
    """A stored UTC time in the reader's time zone (the workspace's `timezone`), to the minute, with
    the zone's abbreviation: "2026-12-05 09:30 CET". Without a zone, as `when`."""
    if zone is None or not stamp:
        return when(stamp, missing=missing)
    try:
        local = datetime.fromisoformat(stamp).astimezone(zone)
    except ValueError:
        return stamp
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone.key)


def day(stamp: str | None, zone: ZoneInfo | None = None) -> str:
    """The date alone, as a reader says it: "5 Dec 2026"."""
    if not stamp:
        return "—"
    moment = datetime.fromisoformat(stamp)
    local = moment.astimezone(zone) if zone else moment
    return f"{local.day} {local.strftime('%b %Y')}"


@jinja2.pass_context
def _page_when(context, stamp: str | None, missing: str = "—") -> str:
    """`| when` in a template: in the page's `display_zone` when the page has one (the site's)."""
    return local_time(stamp, context.get("display_zone"), missing)


@jinja2.pass_context
def _page_day(context, stamp: str | None) -> str:
    return day(stamp, context.get("display_zone"))


def heat_colour(value: float | None) -> str:
    """A cell of a correlation heat map: white at 0, red towards +1, blue towards -1, grey for none
    (light enough everywhere that dark text on it stays readable)."""
    if value is None:
        return "#eaeef2"
    strength = min(abs(value), 1.0)
    fade = round(255 - 120 * strength)
    return f"#ff{fade:02x}{fade:02x}" if value > 0 else f"#{fade:02x}{fade:02x}ff"


def bar_widths(parts: list[int]) -> list[tuple[float, float]]:
    """(x, width) in a 0-100 box for each count; an all-zero bar stays empty."""
    total = sum(parts)
    out, x = [], 0.0
    for n in parts:
        w = 100.0 * n / total if total else 0.0
        out.append((round(x, 2), round(w, 2)))
        x += w
    return out


def md_text(value: object) -> str:
    """Untrusted text in Markdown: no raw HTML, no accidental headings or tables."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", "")


def md_line(value: object) -> str:
    return " ".join(md_text(value).split())


# --- environments ----------------------------------------------------------------------------------


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("panel", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,  # HTML: every brief and every model answer is untrusted
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=not autoescape,
    )
    env.filters.update(pct=pct, span=span, when=_page_when, day=_page_day, md=md_text, mdline=md_line,
                       score=score, share=share)
    env.globals.update(outcome_label=OUTCOME_LABELS, bar_widths=bar_widths, embedded_note=embedded_note,
                       heat_colour=heat_colour)
    return env


@lru_cache(maxsize=1)
def html_environment() -> jinja2.Environment:
    return _environment(autoescape=True)


@lru_cache(maxsize=1)
def markdown_environment() -> jinja2.Environment:
    """Markdown is not autoescaped: untrusted text goes through the `md`/`mdline` filters."""
    return _environment(autoescape=False)


def render_html(template: str, **context) -> str:
    return html_environment().get_template(template).render(**context)


def render_markdown(template: str, **context) -> str:
    return markdown_environment().get_template(template).render(**context)

