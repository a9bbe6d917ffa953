"""`panel audit ...`: why a verdict was given, by which prompt and model, at what cost."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from . import options
from .app import app, console, guarded, print_json

# "\[": rich would read "[like this]" as markup and drop it from the help.
MARKED_HELP = options.JSON_HELP + r" Matches are marked \[like this]."
audit_app = typer.Typer(
    help="Read the stored trail: runs, model calls, verdict history, search, agreement.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")



class Decision(str, Enum):
    ship = "ship"
    skip = "skip"


def reading(db):
    """The store, which must already exist: auditing never creates a database."""
    from .app import open_store

    return open_store(db, must_exist=True)


def money(value) -> str:
    return f"${value:.4f}" if value else "$0"


def opt(value, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def when(stamp: str | None) -> str:
    """A stored UTC timestamp, to the minute (publish.render.when, without the zone)."""
    from ..publish.render import when as formatted

    return formatted(stamp, zone="", missing="")


def table(*columns: str, wrap: tuple[str, ...] = (), **kwargs):
    """A compact rich table: audit rows are wide, terminals often are not. Only the columns named
    in `wrap` (free text) give way when space runs out; ids, dates and numbers stay whole."""
    from rich import box
    from rich.table import Table

    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
                 title_justify="left", **kwargs)
    for name in columns:
        if name in wrap:
            grid.add_column(name, overflow="fold", ratio=1, min_width=8)
        else:
            grid.add_column(name, no_wrap=True)
    return grid


# --- runs -------------------------------------------------------------------------------------------


@audit_app.command("runs")
@guarded
def audit_runs(
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many runs, newest first."),
    since: options.Since = None,
    until: options.Until = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """List runs: date, command, model, briefs, calls made vs reused, tokens, cost, duration, status."""
    from ..inputs.timewindow import window
    from ..store.audit import list_runs

    start, end = window(since, until)
    store = reading(db)
    try:
        runs = list_runs(store.db, limit, start, end)
    finally:
        store.close()
    if as_json:
        return print_json({"runs": runs})
    from rich.markup import escape

    out = console()
    if not runs:
        out.print("No runs in that window." if since or until else "No runs stored yet.")
    colours = {"complete": "green", "partial": "yellow", "interrupted": "red", "running": "cyan"}
    for r in runs:
        colour = colours.get(r["status"], "white")
        tokens = (r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0)
        out.print(
            f"[bold]run {r['id']}[/bold]  {when(r['started_at'])} UTC  [{colour}]{r['status']}[/{colour}]"
            f"  {opt(r['duration_s'], '{:.1f}s')}  {escape(r['command'] or '')}"
        )
        out.print(
            f"    {escape(r['model'] or '')} · by {escape(r.get('operator') or 'unknown')}"
            f" · {len(r['briefs'])} brief(s): {escape(', '.join(r['briefs']))}"
            f" · {r['calls_made']} call(s) made, {r['calls_reused']} reused · {tokens} tokens · {money(r['cost'])}",
            style="dim",
        )


# --- show -------------------------------------------------------------------------------------------


@audit_app.command("show")
@guarded
def audit_show(
    run_id: int = typer.Argument(..., help="A run id from `panel audit runs`."),
    brief: Optional[str] = typer.Option(None, "--brief", help="Only calls for this brief (slug)."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Only calls by this persona."),
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Every persona call in a run: version, model, rendered prompt, raw response, attempts,
    latency, tokens, cost and outcome; plus the stored verdicts the run reused."""
    from ..store.audit import run_detail

    store = reading(db)
    try:
        detail = run_detail(store.db, run_id, brief, persona)
    finally:
        store.close()
    if as_json:
        return print_json(detail)
    show_run(detail)


def show_run(detail: dict) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    out = console()
    run = detail["run"]
    # Short lines that wrap at word boundaries: an auditor's terminal may be 80 columns wide.
    out.print(f"[bold]Run {run['id']}[/bold] · {escape(run['command'] or '')} · {run['status']}")
    out.print(f"  model {escape(run['model'] or '')}")
    out.print(f"  started {when(run['started_at'])} UTC · took {opt(run['duration_s'], '{:.1f}s')}")
    out.print(f"  {run['calls_made']} call(s) made, {run['calls_reused']} verdict(s) reused")
    out.print(f"  {run['prompt_tokens']} prompt + {run['completion_tokens']} completion tokens · {money(run['cost'])}")
    for call in detail["calls"]:
        body = Text()
        at = f" at {call['api_base']}" if call.get("api_base") else ""
        version = f"persona version {call['persona_version']}" if call["persona_version"] else "no persona"
        body.append(f"{version} · {call['model']}{at}\n", style="dim")
        mode = f" · format {call['response_mode']}" if call.get("response_mode") else ""
        body.append(f"{call['outcome']} · {call['attempts']} attempt(s) · {call['latency']:.2f}s{mode}\n", style="dim")
        body.append(f"{call['prompt_tokens']}+{call['completion_tokens']} tokens · {money(call['cost'])}\n\n",
                    style="dim")
        for message in call["request"]:
            body.append(f"[{message['role']}]\n", style="bold cyan")
            body.append(f"{message['content']}\n\n")
        body.append("[response]\n", style="bold green")
        body.append(call["response"] or "(none)")
        if call["error"]:
            body.append(f"\n\n[error] {call['error']}", style="red")
        if call["verdict"]:
            body.append(f"\n\n[verdict] {call['verdict']} ({call['confidence']:.2f}): {call['headline']}",
                        style="bold")
        out.print(Panel(body, title=Text(f"{call['slug']} / {call['persona']}"), title_align="left"))
    for r in detail["reused"]:
        out.print(
            f"[dim]reused[/dim] {r['slug']} / {r['persona']}: verdict {r['verdict_id']} from run {r['from_run']} "
            f"(version {r['persona_version']}, {escape(r['model'] or '')}) → {r['verdict'] or r['status']}"
        )
    if not detail["calls"] and not detail["reused"]:
        out.print("No persona calls match.")


# --- search -----------------------------------------------------------------------------------------


@audit_app.command("search")
@guarded
def audit_search(
    query: str = typer.Argument(..., help='Words to find in headlines and rationales; FTS5 syntax such as licen* or '
                                          '"vendor lock-in" works too.'),
    persona: Optional[str] = typer.Option(None, "--persona", help="Only verdicts by this persona."),
    verdict: Optional[Decision] = typer.Option(None, "--verdict", help="Only ship or only skip verdicts."),
    brief: Optional[str] = typer.Option(None, "--brief", help="Only verdicts on this brief (slug)."),
    limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many matches, newest first."),
    since: options.Since = None,
    until: options.Until = None,
    as_json: bool = typer.Option(False, "--json", help=MARKED_HELP),
    db: options.Db = None,
):
    """Full-text search over verdict headlines and rationales, newest first, matches highlighted.

    "Why did the skeptic skip X in November?":
    panel audit search X --persona skeptic --verdict skip --since 2026-11-01 --until 2026-11-30"""
    from ..analysis.audit import plain_marks
    from ..inputs.timewindow import window
    from ..store.audit import search_verdicts

    start, end = window(since, until)
    store = reading(db)
    try:
        found = search_verdicts(store.db, query, persona, verdict.value if verdict else None, brief, limit, start,
                                end)
    finally:
        store.close()
    if as_json:
        for row in found:
            row["headline"], row["snippet"] = plain_marks(row["headline"]), plain_marks(row["snippet"])
        return print_json({"query": query, "matches": found})
    out = console()
    if not found:
        out.print("No matches.")
        return
    for row in found:
        colour = "green" if row["verdict"] == "ship" else "red"
        title = marked(row["headline"] or "")
        title.stylize("bold")
        line = marked(f"  {when(row['created_at'])} · {row['slug']} / {row['persona']} · [{row['verdict']}] · version"
                      f" {row['persona_version']} · {row['model']} · run {row['run_id']} · verdict {row['verdict_id']}")
        line.highlight_words([f"[{row['verdict']}]"], style=colour)
        out.print(title)
        out.print(line)
        out.print(marked("  " + (row["snippet"] or "")))
        out.print()


def marked(text: str):
    """Text with the search's highlight markers turned into a rich style (and the markers removed)."""
    from rich.text import Text

    from ..store.audit import MARK_END, MARK_START

    result = Text()
    highlighted = False
    for piece in text.replace(MARK_END, MARK_START).split(MARK_START):
        result.append(piece, style="bold black on yellow" if highlighted else "")
        highlighted = not highlighted
    return result


# --- history ----------------------------------------------------------------------------------------


@audit_app.command("history")
@guarded
def audit_history(
    slug: str = typer.Argument(..., help="The tool (slug) whose verdicts to trace."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Only this persona."),
    since: options.Since = None,
    until: options.Until = None,
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """How each persona's verdict on a tool changed over time, with the version and model behind each."""
    from ..inputs.timewindow import window
    from ..store.audit import verdict_history

    start, end = window(since, until)
    store = reading(db)
    try:
        found = verdict_history(store.db, slug, persona, start, end)
    finally:
        store.close()
    if as_json:
        return print_json({"slug": slug, "verdicts": found})
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{escape(slug)}[/bold]: verdict history, oldest first ([bold]*[/bold] = the current verdict: the "
              f"newest ok one)")
    persona_seen = None
    for r in found:
        if r["persona"] != persona_seen:
            persona_seen = r["persona"]
            out.print(f"\n[bold]{r['persona']}[/bold]")
        colour = {"ship": "green", "skip": "red"}.get(r["verdict"] or "", "yellow")
        change = {"flip": "[bold magenta]flip[/bold magenta]"}.get(r["change"], r["change"])
        out.print(
            f"  {when(r['created_at'])}  [{colour}]{r['verdict'] or r['status']}[/{colour}]"
            f"{' *' if r['current'] else ''}  {opt(r['confidence'], '{:.2f}')}  {change}"
            f"  {r['persona_version']}  {escape(r['model'] or '')}  run {r['run_id']}"
        )
        if r["headline"]:
            out.print(f"      {escape(r['headline'])}", style="dim")


@audit_app.command("flags")
@guarded
def audit_flags(slug: Optional[str] = typer.Argument(None, help="Only this tool."), as_json: options.AsJson = False,
                db: options.Db = None):
    """What the brief linter flags in the newest stored brief of each tool (text addressed to the
    reviewers, hidden characters, comments, links whose text and target disagree, superlatives)."""
    from ..core.brief import ToolBrief
    from ..inputs.lint import lint
    from ..store.queries import latest_briefs

    with reading(db) as store:
        stored = latest_briefs(store.db, slug)
    found = [(row["slug"], lint(ToolBrief.model_validate_json(row["json"]))) for row in stored]
    if as_json:
        return print_json({"briefs": [{"slug": s, "flags": [f.to_json() for f in flags]} for s, flags in found]})
    flagged = [(s, flags) for s, flags in found if flags]
    for s, flags in flagged:
        typer.echo(f"{s}: {len(flags)} flag(s)")
        for flag in flags:
            typer.echo(f"  {flag.line()}")
    typer.echo(f"{len(flagged)} of {len(found)} stored brief(s) flagged.", err=True)


# --- agreement --------------------------------------------------------------------------------------


@audit_app.command("agreement")
@guarded
def audit_agreement(
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Pairwise agreement between personas, Fleiss' kappa over complete panels, and ship rates.

    Uses each persona's latest ok verdict per tool; see docs/audit.md for the exact rules."""
    from ..analysis.agreement import agreement_report
    from ..store.queries import judged_slugs
    from ..store.stored_panels import current_panel

    store = reading(db)
    try:
        report = agreement_report([current_panel(store.db, slug) for slug in judged_slugs(store.db)])
    finally:
        store.close()
    if as_json:
        return print_json(report.to_json())
    out = console()
    if not report.briefs:
        out.print("No ok verdicts stored yet.")
        return
    rates = table("Persona", "Verdicts", "Ships", "Ship rate", title="Ship rate (latest verdicts)")
    for s in report.ship_rates:
        rate = None if s.rate is None else 100 * s.rate
        rates.add_row(s.persona, str(s.verdicts), str(s.ships), opt(rate, "{:.0f}%"))
    out.print(rates)
    pairs = table("Persona A", "Persona B", "Briefs", "Agree", "Agreement", title="Pairwise agreement")
    for p in report.pairs:
        pairs.add_row(p.a, p.b, str(p.briefs), str(p.agree), opt(None if p.rate is None else 100 * p.rate, "{:.0f}%"))
    out.print(pairs)
    f = report.fleiss
    if f.kappa is None:
        why = "no complete panels with two or more ratings" if not f.slugs else "every rating is the same"
        out.print(f"Fleiss' kappa: undefined ({why}).")
    else:
        out.print(f"Fleiss' kappa: [bold]{f.kappa:.3f}[/bold] over {len(f.slugs)} brief(s) with complete "
                  f"panels of {f.raters} (observed agreement {f.observed:.3f}, chance {f.expected:.3f}).")
    if f.left_out:
        out.print(f"[dim]Left out of kappa: {len(f.left_out)} complete panel(s) of another size: "
                  f"{', '.join(f.left_out)}.[/dim]")


# --- consistency ------------------------------------------------------------------------------------


@audit_app.command("consistency")
@guarded
def audit_consistency(
    as_json: options.AsJson = False,
    db: options.Db = None,
):
    """Position consistency of each persona over every head-to-head it judged in both orders.

    A persona is consistent on a pair when it picks the same tool (or a tie) whichever is shown
    first; picking by position (the first tool both times, or the second) is the usual failure."""
    from ..analysis.headtohead import consistency_by_persona
    from ..store.queries import consistency_rows

    store = reading(db)
    try:
        found = consistency_by_persona(consistency_rows(store.db))
    finally:
        store.close()
    if as_json:
        return print_json({"personas": [c.to_json() for c in found]})
    out = console()
    if not found:
        out.print("No head-to-head judgments stored yet: `panel compare A B` asks for them.")
        return
    grid = table("Persona", "Pairs", "Consistent", "By position", "Rate", title="Position consistency")
    for c in found:
        rate = None if c.rate is None else 100 * c.rate
        grid.add_row(c.persona, str(c.pairs), str(c.consistent), str(c.by_position), opt(rate, "{:.0f}%"))
    out.print(grid)
