"""`panel review`: run the persona panel over briefs, and `panel init`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .app import EXIT_OK, EXIT_PARTIAL, app, console, guarded, print_json, workspace


# --- review ------------------------------------------------------------------------------------------


def default_model() -> str:
    from ..llm import DEFAULT_MODEL

    return os.environ.get("PANEL_MODEL") or DEFAULT_MODEL


def load_batch(ws, brief_args: list[str]):
    return [brief for _, brief in load_batch_files(ws, brief_args)]


def load_batch_files(ws, brief_args: list[str]):
    """(path, brief) for every brief named; a slug given twice is bad input naming both files."""
    from ..briefs import load_brief
    from ..errors import BriefError

    loaded, seen = [], {}
    for path in ws.resolve_briefs(brief_args):
        brief = load_brief(path)
        if brief.slug in seen:
            raise BriefError(f"{path}: slug '{brief.slug}' is given twice in this batch (also {seen[brief.slug]})")
        seen[brief.slug] = path
        loaded.append((path, brief))
    return loaded


def check_brief_panels(files, personas) -> None:
    """A brief's own `panel:` may only name personas that exist; say which file is wrong."""
    from ..errors import BriefError

    for path, brief in files:
        for name in brief.panel or []:
            if name not in personas:
                raise BriefError(f"{path}: panel: unknown persona '{name}' (known: {', '.join(personas)})")


@app.command()
@guarded
def review(
    briefs: list[str] = typer.Argument(..., help="Brief files, folders of briefs, or slugs in tool_briefs/."),
    personas: Optional[str] = typer.Option(None, "--personas", help="Comma-separated personas to seat (default: each brief's panel, else all)."),
    model: Optional[str] = typer.Option(None, "--model", help="Any litellm model string, e.g. openai/gpt-4o-mini. Default: $PANEL_MODEL, else the embedded local/smollm2."),
    api_base: Optional[str] = typer.Option(None, "--api-base", envvar="PANEL_API_BASE", help="Base URL of an OpenAI-compatible server (with openai/<name>)."),
    concurrency: int = typer.Option(8, "--concurrency", envvar="PANEL_CONCURRENCY", min=1, max=512, help="Model calls in flight at once, across all briefs."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore stored verdicts and call the model again."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, help="Stop starting new calls once recorded cost (USD) would pass this."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout and nothing else there."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite database (default: $PANEL_DB, else outputs/panel.db)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for Markdown reports (default: outputs/)."),
):
    """Review tool briefs with the persona panel; store every verdict; write outputs/<slug>.md.

    Verdicts already stored for the same persona version, brief, model and sampling settings
    are reused, so running the same command again makes no model calls.
    Exit codes: 0 every panel complete, 1 some persona failed (partial panel), 2 bad input.
    """
    ws = workspace()
    outcome, batch = run_review_command(ws, briefs, personas, model, api_base, concurrency, fresh, max_cost, db, as_json)
    out_dir = out or ws.outputs_dir
    write_reports(out_dir, batch, outcome)
    if as_json:
        print_json(review_json(outcome))
    else:
        show_panels(outcome)
        console().print(f"[dim]Stored in {ws.db_path(db)} (run {outcome.run_id}); reports in {out_dir}/[/dim]")
    report_budget_stop(outcome, max_cost)
    raise typer.Exit(EXIT_OK if outcome.complete else EXIT_PARTIAL)


def report_budget_stop(outcome, max_cost) -> None:
    """Say on stderr (stdout may be --json) that --max-cost stopped the run, and how to resume."""
    skipped = getattr(outcome, "budget_skipped", 0)
    if skipped:
        typer.echo(
            f"Stopped at the --max-cost budget of ${max_cost:.4f}: {skipped} model call(s) not started;"
            " run the same command again (with a higher --max-cost) to finish them.",
            err=True,
        )


def run_review_command(ws, brief_args, personas_opt, model, api_base, concurrency, fresh, max_cost, db, quiet, command="review"):
    """Validate everything first (bad input writes nothing), then run the batch with progress."""
    import asyncio

    from ..personas import load_personas
    from ..review import ReviewOptions, check_batch, check_models, run_review
    from ..store import Store

    files = load_batch_files(ws, brief_args)
    batch = [brief for _, brief in files]
    personas = load_personas(ws.personas_dir)
    check_brief_panels(files, personas)
    only = [p.strip() for p in personas_opt.split(",") if p.strip()] if personas_opt else None
    options = ReviewOptions(
        model=model, default_model=default_model(), api_base=api_base, concurrency=concurrency,
        fresh=fresh, only_personas=only, max_cost=max_cost, command=command,
    )
    check_batch(batch, personas, only)
    check_models(options, personas)
    store = Store(ws.db_path(db))
    try:
        with progress_bar(quiet) as advance:
            total = sum(len(b.panel or personas) if not only else len(only) for b in batch)
            advance(None, total)
            outcome = asyncio.run(run_review(batch, personas, store, options, on_result=advance))
    finally:
        store.close()
    return outcome, batch


class progress_bar:
    """A rich progress bar on stderr, one tick per persona result; silent with --json or no TTY."""

    def __init__(self, quiet: bool):
        self.quiet = quiet or not sys.stderr.isatty()
        self.progress = None
        self.task = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("[bold]Reviewing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.description}"), console=console(stderr=True), transient=True,
            )
            self.progress.__enter__()
        return self.advance

    def advance(self, slug, result=None):
        if self.progress is None:
            return
        if slug is None:  # the first call sets the total
            self.task = self.progress.add_task("", total=result)
            return
        note = "stored" if result.cached else result.status
        self.progress.update(self.task, advance=1, description=f"[dim]{slug}/{result.persona}: {note}[/dim]")

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False


def write_reports(out_dir: Path, batch, outcome) -> None:
    from ..reports import write_panel_report

    by_slug = {b.slug: b for b in batch}
    for panel in outcome.panels:
        write_panel_report(out_dir, by_slug[panel.slug], panel, outcome.run_id)


def review_json(outcome) -> dict:
    return {
        "run_id": outcome.run_id,
        "calls_made": outcome.calls_made,
        "calls_reused": outcome.calls_reused,
        "panels": [p.to_json() for p in outcome.panels],
    }


def show_panels(outcome) -> None:
    from rich.table import Table

    out = console()
    for panel in outcome.panels:
        pct = "—" if panel.ship_pct is None else f"{panel.ship_pct:.0f}%"
        lo, hi = panel.interval
        state = "" if panel.complete else " [bold red]partial[/bold red]"
        table = Table(
            title=f"[bold]{panel.slug}[/bold]: {pct} ship · {panel.reported}/{len(panel.seated)} reported"
            f" · 95% CI {lo:.0f}–{hi:.0f}%{state}",
            title_justify="left",
        )
        for column in ("Persona", "Verdict", "Conf.", "Headline", "Source"):
            table.add_column(column, overflow="fold")
        for r in panel.ordered():
            colour = {"ship": "green", "skip": "red"}.get(r.decision or "", "yellow")
            table.add_row(
                r.persona,
                f"[{colour}]{r.decision or r.status}[/{colour}]",
                f"{r.verdict.confidence:.2f}" if r.verdict else "—",
                r.verdict.headline if r.verdict else (r.error or ""),
                "stored" if r.cached else "model",
            )
        out.print(table)
    out.print(f"{outcome.calls_made} model call(s), {outcome.calls_reused} verdict(s) reused from the store.")



# --- init ----------------------------------------------------------------------------------------------


@app.command()
@guarded
def init(folder: Path = typer.Argument(Path("."), help="Folder to scaffold (created if missing).")):
    """Create a workspace: default personas/, tool_briefs/ and outputs/ in FOLDER."""
    from ..workspace import init_workspace

    written = init_workspace(folder)
    typer.echo(f"Created {len(written)} files in {folder}/ (personas/, tool_briefs/, outputs/).")
    typer.echo(f"Next: cd {folder} && panel review <slug>")
