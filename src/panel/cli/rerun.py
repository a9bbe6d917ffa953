"""`panel rerun`: re-run personas whose prompts changed, and report which verdicts flipped."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.defaults import DEFAULT_CONCURRENCY
from . import options
from .app import EXIT_OK, EXIT_PARTIAL, app, console, guarded, load_workspace_settings, print_json, workspace
from .publication import after_run


@app.command()
@guarded
def rerun(
    changed: bool = typer.Option(False, "--changed", help="Re-run every seated persona whose prompt changed since its "
                                                          "latest verdict."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Re-run this persona (with --changed: only if it "
                                                                  "changed)."),
    brief: Optional[str] = typer.Option(None, "--brief", help="Only this brief (a slug with a stored panel)."),
    model: Optional[str] = typer.Option(None, "--model", help="Use this model for every re-run pair (default: the "
                                                              "model behind each old verdict)."),
    api_base: options.ApiBase = None,
    router: options.Router = None,
    concurrency: options.Concurrency = DEFAULT_CONCURRENCY,
    workers: options.Workers = None,
    fresh: bool = typer.Option(False, "--fresh", help="Call the model even when the store has a verdict for the same "
                                                      "version, brief and model."),
    max_cost: options.MaxCost = None,
    as_json: bool = typer.Option(False, "--json", help="Print the flip report as one JSON document."),
    db: options.Db = None,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the updated Markdown reports (default: "
                                                           "outputs/)."),
    by: options.By = None,
):
    """Re-run personas after a prompt edit and show which verdicts flip.

    Each re-run judges the brief its current verdicts judged, with the model behind the old verdict
    (unless --model). The new panel keeps the other personas' latest verdicts, so the panel %
    before and after differ only by what was re-run.
    Exit codes: 0 every panel complete (or nothing changed), 1 some persona failed, 2 bad input.
    """
    from ..inputs.operator import operator
    from ..inputs.personas import load_personas
    from ..review.flips import RerunOutcome, flip_report
    from ..review.plan import ReviewOptions
    from ..review.rerun import RerunRequest, plan_rerun
    from .app import open_store
    from .review import default_model, report_budget_stop, run_batch, write_reports

    ws = workspace()
    load_workspace_settings(ws)  # a bad panel.yaml is bad input before any work, not after it
    personas = load_personas(ws.personas_dir)
    review_options = ReviewOptions(
        model=model, default_model=default_model(), api_base=api_base, concurrency=concurrency, workers=workers,
        fresh=fresh, max_cost=max_cost, router=router, command=rerun_command(changed, persona, brief, model, fresh),
        operator=operator(by),
    )
    request = RerunRequest(changed=changed, persona=persona, slug=brief, options=review_options)
    request.check(personas)  # before opening the store: bad input needs no database
    with open_store(db, must_exist=True) as store:
        plans = plan_rerun(store.db, personas, request)
        if not plans:
            return nothing_changed(as_json)
        # The run's record names the models the re-run jobs use.
        label = ", ".join(sorted({job.settings.model for plan in plans for job in plan.jobs}))
        review = run_batch(plans, personas, store, review_options, as_json, label=label)
    outcome = RerunOutcome(review=review, plans=plans, report=flip_report(plans, review))
    write_reports(ws.db_path(db), out or ws.outputs_dir, review)
    if as_json:
        print_json(outcome.to_json())
    else:
        show_flips(outcome)
    after_run(ws, ws.db_path(db), review, as_json, review_options.operator)
    report_budget_stop(outcome.review, max_cost)
    raise typer.Exit(EXIT_OK if outcome.complete else EXIT_PARTIAL)


def rerun_command(changed, persona, brief, model, fresh) -> str:
    """The command line as recorded in the runs table."""
    parts = ["rerun"]
    parts += ["--changed"] if changed else []
    parts += ["--persona", persona] if persona else []
    parts += ["--brief", brief] if brief else []
    parts += ["--model", model] if model else []
    parts += ["--fresh"] if fresh else []
    return " ".join(parts)


def nothing_changed(as_json: bool) -> None:
    if as_json:
        print_json({"run_id": None, "message": "nothing changed", "calls_made": 0, "reused_from_store": 0,
                    "verdicts_kept": 0, "counts": {"flips": 0, "holds": 0, "new": 0, "unscored": 0, "errors": 0},
                    "briefs": [], "changes": []})
    else:
        typer.echo("nothing changed: every seated persona's latest verdict was made with its current version.")
    raise typer.Exit(EXIT_OK)


def show_flips(outcome) -> None:
    from rich.markup import escape

    from ..publish.render import pct
    from .audit import table as compact_table

    data = outcome.to_json()
    out = console()
    table = compact_table("Brief", "Persona", "Old → new", "Conf. Δ", "Old headline", "New headline",
                          wrap=("Old headline", "New headline"), title=f"[bold]Flip report[/bold] (run "
                                                                       f"{data['run_id']})")
    colours = {"flip": "bold magenta", "hold": "dim", "new": "cyan", "unscored": "yellow", "error": "red"}
    for c in data["changes"]:
        old = c["old_verdict"] or (c["old_status"] or "—")
        new = c["new_verdict"] or c["new_status"]
        delta = "—" if c["confidence_change"] is None else f"{c['confidence_change']:+.2f}"
        style = colours[c["outcome"]]
        source = " [dim](stored)[/dim]" if c["from_store"] else ""
        table.add_row(
            c["slug"], c["persona"], f"[{style}]{old} → {new}[/{style}] {c['outcome']}{source}", delta,
            escape(c["old_headline"] or ""), escape(c["new_headline"] or c["error"] or ""),
        )
    out.print(table)
    panels = compact_table("Brief", "Before", "After", "Reported", title="Panel % before → after")
    for b in data["briefs"]:
        before, after = b["before"], b["after"]
        panels.add_row(b["slug"], pct(before["ship_pct"]), pct(after["ship_pct"]),
                       f"{after['reported']}/{after['seated']}")
    out.print(panels)
    n = data["counts"]
    failed = "".join(
        f", {n[key]} {label}" for key, label in (("unscored", "unscored"), ("errors", "error(s)")) if n[key]
    )
    out.print(
        f"{n['flips']} flip(s), {n['holds']} hold(s), {n['new']} new verdict(s){failed}."
        f" {data['calls_made']} model call(s), {data['reused_from_store']} from the store,"
        f" {data['verdicts_kept']} other verdict(s) kept."
    )
