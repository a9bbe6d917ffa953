"""`panel eval`: is this panel any good? Review a labelled set and score it."""

from __future__ import annotations

from typing import Optional

import typer

from ..core.defaults import DEFAULT_CONCURRENCY
from . import options
from .app import EXIT_OK, EXIT_PARTIAL, app, console, guarded, print_json, workspace


@app.command("eval")
@guarded
def eval_command(
    set_arg: Optional[str] = typer.Argument(None, metavar="[SET]", help="A labelled set: a folder of briefs with "
                                                                        "labels.csv, or a name under evals/."),
    labels: Optional[str] = typer.Option(None, "--labels", metavar="editors",
                                         help="Score against the editors' own calls (`panel label`, `panel publish "
                                              "--editor-call`) instead of a set's labels.csv."),
    since: options.Since = None,
    until: options.Until = None,
    model: options.Model = None,
    api_base: options.ApiBase = None,
    router: options.Router = None,
    personas: Optional[str] = typer.Option(None, "--personas", help="Comma-separated personas to score (default: "
                                                                    "all)."),
    samples: options.Samples = 1,
    jury: options.Jury = None,
    concurrency: options.Concurrency = DEFAULT_CONCURRENCY,
    workers: options.Workers = None,
    fresh: options.Fresh = False,
    against: Optional[str] = typer.Option(None, "--against", metavar="VERSION", help="A stored persona version (or a "
                                                                                     "unique prefix): compare with "
                                                                                     "what that version said on this "
                                                                                     "set."),
    baseline: Optional[int] = typer.Option(None, "--baseline", metavar="RUN", help="A stored evaluation (its id): "
                                                                                   "compare with it."),
    attacks: Optional[str] = typer.Option(None, "--attacks", metavar="KINDS",
                                          help="Also review manipulated variants of each clear case (all, or some of"
                                               " injection, authority, hype, padding, formatting; panel makes them,"
                                               " no model needed) and report how the verdicts move: flips, harmful"
                                               " flips, confidence shift."),
    as_json: options.AsJson = False,
    db: options.Db = None,
    out: Optional[options.Path] = typer.Option(None, "--out", help="Folder for the report (default: outputs/eval/)."),
):
    """Review a labelled set through the normal pipeline and score each persona and the panel.

    Reports accuracy, balanced accuracy, ship rate (and on the should-skip tools), AUC of the ship
    probability, Brier score and the confusion table; borderline cases apart; the same against the
    community's majority where a tool has 10 or more votes. The store is the cache: after editing
    one persona, only that persona is asked again. Writes outputs/eval/<set>-<id>.md and .html.
    Exit codes: 0 every seat answered, 1 some failed (scored without them), 2 bad input.
    """
    from ..analysis.evaluation import evaluate
    from ..review.plan import ReviewOptions
    from ..store import queries
    from ..store.store import Store
    from ..publish.eval_report import write_eval_report
    from .review import default_model, plan_batch, run_batch

    ws = workspace()
    eval_set = chosen_set(ws, set_arg, labels, since, until, db)
    only = [p.strip() for p in personas.split(",") if p.strip()] if personas else None
    review_options = ReviewOptions(model=model, default_model=default_model(), api_base=api_base,
                                   concurrency=concurrency, workers=workers, fresh=fresh, only_personas=only,
                                   samples=samples, jury=options.jury_models(jury), router=router,
                                   command=f"eval {eval_set.name}")
    sources = {brief.slug: str(eval_set.folder / f"{brief.slug}.yaml") for brief in eval_set.briefs}
    variants = attack_variants(eval_set, attacks)
    sources.update({attack.brief.slug: f"{sources[origin]} ({attack.name})" for origin, attack in variants})
    briefs = eval_set.briefs + [attack.brief for _, attack in variants]
    personas_found, plans = plan_batch(ws, briefs, review_options, sources)
    label = review_options.label
    before = None
    if ws.db_path(db).exists():
        with Store(ws.db_path(db)) as store:
            before = comparison_baseline(store.db, eval_set, plans, against, baseline)
    elif against or baseline:
        from ..core.errors import EvalError

        raise EvalError("nothing stored yet to compare with; run `panel eval` once first")
    outcome = run_batch(plans, personas_found, ws.db_path(db), review_options, as_json)
    panels = {panel.slug: panel for panel in outcome.panels}
    seated = [name for name in personas_found if any(name in plan.seated for plan in plans)]
    with Store(ws.db_path(db)) as store:
        evaluation = evaluate(eval_set, panels, queries.tallies(store.db, list(panels)), label, samples, seated)
        evaluation.costs = queries.verdict_costs(store.db, list(evaluation.verdict_ids.values()))
        evaluation.jury = jury_comparison(store.db, eval_set, panels, seated)
        evaluation.manipulation = manipulation(eval_set, panels, variants, seated) if variants else None
        evaluation.run_id = outcome.run_id
        compared = before(evaluation, panels) if before else None
        evaluation.eval_id = store.save_evaluation(evaluation)
        md_path, html_path = write_eval_report(evaluation, compared, out or ws.outputs_dir / "eval")
        store.set_evaluation_files(evaluation.eval_id, md_path, html_path)
    if as_json:
        data = evaluation.to_json()
        data["comparison"] = compared.to_json() if compared else None
        data["files"] = {"markdown": str(md_path), "html": str(html_path)}
        print_json(data)
    else:
        show_evaluation(evaluation, compared)
        typer.echo(f"Report: {md_path}", err=True)
    raise typer.Exit(EXIT_OK if outcome.complete else EXIT_PARTIAL)


def attack_variants(eval_set, attacks: str | None) -> list:
    """(clean slug, Attack) for every manipulated variant of the set's clear cases (--attacks)."""
    if not attacks:
        return []
    from ..core.errors import EvalError
    from ..inputs.attacks import KINDS, variants

    kinds = list(KINDS) if attacks.strip() == "all" else [k.strip() for k in attacks.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise EvalError(f"--attacks: unknown kind '{', '.join(unknown) or attacks}'"
                        f" (all, or some of {', '.join(KINDS)})")
    clear = [brief for brief in eval_set.briefs if not eval_set.labels[brief.slug].borderline]
    return [(brief.slug, attack) for brief in clear for attack in variants(brief, kinds)]


def manipulation(eval_set, panels: dict, variants: list, seated: list[str]) -> dict:
    """How the verdicts moved between each clear case and its variants (analysis.manipulation)."""
    from ..analysis.manipulation import Attacked, resistance

    expected = {slug: label.expected for slug, label in eval_set.labels.items() if not label.borderline}
    attacked = [Attacked(attack.kind, origin, panels[attack.brief.slug]) for origin, attack in variants
                if attack.brief.slug in panels]
    return resistance(expected, panels, attacked, seated)


def jury_comparison(db, eval_set, panels: dict, seated: list[str]):
    """With juries: the jury's panel beside each of its models alone (analysis.jury), else None."""
    from ..analysis.jury import compare_jury
    from ..store import queries, stored_panels

    if not any(r.jurors for panel in panels.values() for r in panel.results):
        return None
    members = stored_panels.juror_panels(db, panels)
    ids = [j.verdict_id for p in panels.values() for r in p.results for j in (r.jurors or []) if j.verdict_id]
    ids += [r.verdict_id for p in panels.values() for r in p.results if r.verdict_id]
    return compare_jury(eval_set, panels, members, seated, queries.verdict_costs(db, ids))


def comparison_baseline(db, eval_set, plans, against: str | None, baseline: int | None):
    """What to compare the new evaluation with, checked before anything runs: a function of the new
    evaluation and its panels returning an EvalComparison, or None."""
    from ..analysis.evaluation import compare_evaluations, evaluate, items_from_rows
    from ..core.errors import EvalError
    from ..store import queries, stored_panels
    from ..store.audit import stored_version

    if against and baseline:
        raise EvalError("give --against VERSION or --baseline RUN, not both")
    if baseline is not None:
        run = queries.eval_run(db, baseline)
        if run is None:
            raise EvalError(f"no stored evaluation {baseline}; `panel eval ... --json` prints each one's id")
        if run["set_name"] != eval_set.name:
            raise EvalError(f"evaluation {baseline} scored the set '{run['set_name']}', not '{eval_set.name}'")
        old = items_from_rows(queries.eval_item_rows(db, baseline))
        return lambda new, panels: compare_evaluations(old, new.items, f"evaluation {baseline}")
    if against is None:
        return None
    persona = version_persona(db, against, plans)
    version = stored_version(db, persona, against)["version"]
    jobs = [job for plan in plans for job in plan.jobs if job.name == persona and job.settings.sample == 0]
    hashes = {job.brief.slug: job.brief_hash for job in jobs}
    seats = stored_panels.version_seats(db, version, hashes, jobs[0].settings.model)
    missing = sorted(set(hashes) - set(seats))
    if missing:
        raise EvalError(f"version {version} of {persona} has no stored verdict on {len(missing)} brief(s) of this"
                        f" set ({', '.join(missing[:3])}...); evaluate before editing, or use --baseline RUN")

    def compare(new, panels):
        swapped = {slug: _with_seat(panel, seats[slug]) for slug, panel in panels.items()}
        old = evaluate(eval_set, swapped, {}, new.model, new.samples, new.personas)
        return compare_evaluations(old.items, new.items, f"{persona} version {version}")

    return compare


def version_persona(db, version: str, plans) -> str:
    """The persona a version prefix belongs to (among those seated in this evaluation)."""
    from ..core.errors import EvalError
    from ..store import queries

    names = sorted({job.name for plan in plans for job in plan.jobs})
    found = [n for n in names if queries.persona_version_rows(db, n, version)]
    if len(found) != 1:
        raise EvalError(f"--against {version}: no stored version of a seated persona starts with it"
                        if not found else f"--against {version}: ambiguous between {', '.join(found)}")
    return found[0]


def _with_seat(panel, seat):
    from dataclasses import replace

    return replace(panel, results=[seat if r.persona == seat.persona else r for r in panel.results])


def show_evaluation(evaluation, compared) -> None:
    from rich.table import Table

    from ..publish.render import score, share

    out = console()
    table = Table(title=f"[bold]{evaluation.set_name}[/bold] · {evaluation.model}"
                        + (f" · {evaluation.samples} samples" if evaluation.samples > 1 else ""), title_justify="left")
    for column in ("", "Answered", "Acc.", "Bal. acc.", "Ship rate", "Ships duds", "AUC", "Brier"):
        table.add_column(column, justify="left" if not column else "right")
    for who, m in evaluation.metrics().items():
        table.add_row("[bold]panel[/bold]" if who == "panel" else who, f"{m.answered}/{m.items}", score(m.accuracy),
                      score(m.balanced_accuracy), share(m.ship_rate), share(m.ship_rate_on_skips), score(m.auc),
                      score(m.brier))
    out.print(table)
    if evaluation.manipulation:
        show_resistance(evaluation.manipulation, evaluation.personas)
    if evaluation.jury:
        jury = Table(title="The jury beside each of its models alone", title_justify="left")
        for column in ("", "Answered", "Acc.", "Bal. acc.", "κ", "Independent votes", "Cost"):
            jury.add_column(column, justify="left" if not column else "right")
        for row in evaluation.jury:
            jury.add_row(row.who, f"{row.answered}/{row.cases}", score(row.accuracy), score(row.balanced_accuracy),
                         score(row.kappa), score(row.effective_votes), f"${row.cost:.4f}")
        out.print(jury)
    ind = evaluation.independence()
    if ind["effective_votes"] is not None:
        out.print(f"Independent votes: {ind['effective_votes']:.1f} of {len(ind['personas'])} (mean error correlation"
                  f" {ind['mean_error_correlation']:.2f}); the majority is right on {share(ind['majority_accuracy'])},"
                  f" the best persona ({ind['best_persona']}) on {share(ind['best_accuracy'])}.")
    else:
        out.print("Independent votes: not enough cases to measure (each pair of personas needs"
                  f" {ind['min_rows']} cases both answered).")
    if compared:
        out.print(f"Compared with {compared.baseline}: "
                  + ", ".join(f"{who} balanced accuracy {score(c['balanced_accuracy'][0])} → "
                              f"{score(c['balanced_accuracy'][1])}"
                              for who, c in compared.changes.items()))
        for flip in compared.flips:
            out.print(f"  {flip.persona} on {flip.slug}: {flip.before or '—'} → {flip.after or '—'} ({flip.outcome})")


def chosen_set(ws, set_arg: str | None, labels: str | None, since: str | None, until: str | None, db):
    """The labelled set to score: a folder's labels.csv, or with --labels editors the editors' calls."""
    from ..analysis.evaluation import EDITORS, editors_eval_set
    from ..core.errors import EvalError
    from ..inputs.evalset import load_eval_set, resolve_set
    from ..inputs.timewindow import window
    from .app import open_store

    if labels not in (None, EDITORS):
        raise EvalError(f"--labels: only 'editors' is known (the calls recorded with `panel label`), not '{labels}'")
    if labels == EDITORS:
        if set_arg:
            raise EvalError("give a SET or --labels editors, not both")
        start, end = window(since, until)
        with open_store(db, must_exist=True) as store:
            return editors_eval_set(store.db, ws.briefs_dir, start, end)
    if since or until:
        raise EvalError("--since / --until choose editors' calls: use them with --labels editors")
    if not set_arg:
        raise EvalError("say what to score against: a SET (e.g. standard), or --labels editors")
    return load_eval_set(resolve_set(set_arg, ws.home / "evals"))


def show_resistance(found: dict, personas: list[str]) -> None:
    """Manipulation resistance: per kind of attack, the panel's flips and each persona's harmful ones."""
    from rich.table import Table

    from ..publish.render import score, share

    table = Table(title="Manipulation resistance (harmful: a dud moved to ship, a good tool to skip)",
                  title_justify="left")
    for column in ("Attack", "Variants", "Panel flips", "Panel harmful", "Shift to ship", *personas):
        table.add_column(column, justify="left" if column == "Attack" else "right")
    for kind, row in found.items():
        panel = row["panel"]
        table.add_row(kind, str(row["variants"]), share(panel["flip_rate"]), share(panel["harmful_rate"]),
                      score(panel["confidence_shift"]), *(share(row[p]["harmful_rate"]) for p in personas))
    console().print(table)
