"""`panel review`: run the persona panel over briefs, and `panel init`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from . import options
from .app import EXIT_OK, EXIT_PARTIAL, app, console, guarded, print_json, workspace


# --- review ------------------------------------------------------------------------------------------


def default_model() -> str:
    from ..models.providers import DEFAULT_MODEL

    return os.environ.get("PANEL_MODEL") or DEFAULT_MODEL


def load_batch(ws, brief_args: list[str]) -> tuple[list, dict[str, str]]:
    """Every brief named (files, folders, slugs) and the file each came from; a slug given twice
    is bad input naming both files."""
    from ..core.errors import BriefError
    from ..inputs.briefs import load_brief

    loaded, sources = [], {}
    for path in ws.resolve_briefs(brief_args):
        brief = load_brief(path)
        if brief.slug in sources:
            raise BriefError(f"{path}: slug '{brief.slug}' is given twice in this batch (also {sources[brief.slug]})")
        sources[brief.slug] = str(path)
        loaded.append(brief)
    return loaded, sources


@app.command()
@guarded
def review(
    briefs: list[str] = typer.Argument(..., help="Brief files, folders of briefs, or slugs in tool_briefs/."),
    personas: Optional[str] = typer.Option(None, "--personas", help="Comma-separated personas to seat (default: each brief's panel, else all)."),
    model: options.Model = None,
    api_base: options.ApiBase = None,
    concurrency: options.Concurrency = 8,
    fresh: options.Fresh = False,
    max_cost: options.MaxCost = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
    out: options.Out = None,
):
    """Review tool briefs with the persona panel; store every verdict; write outputs/<slug>.md.

    Verdicts already stored for the same persona version, brief, model and sampling settings
    are reused, so running the same command again makes no model calls.
    Exit codes: 0 every panel complete, 1 some persona failed (partial panel), 2 bad input.
    """
    from ..review.plan import ReviewOptions

    ws = workspace()
    only = [p.strip() for p in personas.split(",") if p.strip()] if personas else None
    review_options = ReviewOptions(model=model, default_model=default_model(), api_base=api_base,
                                   concurrency=concurrency, fresh=fresh, only_personas=only, max_cost=max_cost)
    outcome, batch = run_review_command(ws, briefs, review_options, db, as_json)
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


def run_review_command(ws, brief_args, review_options, db, quiet):
    """Validate and plan everything first (bad input writes nothing), then run the batch with progress."""
    import asyncio

    from ..inputs.personas import load_personas
    from ..review.batch import Batch
    from ..review.plan import check_plan_models, plan_review
    from ..store.store import Store

    batch, sources = load_batch(ws, brief_args)
    personas = load_personas(ws.personas_dir)
    plans = plan_review(batch, personas, review_options, sources)
    check_plan_models(plans)
    with Store(ws.db_path(db)) as store, progress_bar(quiet) as advance:
        advance(None, sum(len(plan.seated) for plan in plans))
        runner = Batch(store, review_options, on_result=advance)
        outcome = asyncio.run(runner.run(plans, personas))
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
    from ..publish.reports import write_panel_report

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
    from ..inputs.workspace import init_workspace

    written = init_workspace(folder)
    typer.echo(f"Created {len(written)} files in {folder}/ (personas/, tool_briefs/, outputs/).")
    typer.echo(f"Next: cd {folder} && panel review <slug>")
