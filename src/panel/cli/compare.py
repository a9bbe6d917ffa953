"""`panel compare` and `panel site`: what readers see."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.defaults import DEFAULT_CONCURRENCY
from . import options
from .app import EXIT_OK, EXIT_PARTIAL, app, fail, guarded, known_tools, load_workspace_settings, plural, print_json
from .app import workspace



# --- compare -------------------------------------------------------------------------------------------


@app.command()
@guarded
def compare(
    slugs: list[str] = typer.Argument(..., help="Two or more tool slugs, e.g. smollm3 mistral-small-3-1."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the pages (default: outputs/compare/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison data as one JSON document."),
    db: options.Db = None,
    editor: Optional[str] = typer.Option(None, "--editor", help="Model that writes a short summary on top of the data "
                                                                "(any litellm model string)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model for reviewing tools that have no stored panel "
                                                              "yet and for the head-to-head judgments (default: the "
                                                              "model that wrote most of the panels' verdicts)."),
    api_base: options.ApiBase = None,
    router: options.Router = None,
    concurrency: options.Concurrency = DEFAULT_CONCURRENCY,
    workers: options.Workers = None,
    blind: bool = typer.Option(False, "--blind", help="Also judge each pair with names, vendors and links masked, and "
                                                      "report the brand effect."),
    recuse: bool = typer.Option(False, "--recuse", help="Leave out seats whose model is made by the tool's vendor "
                                                        "(default: flag them)."),
    conflict_model: Optional[str] = typer.Option(
        None, "--conflict-model", metavar="MODEL", help="Give seats with a vendor conflict this model instead."),
):
    """Compare tools side by side and answer "which one should you ship with?".

    Each persona seated on both panels judges each pair of tools directly, in both orders (a pick
    that follows the position counts as a tie); the panel's pick is the majority of consistent
    picks. Also shows each tool's current verdicts (of --model when given), pricing, the reviewer
    split and the community votes. Writes outputs/compare/<a>-vs-<b>.md and .html.

    A tool with no stored panel is reviewed first (--model, --api-base, --concurrency as in review).

    Exit 1 if a review was partial or the --editor model failed; the pages are still written.
    """
    from ..core.errors import CompareError, EditorError
    from ..core.suggest import did_you_mean
    from ..models.backends import check_model
    from ..publish.comparison import build_comparison, canonical, check_slugs, latest_editor_note, missing_panels
    from ..publish.comparison import save_comparison, write_comparison
    from ..publish.editor import write_editor_summary
    from ..store.queries import stored_tool_names
    from ..review.headtohead import check_conflict_flags
    from ..review.plan import ReviewOptions
    from ..store.store import Store
    from .review import default_model, prepare_review, run_batch

    ws = workspace()
    check_slugs(slugs)
    slugs = canonical(slugs)  # one comparison per set of tools, whatever the order they were named in
    check_conflict_flags(recuse, conflict_model)
    if editor:
        check_model(editor, api_base)  # a misconfigured editor is bad input too, found before any work
    hashes = current_brief_hashes(ws, slugs)
    published = None
    if ws.db_path(db).exists():
        with Store(ws.db_path(db)) as store:
            published = published_panels_of(store.db, slugs) if not (model or conflict_model) else None
            missing = [] if published else missing_panels(store.db, slugs, model)
    else:
        missing = list(slugs)  # no database yet: check the briefs before creating one
    code = EXIT_OK
    review_options = ReviewOptions(model=model, default_model=default_model(), api_base=api_base,
                                   concurrency=concurrency, workers=workers, router=router, command="compare")
    if missing:
        for slug in missing:  # fail on a missing brief before any model is called
            if not ws.brief_path(slug).exists():
                hint = did_you_mean(slug, sorted(known_tools(ws, db)))
                raise CompareError(f"'{slug}' has no stored panel and no brief at {ws.brief_path(slug)}{hint}")
        personas, plans = prepare_review(ws, missing, review_options)
        outcome = run_batch(plans, personas, ws.db_path(db), review_options, as_json,
                            announce=f"No stored panel for {', '.join(missing)}: reviewing first.")
        if not outcome.complete:
            code = EXIT_PARTIAL
        hashes = current_brief_hashes(ws, slugs)
    with Store(ws.db_path(db)) as store:
        still = missing_panels(store.db, slugs, model)
        if still:  # the review ran and failed: nothing to compare, and nothing is published
            fail(f"{', '.join(still)}: no verdict yet (the review failed; see `panel audit runs`); no page written",
                 EXIT_PARTIAL)
        h2h, seat_models, judged_ok, judges = head_to_heads(ws, store, slugs, model, review_options, blind, recuse,
                                                            conflict_model, as_json, published)
        if not judged_ok:
            code = EXIT_PARTIAL
        quorum = load_workspace_settings(ws).quorum if published else None  # as the site will show them
        comparison = build_comparison(store.db, slugs, hashes, model, matches=h2h, recuse=recuse,
                                      seat_models=seat_models, panels=published, quorum=quorum)
        comparison.judges, comparison.published = judges, published is not None
        editor_call = None
        if editor:
            try:
                others = list(stored_tool_names(store.db).values())
                comparison.editor, editor_call = write_editor_summary(comparison, editor, api_base,
                                                                      other_tools=others)
            except EditorError as exc:
                typer.echo(f"Warning: {exc}; the pages were written without it.", err=True)
                code = EXIT_PARTIAL
        if comparison.editor is None:
            comparison.editor = latest_editor_note(store.db, comparison)
        out_dir = out or ws.outputs_dir / "compare"
        md_path, html_path = write_comparison(comparison, out_dir)
        comparison_id = save_comparison(store, comparison, md_path, html_path, editor_call)
    if as_json:
        data = comparison.model_dump(mode="json")
        data["id"] = comparison_id
        data["files"] = {"markdown": str(md_path), "html": str(html_path)}
        print_json(data)
    else:
        typer.echo(str(md_path))
        typer.echo(f"HTML: {html_path}", err=True)
        typer.echo("Judged over the published panels; `panel site` shows it." if published else
                   "Judged over draft panels (not every tool is published, or --model was given): a preview;"
                   " the site shows a comparison of published panels only.", err=True)
    raise typer.Exit(code)


def published_panels_of(db, slugs: list[str]) -> dict | None:
    """The tools' published panels when every one of them is published, else None."""
    from ..publish.publication import published_panels
    from ..store.db import now

    found = published_panels(db, now())
    return {slug: found[slug] for slug in slugs} if all(slug in found for slug in slugs) else None


def head_to_heads(ws, store, slugs, model, review_options, blind, recuse, conflict_model, quiet, panels=None):
    """Judge every pair of tools as one recorded run (panel.review.headtohead.plan_comparison: who
    judges, with which model, and what a vendor conflict does), over `panels` when given (the
    published ones). Returns the HeadToHeads, the per-tool seat models to use, whether every call
    answered, and the prompt version of each judging persona."""
    from ..analysis.headtohead import head_to_head
    from ..inputs.headtohead_prompts import compare_prompt_version
    from ..inputs.personas import load_personas
    from ..models.backends import check_model
    from ..review.headtohead import plan_comparison
    from .review import run_batch

    personas = load_personas(ws.personas_dir)
    if conflict_model:
        check_model(conflict_model, review_options.api_base)
    planned = plan_comparison(store.db, slugs, personas, review_options, compare_prompt_version(ws.personas_dir),
                              blind=blind, recuse=recuse, conflict_model=conflict_model, panels=panels)
    outcome = run_batch(planned.plans, personas, store, planned.options, quiet)
    judges = {job.persona.name: job.persona.version for plan in planned.matchups for job in plan.jobs}
    vendors = {b.slug: b.vendor for b in planned.briefs}
    names = {b.slug: b.name for b in planned.briefs}
    found = [head_to_head(p.a.slug, p.b.slug, outcome.matches[p.slug].judgments, vendors, names, p.recused)
             for p in planned.matchups]
    return found, planned.seat_models, outcome.complete, judges


def current_brief_hashes(ws, slugs: list[str]) -> dict[str, str]:
    """Content hashes of the workspace's brief files, to flag panels judged on older text."""
    from ..core.errors import BriefError
    from ..inputs.briefs import load_brief

    hashes = {}
    for slug in slugs:
        path = ws.brief_path(slug)
        if path.exists():
            try:
                hashes[slug] = load_brief(path).content_hash()
            except BriefError:
                continue  # a broken file is `panel review`'s problem; the stored panel still stands
    return hashes


# --- site ----------------------------------------------------------------------------------------------


@app.command()
@guarded
def site(
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the site (default: outputs/site/, or "
                                                           "outputs/preview/ with --drafts)."),
    drafts: bool = typer.Option(False, "--drafts", help="Preview the newest drafts instead of the published panels;"
                                                        " every page is stamped as an unpublished draft."),
    as_json: bool = typer.Option(False, "--json", help="Print the pages written and the notes as JSON."),
    db: options.Db = None,
):
    """Build the static site from the published panels: an index, a page per tool (with its dated
    corrections), one page per set of tools compared, and an Atom feed (feed.xml).

    Only what `panel publish` signed off appears; it then says what it left out (tools never
    published, newer drafts, briefs edited since, embargoes not yet due) and which comparisons are
    stale. Title, base URL, time zone and quorum come from panel.yaml in the workspace.
    """
    from ..publish.site import SiteRequest, build_site
    from .app import current_prompt_versions, open_store

    ws = workspace()
    settings = load_workspace_settings(ws)
    request = SiteRequest(out_dir=out or ws.outputs_dir / ("preview" if drafts else "site"), settings=settings,
                          drafts=drafts, judges_now=current_prompt_versions(ws),
                          brief_hashes=current_brief_hashes(ws, workspace_slugs(ws)))
    with open_store(db, must_exist=True) as store:
        built = build_site(store.db, request)
    if as_json:
        return print_json({"index": str(built.index), "pages": [str(p) for p in built.pages], "notes": built.notes})
    typer.echo(str(built.index))
    typer.echo(f"{len(built.pages)} pages: {plural(built.tools, 'tool')}, {plural(built.comparisons, 'comparison')}",
               err=True)
    for note in built.notes:
        typer.echo(f"  {note}", err=True)


def workspace_slugs(ws) -> list[str]:
    from ..inputs.briefs import brief_files

    return [path.stem for path in brief_files(ws.briefs_dir)] if ws.briefs_dir.is_dir() else []
