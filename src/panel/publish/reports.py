"""The per-tool report: outputs/<slug>.md, the panel as Markdown."""

from __future__ import annotations

from pathlib import Path

from ..core.brief import ToolBrief
from ..core.panel import PanelResult
from ..store import queries
from ..store import stored_panels
from ..core.files import write_atomic
from .render import render_markdown


def render_panel_markdown(brief: ToolBrief, panel: PanelResult) -> str:
    return render_markdown("panel.md.j2", brief=brief, panel=panel)


def write_panel_report(out_dir: Path, brief: ToolBrief, panel: PanelResult) -> Path | None:
    """Write outputs/<slug>.md for a standing panel; returns None when the file already says the
    same (a run that changed no verdict leaves the report, and its date, alone)."""
    path = Path(out_dir) / f"{brief.slug}.md"
    text = render_panel_markdown(brief, panel)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return None
    return write_atomic(path, text)


def write_current_reports(db, out_dir: Path, slugs: list[str]) -> list[Path]:
    """Reports for the standing panels of these tools, rewritten only where one changed."""
    written = []
    for slug in slugs:
        panel = stored_panels.current_panel(db, slug)
        if panel is None:
            continue
        brief = ToolBrief.model_validate(queries.brief_json(db, panel.brief_hash))
        path = write_panel_report(out_dir, brief, panel)
        if path is not None:
            written.append(path)
    return written
