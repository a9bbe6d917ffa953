"""`panel personas ...` and `panel briefs ...`: the workspace's catalogue of reviewers and tools."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .app import EXIT_BAD_INPUT, EXIT_PARTIAL, app, console, echo_error, guarded, print_json, workspace
from .review import load_batch

personas_app = typer.Typer(help="List, show and validate reviewer personas (personas/*.yaml).", no_args_is_help=True)
briefs_app = typer.Typer(help="List, validate and create tool briefs (tool_briefs/*.yaml).", no_args_is_help=True)
app.add_typer(personas_app, name="personas")
app.add_typer(briefs_app, name="briefs")


# --- personas -----------------------------------------------------------------------------------------


@personas_app.command("list")
@guarded
def personas_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the personas in personas/ with their current versions."""
    from ..inputs.personas import load_personas

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
    from ..core.errors import PersonaError
    from ..core.suggest import did_you_mean
    from ..inputs.personas import load_persona, persona_names, render_messages

    ws = workspace()
    path = ws.personas_dir / f"{name}.yaml"
    if not path.exists():
        hint = did_you_mean(name, persona_names(ws.personas_dir))
        raise PersonaError(f"no persona '{name}': {path} does not exist{hint}")
    persona = load_persona(path)
    messages = render_messages(persona, load_batch(ws, [brief])[0][0]) if brief else None
    if as_json:
        return print_json({"name": persona.name, "version": persona.version, "spec": persona.spec.model_dump(),
                           "messages": messages})
    typer.echo(f"# {persona.name} (version {persona.version}) — {path}\n")
    typer.echo(persona.file_text.rstrip())
    for m in messages or []:
        typer.echo(f"\n--- {m['role']} ---\n{m['content']}")


@personas_app.command("validate")
@guarded
def personas_validate(paths: Optional[list[Path]] = typer.Argument(None, help="Persona files (default: all in "
                                                                              "personas/).")):
    """Check persona files and their templates; exit 2 on the first problem."""
    from ..inputs.personas import load_persona, load_personas

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
    """List the briefs in tool_briefs/ with their status: never reviewed; draft (reviewed, not
    published); published (with "newer draft" when a later review is not published yet); held
    (an embargoed publication); withdrawn. A brief that does not load is listed as invalid, with
    its error on stderr, and the command exits 1 (the others are still listed)."""
    from ..core.errors import BriefError
    from ..inputs.briefs import brief_files, load_brief

    status = review_statuses()
    rows, broken = [], []
    for path in brief_files(workspace().briefs_dir):
        try:
            b = load_brief(path)
        except BriefError as exc:
            broken.append(exc)
            rows.append({"slug": path.stem, "file": str(path), "error": str(exc)})
            continue
        rows.append({"slug": b.slug, "name": b.name, "category": b.category, "entry": b.pricing.entry,
                     "licence": b.licence, "panel": b.panel,
                     "status": status.get(b.slug, "never reviewed")})
    if as_json:
        print_json(rows)
    else:
        show_briefs(rows)
        for exc in broken:
            echo_error(exc)
    if broken:
        raise typer.Exit(EXIT_PARTIAL)


def review_statuses() -> dict[str, str]:
    """slug -> draft / published / ... for the tools with a stored panel (panel.publish.publication;
    the store is only read, and only if it exists)."""
    from ..publish.publication import statuses
    from ..store.db import now
    from .app import open_store

    path = workspace().db_path(None)
    if not path.exists():
        return {}
    with open_store(None, must_exist=True) as store:
        return statuses(store.db, now())


def show_briefs(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table("Slug", "Name", "Category", "Entry", "Licence", "Panel", "Status")
    for r in rows:
        if "error" in r:
            table.add_row(r["slug"], "[red]invalid (see below)[/red]", "", "", "", "", "")
            continue
        table.add_row(r["slug"], r["name"], r["category"], r["entry"], r["licence"],
                      ", ".join(r["panel"]) if r["panel"] else "all", r["status"])
    console().print(table)


@briefs_app.command("validate")
@guarded
def briefs_validate(paths: list[Path] = typer.Argument(..., help="Brief files or folders of briefs.")):
    """Check brief files (and that the personas a brief seats exist in this workspace): one line per
    problem, exit 2 if any is invalid. A valid brief the linter flags (text addressed to the
    reviewers, hidden characters, comments, a link whose text and target disagree, piled-up
    superlatives) gets one warning line per flag; publishing it then needs `panel publish --ack-flags`."""
    from ..core.errors import BriefError, PersonaError
    from ..inputs.briefs import load_brief
    from ..inputs.lint import lint
    from ..inputs.personas import check_panel, persona_names

    ws = workspace()
    files = ws.resolve_briefs([str(p) for p in paths])
    known = persona_names(ws.personas_dir)
    problems = 0
    for path in files:
        try:
            brief = load_brief(path)
            if known:
                check_panel(brief, known, str(path))
        except (BriefError, PersonaError) as exc:
            problems += 1
            echo_error(exc)
            continue
        flags = lint(brief)
        typer.echo(f"{'flagged' if flags else 'ok'}  {brief.slug}  {path}")
        for flag in flags:
            typer.echo(f"  warning: {flag.line()}")
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
    pricing_model: Optional[str] = typer.Option(None, "--pricing-model", help="free, open weights, subscription, "
                                                                              "usage-based ..."),
    entry_price: Optional[str] = typer.Option(None, "--entry-price", help='Cheapest way in, e.g. "Free" or "$20 per '
                                                                          'month".'),
    pricing_notes: Optional[str] = typer.Option(None, "--pricing-notes", help="Anything the entry price leaves out"
                                                " (limits, what the free tier lacks)."),
    licence: Optional[str] = typer.Option(None, help="e.g. Apache-2.0, MIT, Proprietary."),
    link: Optional[list[str]] = typer.Option(None, help="NAME=URL, repeatable (homepage=https://...)."),
    panel: Optional[str] = typer.Option(None, help="Comma-separated personas to seat (default: all)."),
):
    """Write a new, validated brief to tool_briefs/<slug>.yaml (prompts for missing fields on a terminal)."""
    from pydantic import ValidationError

    from ..core.brief import ToolBrief
    from ..core.errors import BriefError
    from ..inputs.personas import check_panel, persona_names
    from ..inputs.yamlfile import describe_validation_error
    from ..core.files import write_atomic

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
    if pricing_notes:
        data["pricing"]["notes"] = pricing_notes
    data["links"] = links
    if panel:
        data["panel"] = [p.strip() for p in panel.split(",") if p.strip()]
    try:
        brief = ToolBrief.model_validate(data)
    except ValidationError as exc:
        raise BriefError(f"new brief: {describe_validation_error(exc)}") from None
    ws = workspace()
    if persona_names(ws.personas_dir):
        check_panel(brief, persona_names(ws.personas_dir), "new brief")
    path = ws.brief_path(brief.slug)
    if path.exists():
        raise BriefError(f"{path} already exists; choose another slug or edit that file")
    write_atomic(path, brief.to_yaml())
    typer.echo(f"Wrote {path}")


@briefs_app.command("draft")
@guarded
def briefs_draft(
    source: Optional[Path] = typer.Argument(None, help="A local repository checkout (README, LICENSE, "
                                                       "pyproject.toml / package.json / Cargo.toml, git history)."),
    from_dist: Optional[str] = typer.Option(None, "--from-dist", metavar="NAME",
                                            help="Draft from an installed Python distribution's metadata instead."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write it (default: "
                                                           "tool_briefs/unfinished/<slug>.yaml; - for stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing draft file."),
    model: Optional[str] = typer.Option(None, "--model", help="Also have this model write the description from the "
                                                              "README (stored and priced like any call; checked, "
                                                              "else the README's first paragraph stays)."),
    api_base: Optional[str] = typer.Option(None, "--api-base", envvar="PANEL_API_BASE",
                                           help="Base URL of an OpenAI-compatible server (with openai/<name>)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the draft, its evidence and what is missing)."),
):
    """Draft a brief from a tool's own files for an editor to finish. Fields the source lacks stay
    empty and are listed (pricing and category never come from a project's files); nothing is
    guessed. What panel read itself (the licence file and what it reads as, first and latest commit,
    tags, contributors, tests, docs) goes under `evidence:`, each fact with where it was read; the
    personas see it apart from the vendor's claims, and pages show it apart."""
    from ..core.errors import BriefError
    from ..core.files import write_atomic
    from ..inputs.evidence import from_checkout, from_distribution

    if (source is None) == (from_dist is None):
        raise BriefError("give a repository folder or --from-dist NAME (one of them)")
    draft = from_distribution(from_dist) if from_dist else from_checkout(source)
    if model:
        describe(draft, model, api_base)
    text = draft.to_yaml()
    path = None
    if str(out) != "-":
        path = out or workspace().briefs_dir / "unfinished" / f"{draft.slug}.yaml"
        if path.exists() and not force:
            raise BriefError(f"{path} already exists; --force overwrites it, --out writes elsewhere")
        write_atomic(path, text)
    if as_json:
        return print_json({"path": str(path) if path else None, "slug": draft.slug, "claims": draft.claims,
                           "links": draft.links, "missing": draft.missing,
                           "evidence": [fact.model_dump() for fact in draft.evidence]})
    if path is None:
        return typer.echo(text, nl=False)
    typer.echo(f"Wrote {path}: {len(draft.evidence)} facts of evidence.")
    if draft.missing:
        typer.echo(f"Fill in: {', '.join(draft.missing)} (not in {draft.source}). Then move it to "
                   f"{workspace().briefs_dir}/ and check it with `panel briefs validate`.")


def describe(draft, model: str, api_base: str | None) -> None:
    """Have `model` write the draft's description from its README (panel.review.describe)."""
    from ..inputs.operator import operator
    from ..review.describe import write_description

    if not draft.readme:
        return typer.echo(f"Warning: --model {model}: {draft.source} has no README to describe from.", err=True)
    done = write_description(draft.readme, draft.slug, workspace().db_path(None), model, api_base, operator())
    if done.text is None:
        typer.echo(f"Warning: --model {model}: its description was not used ({done.problem}); the README's first"
                   f" paragraph stays. `panel audit show {done.run_id}` shows the calls.", err=True)
        return
    draft.claims["description"] = done.text
    draft.described_by = f"{model} (run {done.run_id}, ${done.cost:.4f})"
