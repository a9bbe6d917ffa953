"""`panel review`: run the persona panel over briefs, and `panel init`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..core.defaults import DEFAULT_CONCURRENCY
from . import options
from .app import EXIT_OK, EXIT_PARTIAL, app, console, guarded, load_workspace_settings, print_json, workspace
from .publication import after_run


# --- review ------------------------------------------------------------------------------------------


def default_model() -> str:
    from ..core.defaults import DEFAULT_MODEL

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
    briefs: list[str] = typer.Argument(..., metavar="BRIEF", help="Brief files, folders of briefs, or slugs in "
                                                                  "tool_briefs/."),
    personas: Optional[str] = typer.Option(None, "--personas", help="Comma-separated personas to seat (default: each "
                                                                    "brief's panel, else all)."),
    model: options.Model = None,
    api_base: options.ApiBase = None,
    router: options.Router = None,
    concurrency: options.Concurrency = DEFAULT_CONCURRENCY,
    workers: options.Workers = None,
    fresh: options.Fresh = False,
    samples: options.Samples = 1,
    jury: options.Jury = None,
    max_cost: options.MaxCost = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
    out: options.Out = None,
    by: options.By = None,
):
    """Review tool briefs with the persona panel; store every verdict; write outputs/<slug>.md.

    Verdicts already stored for the same persona version, brief, model and sampling settings
    are reused, so running the same command again makes no model calls.
    Exit codes: 0 every panel complete, 1 some persona failed (partial panel), 2 bad input.
    """
    from ..inputs.operator import operator
    from ..review.plan import ReviewOptions

    ws = workspace()
    load_workspace_settings(ws)  # a bad panel.yaml is bad input before any work, not after it
    only = [p.strip() for p in personas.split(",") if p.strip()] if personas else None
    review_options = ReviewOptions(model=model, default_model=default_model(), api_base=api_base,
                                   concurrency=concurrency, workers=workers, fresh=fresh, only_personas=only,
                                   max_cost=max_cost, samples=samples, jury=options.jury_models(jury), router=router,
                                   operator=operator(by))
    outcome = review_and_report(ws, briefs, review_options, db, out, as_json)
    if as_json:
        print_json(review_json(outcome))
    raise typer.Exit(EXIT_OK if outcome.complete else EXIT_PARTIAL)


def review_and_report(ws, brief_args, review_options, db, out, quiet: bool):
    """A review as `panel review` makes it: run with progress, reports written, the panels shown
    (unless quiet: --json), then published or left as drafts. Returns the outcome."""
    outcome = run_review_command(ws, brief_args, review_options, db, quiet)
    out_dir = out or ws.outputs_dir
    standing = write_reports(ws.db_path(db), out_dir, outcome)
    if not quiet:
        show_panels(outcome, standing)
        console().print(f"[dim]Stored in {ws.db_path(db)} (run {outcome.run_id}); reports in {out_dir}/[/dim]")
    after_run(ws, ws.db_path(db), outcome, quiet, review_options.operator)
    report_budget_stop(outcome, review_options.max_cost)
    return outcome


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
    """Plan everything first (bad input writes nothing), then run the batch with progress."""
    personas, plans = prepare_review(ws, brief_args, review_options)
    return run_batch(plans, personas, ws.db_path(db), review_options, quiet)


def prepare_review(ws, brief_args, review_options):
    """Load and plan a review: every way its briefs and personas are bad input shows here, before
    any write (its models are checked by run()). Returns (personas, plans)."""
    batch, sources = load_batch(ws, brief_args)
    return plan_batch(ws, batch, review_options, sources)


def plan_batch(ws, briefs, review_options, sources: dict[str, str]):
    """Plan a batch of loaded briefs with the workspace's personas: (personas, plans)."""
    from ..inputs.personas import load_personas
    from ..review.plan import plan_review

    personas = load_personas(ws.personas_dir)
    return personas, plan_review(briefs, personas, review_options, sources)


def run_batch(plans, personas, store, review_options, quiet: bool, label: str | None = None,
              announce: str | None = None):
    """Run planned work (panel.review.run.run: checks, then one recorded batch), with progress on
    stderr. `store` is an open Store or the path of one (opened only once the checks pass);
    `announce` is said on stderr once the checks pass."""
    import asyncio

    from ..review.run import run

    def start() -> None:
        if announce and not quiet:
            typer.echo(announce, err=True)
        progress.start(plans)

    with progress_bar(quiet) as progress:
        return asyncio.run(run(plans, personas, store, review_options, label=label, on_result=progress,
                               on_start=start))


class progress_bar:
    """Progress on stderr while a batch runs. On a terminal: a bar that moves per persona, with the
    elapsed time and, on the embedded model, the tokens it has processed so far (a five-persona
    panel can take a while). Off a terminal: one line per finished panel. With --json: nothing.

    Use: `with progress_bar(quiet) as progress: progress.start(plans); ... progress(slug, result)`."""

    def __init__(self, quiet: bool):
        self.mode = "off" if quiet else ("bar" if sys.stderr.isatty() else "lines")
        self.progress = None
        self.task = None
        self.seats: dict[str, int] = {}
        self.results: dict[str, list] = {}
        self.started = time.monotonic()

    def __enter__(self):
        if self.mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
            from rich.progress import TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(), TextColumn("[bold]Reviewing"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[work]}"), TextColumn("{task.description}"),
                console=console(stderr=True), transient=True,
            )
            self.progress.__enter__()
        return self

    def start(self, plans) -> None:
        self.plans = {plan.slug: plan for plan in plans}
        self.seats = {plan.slug: len(plan.jobs) + len(plan.kept) for plan in plans}  # results to expect
        if self.progress is not None:
            self.task = self.progress.add_task("", total=sum(self.seats.values()), work="")
            self._watch_local_model()

    def __call__(self, slug, result) -> None:
        self.results.setdefault(slug, []).append(result)
        if self.progress is not None:
            note = "stored" if result.cached else result.status
            self.progress.update(self.task, advance=1, description=f"[dim]{slug}/{result.persona}: {note}[/dim]")
        elif self.mode == "lines" and len(self.results[slug]) == self.seats.get(slug):
            typer.echo(panel_line(self.plans[slug], self.results[slug], time.monotonic() - self.started), err=True)

    def _watch_local_model(self) -> None:
        """Show the embedded model's work while a persona is being written (no result arrives for
        half a minute on two cores). Reads a counter; imports nothing."""
        import threading

        def watch():
            while self.progress is not None and not self.progress.finished:
                local = sys.modules.get("panel.models.local")
                processed = local.tokens_processed() if local else 0
                if processed:
                    self.progress.update(self.task, work=f"[dim]{processed:,} tokens[/dim]")
                time.sleep(0.5)

        threading.Thread(target=watch, daemon=True, name="panel-progress").start()

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
            self.progress = None
        return False


def panel_line(plan, results: list, seconds: float) -> str:
    """One finished plan, for a log: `smollm3: 75% ship · 4/4 reported · 12.3 s`."""
    return f"{plan.slug}: {plan.tally(results).summary()} · {seconds:.1f} s"


def write_reports(db_path: Path, out_dir: Path, outcome) -> dict:
    """Rewrite the reports whose standing panel changed; returns each tool's standing panel."""
    from ..publish.reports import write_current_reports
    from ..store.stored_panels import current_panel
    from ..store.store import Store

    slugs = [panel.slug for panel in outcome.panels]
    with Store(db_path) as store:
        write_current_reports(store.db, out_dir, slugs)
        return {slug: current_panel(store.db, slug) for slug in slugs}


def review_json(outcome) -> dict:
    return {
        "run_id": outcome.run_id,
        "calls_made": outcome.calls_made,
        "calls_reused": outcome.calls_reused,
        "workers": outcome.workers,
        "panels": [p.to_json() for p in outcome.panels],
    }


def show_panels(outcome, standing: dict) -> None:
    """This run's panels; where a seat failed, the verdicts that still stand are named under it."""
    from rich.table import Table

    from ..publish.render import pct as percent

    out = console()
    for panel in outcome.panels:
        pct = percent(panel.ship_pct)
        lo, hi = panel.interval
        state = "" if panel.complete else " [bold red]partial[/bold red]"
        table = Table(
            title=f"[bold]{panel.slug}[/bold]: {pct} ship · {panel.reported}/{len(panel.seated)} reported"
            f" · 95% CI {lo:.0f}–{hi:.0f}%{state}",
            title_justify="left",
        )
        sampled = any(r.sampled for r in panel.results)
        for column in ("Persona", "Verdict", "Agree" if sampled else "Conf.", "Headline", "Source"):
            table.add_column(column, overflow="fold")
        for r in panel.ordered():
            colour = {"ship": "green", "skip": "red"}.get(r.decision or "", "yellow")
            agree = f"{max(r.sampled.count('ship'), r.sampled.count('skip'))}/{len(r.sampled)}" if r.sampled else None
            table.add_row(
                r.persona,
                f"[{colour}]{r.decision or r.status}[/{colour}]",
                agree or (f"{r.verdict.confidence:.2f}" if r.verdict else "—"),
                r.verdict.headline if r.verdict else (r.error or ""),
                "stored" if r.cached else "model",
            )
        out.print(table)
        for r in panel.ordered():
            if r.jurors:
                out.print(f"[dim]{r.persona}'s jury: {r.jury_votes()}[/dim]")
        held = standing.get(panel.slug)
        fresh = {r.verdict_id for r in panel.results if r.status == "ok"}
        if not panel.complete and held is not None and held.reported and set(held.verdict_ids()) != fresh:
            out.print(f"[dim]Standing panel for {panel.slug} (the newest usable verdicts, as its report shows):"
                      f" {percent(held.ship_pct)} ship · {held.reported}/{len(held.seated)} reported.[/dim]")
    out.print(f"{outcome.calls_made} model call(s), {outcome.calls_reused} verdict(s) reused from the store.")
    from ..publish.render import embedded_note

    note = embedded_note({r.model for panel in outcome.panels for r in panel.results})
    if note:  # the same caveat the reports and pages carry, where the reader first sees the verdicts
        out.print(f"[dim]{note}[/dim]")


# --- init ----------------------------------------------------------------------------------------------


@app.command()
@guarded
def init(folder: Path = typer.Argument(Path("."), help="Folder to scaffold (created if missing).")):
    """Create a workspace in FOLDER: the default personas/, tool_briefs/, the labelled set evals/standard/
    (for `panel eval standard`), datasette/metadata.json and outputs/."""
    from ..inputs.workspace import init_workspace

    written = init_workspace(folder)
    typer.echo(f"Created {len(written)} files in {folder}/ (personas/, tool_briefs/, evals/standard/, datasette/,"
               " outputs/).")
    typer.echo(f"Next: cd {folder} && panel review <slug>")
