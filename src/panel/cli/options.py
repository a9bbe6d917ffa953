"""Options several commands share, declared once so their flags and help read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.defaults import MAX_SAMPLES

DB_HELP = "SQLite database (default: $PANEL_DB, else outputs/panel.db)."
JSON_HELP = "Print one JSON document on stdout and nothing else there."

Db = Annotated[Optional[Path], typer.Option("--db", help=DB_HELP)]
AsJson = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Model = Annotated[Optional[str], typer.Option(
    "--model", help="Any litellm model string, e.g. openai/gpt-4o-mini. Default: $PANEL_MODEL, else the embedded "
                    "local/smollm2.")]
ApiBase = Annotated[Optional[str], typer.Option(
    "--api-base", envvar="PANEL_API_BASE", help="Base URL of an OpenAI-compatible server (with openai/<name>).")]
Concurrency = Annotated[int, typer.Option(
    "--concurrency", envvar="PANEL_CONCURRENCY", min=1, max=512, help="Model calls in flight at once, across all "
                                                                      "briefs.")]
Workers = Annotated[Optional[int], typer.Option(
    "--workers", envvar="PANEL_WORKERS", min=0, max=64, metavar="N",
    help="Processes that make a batch's litellm calls (Anthropic, Gemini, ... any provider litellm serves) when"
    " there are more than one --concurrency window of them, under that one cap (default: one per core; 0: none)."
    " OpenAI-compatible endpoints (through the openai SDK), the embedded model, the scripted model and --router"
    " always run in this process.")]
Fresh = Annotated[bool, typer.Option("--fresh", help="Ignore stored verdicts and call the model again.")]
MaxCost = Annotated[Optional[float], typer.Option(
    "--max-cost", min=0, help="Stop starting new calls once recorded cost (USD) would pass this.")]
Router = Annotated[Optional[str], typer.Option(
    "--router", envvar="PANEL_ROUTER", metavar="FILE",
    help="A LiteLLM Router model_list (YAML): several deployments under one model name, with rpm/tpm caps,"
    " fallbacks and cooldowns; --model names one of its model names.")]
Samples = Annotated[int, typer.Option(
    "--samples", min=1, max=MAX_SAMPLES, help="Independent answers per seat (each stored and cached apart); the seat's"
    " verdict is their majority, and an even split is shown as split, not counted.")]
Jury = Annotated[Optional[str], typer.Option(
    "--jury", metavar="M1,M2,...", help="Hold every seat with a jury of these models (comma-separated, two or"
    " more): each answers apart (stored and cached apart); the seat's verdict is their strict majority, a seat"
    " with none is shown as split and not counted, a juror that fails does not vote, and a juror whose vendor"
    " makes the tool sits it out. A persona file's `models:` gives one persona a jury.")]


def jury_models(jury: str | None) -> list[str] | None:
    """--jury's comma-separated models (None when not given)."""
    return [m.strip() for m in jury.split(",") if m.strip()] if jury else None


By = Annotated[Optional[str], typer.Option(
    "--by", help="Who does this, for the record (default: $PANEL_EDITOR, else your OS user name).")]
Out = Annotated[Optional[Path], typer.Option("--out", help="Folder for the Markdown reports (default: outputs/).")]
Since = Annotated[Optional[str], typer.Option(
    "--since", metavar="WHEN",
    help="Only from this time on: a date (2026-11-01), a date and time, or an age (24h, 7d, 2w).")]
Until = Annotated[Optional[str], typer.Option(
    "--until", metavar="WHEN", help="Only before this time (a date includes that whole day).")]
