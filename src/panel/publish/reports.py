"""The per-tool report: outputs/<slug>.md, the panel as Markdown."""

from __future__ import annotations

from pathlib import Path

from ..core.brief import ToolBrief
from ..core.panel import PanelResult
from .render import render_markdown, write_atomic


def render_panel_markdown(brief: ToolBrief, panel: PanelResult, run_id: int) -> str:
    return render_markdown("panel.md.j2", brief=brief, panel=panel, run_id=run_id)


def write_panel_report(out_dir: Path, brief: ToolBrief, panel: PanelResult, run_id: int) -> Path:
    return write_atomic(Path(out_dir) / f"{brief.slug}.md", render_panel_markdown(brief, panel, run_id))
