"""The evaluation report: outputs/eval/<set>-<id>.md and .html, from an Evaluation (and the
comparison with a baseline, if one was asked for)."""

from __future__ import annotations

from pathlib import Path

from ..analysis.metrics import METRIC_LABELS
from ..core.files import write_atomic
from .render import render_html, render_markdown


def eval_view(evaluation, comparison=None) -> dict:
    """What both pages show: the tables as plain data."""
    data = evaluation.to_json()
    decisions: dict[str, dict[str, str | None]] = {}
    for item in data["items"]:
        decisions.setdefault(item["slug"], {"expected": item["expected"]})[item["persona"]] = item["decision"]
    return {
        "e": data, "labels": METRIC_LABELS, "who": [*evaluation.personas, "panel"], "decisions": decisions,
        "comparison": comparison.to_json() if comparison else None, "page_title": f"Evaluation: {evaluation.set_name}",
    }


def write_eval_report(evaluation, comparison, out_dir: Path) -> tuple[Path, Path]:
    view = eval_view(evaluation, comparison)
    name = f"{evaluation.set_name}-{evaluation.eval_id}"
    md = write_atomic(Path(out_dir) / f"{name}.md", render_markdown("eval.md.j2", **view))
    html = write_atomic(Path(out_dir) / f"{name}.html", render_html("site/eval.html.j2", root=None, **view))
    return md, html
