"""Rendering stored results as reports: Markdown per panel (outputs/<slug>.md)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jinja2

from .aggregate import PanelResult
from .briefs import ToolBrief

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("panel", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # Markdown; untrusted text goes through the `md` filter instead
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def md_text(value: object) -> str:
    """Untrusted text in Markdown: no raw HTML, no accidental headings or tables."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", "")


def md_line(value: object) -> str:
    return " ".join(md_text(value).split())


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


_ENV.filters["md"] = md_text
_ENV.filters["mdline"] = md_line
_ENV.filters["pct"] = pct


def render_panel_markdown(brief: ToolBrief, panel: PanelResult, run_id: int) -> str:
    return _ENV.get_template("panel.md.j2").render(brief=brief, panel=panel, run_id=run_id)


def write_atomic(path: Path, text: str) -> Path:
    """Write via a temp file and rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_panel_report(out_dir: Path, brief: ToolBrief, panel: PanelResult, run_id: int) -> Path:
    return write_atomic(out_dir / f"{brief.slug}.md", render_panel_markdown(brief, panel, run_id))
