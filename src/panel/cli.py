"""The command line. Commands import what they need inside their bodies so `panel --help`
stays fast (litellm alone costs seconds to import)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="A multi-persona LLM review panel: five reviewers judge a tool brief; ship or skip.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
personas_app = typer.Typer(help="List, show and validate reviewer personas (personas/*.yaml).", no_args_is_help=True)
briefs_app = typer.Typer(help="List, validate and create tool briefs (tool_briefs/*.yaml).", no_args_is_help=True)
app.add_typer(personas_app, name="personas")
app.add_typer(briefs_app, name="briefs")

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT = 0, 1, 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One line on stderr and a non-zero exit: how every bad input ends."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def guarded(func):
    """Turn the project's narrow errors into one-line messages at the CLI boundary."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .errors import PanelError

        try:
            return func(*args, **kwargs)
        except PanelError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume", 130)

    return wrapper


def workspace():
    from .workspace import Workspace

    return Workspace.from_env()


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# --- review ------------------------------------------------------------------------------------------


def default_model() -> str:
    from .llm import DEFAULT_MODEL

    return os.environ.get("PANEL_MODEL") or DEFAULT_MODEL


def load_batch(ws, brief_args: list[str]):
    from .briefs import load_brief

    return [load_brief(p) for p in ws.resolve_briefs(brief_args)]


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
    raise typer.Exit(EXIT_OK if outcome.complete else EXIT_PARTIAL)


def run_review_command(ws, brief_args, personas_opt, model, api_base, concurrency, fresh, max_cost, db, quiet, command="review"):
    """Validate everything first (bad input writes nothing), then run the batch with progress."""
    import asyncio

    from .personas import load_personas
    from .review import ReviewOptions, check_batch, run_review
    from .store import Store

    batch = load_batch(ws, brief_args)
    personas = load_personas(ws.personas_dir)
    only = [p.strip() for p in personas_opt.split(",") if p.strip()] if personas_opt else None
    options = ReviewOptions(
        model=model, default_model=default_model(), api_base=api_base, concurrency=concurrency,
        fresh=fresh, only_personas=only, max_cost=max_cost, command=command,
    )
    check_batch(batch, personas, only)
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
    from .reports import write_panel_report

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
    from .workspace import init_workspace

    written = init_workspace(folder)
    typer.echo(f"Created {len(written)} files in {folder}/ (personas/, tool_briefs/, outputs/).")
    typer.echo(f"Next: cd {folder} && panel review <slug>")


# --- personas -----------------------------------------------------------------------------------------


@personas_app.command("list")
@guarded
def personas_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the personas in personas/ with their current versions."""
    from .personas import load_personas

    personas = load_personas(workspace().personas_dir)
    rows = [
        {"name": p.name, "title": p.spec.title, "version": p.version, "model": p.spec.model,
         "temperature": p.spec.temperature, "questions": len(p.spec.questions)}
        for p in personas.values()
    ]
    if as_json:
        return print_json(rows)
    from rich.table import Table

    table = Table("Name", "Title", "Version", "Model", "Temp.", "Questions")
    for r in rows:
        table.add_row(r["name"], r["title"], r["version"], r["model"] or "(default)",
                      "—" if r["temperature"] is None else str(r["temperature"]), str(r["questions"]))
    console().print(table)


@personas_app.command("show")
@guarded
def personas_show(
    name: str = typer.Argument(..., help="Persona name, e.g. skeptic."),
    brief: Optional[str] = typer.Option(None, "--brief", help="Also render the prompt for this brief (slug or file)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Show a persona's file, version and (with --brief) the exact prompt it would send."""
    from .errors import PersonaError
    from .personas import load_persona, render_messages

    ws = workspace()
    path = ws.personas_dir / f"{name}.yaml"
    if not path.exists():
        raise PersonaError(f"no persona '{name}': {path} does not exist")
    persona = load_persona(path)
    messages = render_messages(persona, load_batch(ws, [brief])[0]) if brief else None
    if as_json:
        return print_json({"name": persona.name, "version": persona.version, "spec": persona.spec.model_dump(),
                           "messages": messages})
    typer.echo(f"# {persona.name} (version {persona.version}) — {path}\n")
    typer.echo(persona.file_text.rstrip())
    for m in messages or []:
        typer.echo(f"\n--- {m['role']} ---\n{m['content']}")


@personas_app.command("validate")
@guarded
def personas_validate(paths: Optional[list[Path]] = typer.Argument(None, help="Persona files (default: all in personas/).")):
    """Check persona files and their templates; exit 2 on the first problem."""
    from .personas import load_persona, load_personas

    if paths:
        loaded = [load_persona(p) for p in paths]
    else:
        loaded = list(load_personas(workspace().personas_dir).values())
    for p in loaded:
        typer.echo(f"ok  {p.name:<10} version {p.version}  {p.path}")


# --- briefs ----------------------------------------------------------------------------------------------


@briefs_app.command("list")
@guarded
def briefs_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the briefs in tool_briefs/."""
    from .briefs import brief_files, load_brief

    briefs = [load_brief(p) for p in brief_files(workspace().briefs_dir)]
    rows = [{"slug": b.slug, "name": b.name, "category": b.category, "entry": b.pricing.entry,
             "licence": b.licence, "panel": b.panel} for b in briefs]
    if as_json:
        return print_json(rows)
    from rich.table import Table

    table = Table("Slug", "Name", "Category", "Entry", "Licence", "Panel")
    for r in rows:
        table.add_row(r["slug"], r["name"], r["category"], r["entry"], r["licence"],
                      ", ".join(r["panel"]) if r["panel"] else "all")
    console().print(table)


@briefs_app.command("validate")
@guarded
def briefs_validate(paths: list[Path] = typer.Argument(..., help="Brief files or folders of briefs.")):
    """Check brief files: one line per problem, exit 2 if any is invalid."""
    from .briefs import load_brief
    from .errors import BriefError

    ws = workspace()
    files = ws.resolve_briefs([str(p) for p in paths])
    problems = 0
    for path in files:
        try:
            brief = load_brief(path)
        except BriefError as exc:
            problems += 1
            typer.echo(f"Error: {exc}", err=True)
            continue
        typer.echo(f"ok  {brief.slug}  {path}")
    if problems:
        raise typer.Exit(EXIT_BAD_INPUT)


@briefs_app.command("new")
@guarded
def briefs_new(
    slug: Optional[str] = typer.Option(None, help="Identifier: lowercase letters, digits, hyphens."),
    name: Optional[str] = typer.Option(None, help="Tool name."),
    tagline: Optional[str] = typer.Option(None, help="One-line pitch."),
    category: Optional[str] = typer.Option(None, help="e.g. Developer Tools."),
    vendor: Optional[str] = typer.Option(None, help="Who makes it."),
    description: Optional[str] = typer.Option(None, help="A few sentences: what it is and claims."),
    pricing_model: Optional[str] = typer.Option(None, "--pricing-model", help="free, open weights, subscription, usage-based ..."),
    entry_price: Optional[str] = typer.Option(None, "--entry-price", help='Cheapest way in, e.g. "Free" or "$20 per month".'),
    licence: Optional[str] = typer.Option(None, help="e.g. Apache-2.0, MIT, Proprietary."),
    link: Optional[list[str]] = typer.Option(None, help="NAME=URL, repeatable (homepage=https://...)."),
    panel: Optional[str] = typer.Option(None, help="Comma-separated personas to seat (default: all)."),
):
    """Write a new, validated brief to tool_briefs/<slug>.yaml (prompts for missing fields on a terminal)."""
    from pydantic import ValidationError

    from .briefs import ToolBrief
    from .errors import BriefError
    from .reports import write_atomic
    from .yamlfile import describe_validation_error

    values = {"slug": slug, "name": name, "tagline": tagline, "category": category, "vendor": vendor,
              "description": description, "pricing_model": pricing_model, "entry_price": entry_price,
              "licence": licence}
    missing = [k for k, v in values.items() if not v]
    if missing and sys.stdin.isatty():
        for key in missing:
            values[key] = typer.prompt(key.replace("_", " ").capitalize())
    elif missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise BriefError(f"missing {flags} (no terminal to ask on)")
    links = {}
    for item in link or []:
        key, sep, url = item.partition("=")
        if not sep:
            raise BriefError(f"--link '{item}': expected NAME=URL")
        links[key.strip()] = url.strip()
    data = {k: values[k] for k in ("slug", "name", "tagline", "category", "vendor", "description", "licence")}
    data["pricing"] = {"model": values["pricing_model"], "entry": values["entry_price"]}
    data["links"] = links
    if panel:
        data["panel"] = [p.strip() for p in panel.split(",") if p.strip()]
    try:
        brief = ToolBrief.model_validate(data)
    except ValidationError as exc:
        raise BriefError(f"new brief: {describe_validation_error(exc)}") from None
    ws = workspace()
    path = ws.brief_path(brief.slug)
    if path.exists():
        raise BriefError(f"{path} already exists; choose another slug or edit that file")
    write_atomic(path, brief.to_yaml())
    typer.echo(f"Wrote {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
