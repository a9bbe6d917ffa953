"""`panel site`: the public site of every published verdict and comparison, built from the store
(or, with --drafts, a preview of the newest drafts, every page stamped as unpublished).

Layout (all links relative, so the folder can be opened from disk or served anywhere):
  index.html               every published tool, sorted by panel ship % (other orders below)
  index-community.html     ... by community ship %
  index-price.html         ... by entry price
  index-name.html          ... by name
  tools/<slug>.html        the published panel, its rationales, the community split, corrections
  compare/<a>-vs-<b>.html  one page per set of tools compared, over the published panels
  feed.xml                 Atom feed of publications, corrections and comparisons

Every page reads the same panel of a tool; `check_one_figure` refuses to write a site where two
pages would disagree.

Sorting is done ahead of time into separate pages rather than with a script: the pages carry
no JavaScript at all, and each order has its own address to link to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..analysis.evaluation import EDITORS, PANEL
from ..core.errors import SiteError
from ..core.panel import PanelResult
from ..inputs.settings import Settings
from ..store import queries
from ..store import stored_panels
from ..store.db import now
from .comparison import (
    Comparison,
    ToolColumn,
    build_comparison,
    comparison_name,
    latest_editor_note,
    render_comparison_html,
    tool_column,
    with_head_to_head,
)
from .feed import render_feed, what_changed
from .headtohead_view import HeadToHeadView
from .prose import join_words
from .publication import flag_notice, newer_draft, pending, public_history, visible_publications
from ..core.files import write_atomic
from .render import day, local_time, render_html


@dataclass(frozen=True)
class Ordering:
    key: str
    file: str
    label: str


ORDERINGS = [
    Ordering("panel", "index.html", "Panel ship %"),
    Ordering("community", "index-community.html", "Community %"),
    Ordering("price", "index-price.html", "Entry price"),
    Ordering("name", "index-name.html", "Name"),
]


class HistoryRow(BaseModel):
    """One panel in a tool's history; consecutive panels with the very same verdicts are merged."""

    panel_id: int
    run_id: int
    command: str | None
    reviewed_at: str
    first_reviewed_at: str
    repeats: int  # how many identical panels this row stands for
    ship_pct: float | None
    reported: int
    seated: int
    interval: tuple[float, float]
    models: list[str]
    outcomes: list[tuple[str, str]]  # (persona, outcome) in seating order
    changes: list[str]  # persona calls that differ from the previous (older) row


class PublishedVersion(BaseModel):
    """One publication of a tool as its page lists it (newest first)."""

    published_at: str
    ship_pct: float | None  # None: below the quorum
    ships: int
    reported: int
    seated: int
    models: list[str]
    changes: list[str]  # what moved since the previous publication; [] for the first
    note: str | None
    first: bool

    @property
    def correction(self) -> bool:
        """Listed under "Updates and corrections": a republication that changed something."""
        return not self.first and bool(self.changes)


def published_versions(rows: list[dict], quorum: int) -> list[PublishedVersion]:
    by_id = {row["id"]: row for row in rows}
    return [PublishedVersion(
        published_at=row["visible_from"], ship_pct=row["ship_pct"] if row["reported"] >= quorum else None,
        ships=row["ships"], reported=row["reported"], seated=row["seated"], models=json.loads(row["models"] or "[]"),
        changes=what_changed(row, by_id.get(row["previous_id"]), quorum), note=row["note"],
        first=row["previous_id"] is None,
    ) for row in rows]


@dataclass
class BuiltSite:
    index: Path
    pages: list[Path] = field(default_factory=list)
    tools: int = 0
    comparisons: int = 0
    notes: list[str] = field(default_factory=list)  # left out, held, stale: said by `panel site`
    removed: list[Path] = field(default_factory=list)  # pages of an earlier build no longer on the site


# --- data ----------------------------------------------------------------------------------------------


def panel_history(db, slug: str) -> list[HistoryRow]:
    """Every stored panel for a tool, newest first, with what changed from one to the next."""
    panels, members = queries.panel_history_rows(db, slug)
    by_panel: dict[int, list[dict]] = {}
    for m in members:
        by_panel.setdefault(m["panel_id"], []).append(m)
    rows: list[HistoryRow] = []
    previous_ids: tuple | None = None
    previous_outcomes: dict[str, str] = {}
    previous_versions: dict[str, str] = {}
    previous_models: list[str] = []
    for p in panels:  # oldest first, so each row can say what changed
        ms = by_panel.get(p["id"], [])
        outcomes = [(m["persona"], m["verdict"] or m["status"]) for m in ms]
        ids = tuple(sorted(m["verdict_id"] for m in ms))
        if rows and ids == previous_ids:
            rows[-1] = rows[-1].model_copy(update={
                "panel_id": p["id"], "run_id": p["run_id"], "command": p["command"],
                "reviewed_at": p["created_at"], "repeats": rows[-1].repeats + 1,
            })
            continue
        versions = {m["persona"]: m["persona_version"] for m in ms}
        models = sorted({m["model"] for m in ms})
        changes = [f"{persona}: {previous_outcomes[persona]} → {outcome}" for persona, outcome in outcomes
                   if persona in previous_outcomes and previous_outcomes[persona] != outcome]
        edited = [p for p, v in versions.items() if p in previous_versions and previous_versions[p] != v]
        if edited:
            changes.append(f"new prompt version: {', '.join(edited)}")
        if previous_models and models != previous_models:
            changes.append(f"model: {', '.join(previous_models)} → {', '.join(models)}")
        rows.append(HistoryRow(
            panel_id=p["id"], run_id=p["run_id"], command=p["command"], reviewed_at=p["created_at"],
            first_reviewed_at=p["created_at"], repeats=1, ship_pct=p["ship_pct"], reported=p["reported"],
            seated=p["seated"], interval=(p["interval_lo"], p["interval_hi"]),
            models=models, outcomes=outcomes, changes=changes,
        ))
        previous_ids, previous_outcomes, previous_versions, previous_models = ids, dict(outcomes), versions, models
    return list(reversed(rows))


def sort_tools(tools: list[ToolColumn], key: str) -> list[ToolColumn]:
    def name(t: ToolColumn) -> str:
        return t.name.casefold()

    if key == "panel":
        return sorted(tools, key=lambda t: (t.panel.ship_pct is None, -(t.panel.ship_pct or 0),
                                            -(t.community.pct or 0), name(t)))
    if key == "community":
        return sorted(tools, key=lambda t: (t.community.pct is None, -(t.community.pct or 0),
                                            -t.community.votes, name(t)))
    if key == "price":
        return sorted(tools, key=lambda t: (t.pricing.entry_amount is None, t.pricing.entry_amount or 0, name(t)))
    return sorted(tools, key=name)


def site_comparisons(db, panels: dict[str, PanelResult], judges_now: dict[str, str], quorum: int | None = None,
                     drafts: bool = False, zone=None) -> list[Comparison]:
    """Every stored comparison whose tools all have a panel on this site, one per set of tools,
    rebuilt over those panels (the published ones, or the drafts in a preview) and today's votes, so a
    tool reads the same figure on every page. A comparison run with --model, --conflict-model or
    --recuse shows its own figures in its outputs/compare/ page, not here: here the panels are the
    published ones, a vendor conflict flagged. Its head-to-head judgments (recused seats included)
    are carried over; when they were made over other panels, or by prompts
    edited since (`judges_now`: persona -> current version), the page says so, dated. The public
    site takes the newest comparison judged over published panels (a side run with --model is a
    draft); a set of tools compared only that way is left off it."""
    built = []
    for slugs in queries.stored_comparison_sets(db):
        if any(slug not in panels for slug in slugs):
            continue
        stored = next((data for data in queries.comparison_data(db, slugs) if drafts or data.get("published")), None)
        if stored is None:
            continue
        comparison = build_comparison(db, slugs, panels={s: panels[s] for s in slugs}, quorum=quorum)
        with_head_to_head(comparison, [HeadToHeadView.model_validate(h) for h in stored.get("head_to_head", [])])
        comparison.generated_at = stored.get("generated_at") or comparison.generated_at  # when it was judged
        comparison.judged_on_earlier_panels = stale_note(comparison, stored, judges_now, zone)
        comparison.editor = latest_editor_note(db, comparison)
        built.append(comparison)
    return built


def stale_note(comparison: Comparison, stored: dict, judges_now: dict[str, str], zone=None) -> str | None:
    """Why the stored head-to-head is stale (judged over other panels than the ones shown, or by a
    persona prompt edited since), dated; None when it is current."""
    if not comparison.head_to_head:
        return None
    judged = stored.get("basis") or {}

    def same_panel(slug: str) -> bool:
        then = set(filter(None, str((judged.get(slug) or [""])[0]).split(",")))
        now = set(filter(None, comparison.basis[slug][0].split(",")))
        return then <= now if stored.get("recuse") else then == now  # --recuse judged without some seats

    moved = [t.name for t in comparison.tools if not same_panel(t.slug)]
    edited = sorted(p for p, version in (stored.get("judges") or {}).items()
                    if judges_now.get(p) not in (None, version))
    if not moved and not edited:
        return None
    titles = {v.persona: v.title for t in comparison.tools for v in t.panel.verdicts}
    reasons = []
    if moved:
        reasons.append(f"the panel of {join_words(moved)} has changed")
    if edited:
        names = join_words([titles.get(p, p) for p in edited])
        reasons.append(f"the {names}'s prompt{'s have' if len(edited) > 1 else ' has'} been edited")
    # Written for a reader of the page: the command that refreshes it is in `panel site`'s notes.
    return (f"The head-to-head judgments below were made on {day(stored.get('generated_at'), zone)} over the panels"
            f" published then; since then {' and '.join(reasons)}. The pick may not hold for the panels shown.")


def check_one_figure(tools: list[ToolColumn], comparisons: list[Comparison], published: dict[str, dict],
                     quorum: int) -> None:
    """Refuse a site where a tool's figure on any page (index, its own page, every comparison) is not
    its published one, the figure the feed and the digest take from the publication record."""
    wrong = set()
    for tool in [*tools, *(t for c in comparisons for t in c.tools)]:
        row = published.get(tool.slug)
        if row is None:
            continue  # a preview of drafts: no record to hold the pages to
        expected = (row["ship_pct"] if row["reported"] >= quorum else None, row["reported"],
                    json.loads(row["verdict_ids"]))
        if (tool.panel.ship_pct, tool.panel.reported, tool.panel.verdict_ids) != expected:
            wrong.add(tool.slug)
    if wrong:
        raise SiteError(f"{', '.join(sorted(wrong))}: a page would show another figure than the published one;"
                        " no site written")


# --- pages ---------------------------------------------------------------------------------------------


@dataclass
class SiteRequest:
    """What `panel site` builds: the public site (published panels) or a preview of the drafts."""

    out_dir: Path
    settings: Settings = field(default_factory=Settings)
    drafts: bool = False
    judges_now: dict[str, str] = field(default_factory=dict)  # persona -> current prompt version
    brief_hashes: dict[str, str] = field(default_factory=dict)  # slug -> hash of today's brief file
    at: str | None = None  # build as of this time (default: now)


def build_site(db, request: SiteRequest) -> BuiltSite:
    at = request.at or now()
    out_dir = Path(request.out_dir)
    quorum = request.settings.quorum
    if request.drafts:
        panels = {slug: stored_panels.panel_by_id(db, drafts[0]["id"]) for slug in queries.judged_slugs(db)
                  if (drafts := queries.draft_rows(db, slug))}
        shown = {}
    else:
        shown = visible_publications(db, at)
        panels = {slug: stored_panels.panel_by_id(db, row["panel_id"]) for slug, row in shown.items()}
    slugs = sorted(panels)
    counts = queries.tallies(db, slugs)
    tools = [tool_column(db, panels[s], counts[s], request.brief_hashes.get(s), quorum=quorum) for s in slugs]
    comparisons = site_comparisons(db, panels, request.judges_now, quorum, request.drafts, request.settings.zone)
    check_one_figure(tools, comparisons, shown, quorum)
    built = BuiltSite(index=out_dir / "index.html", tools=len(tools), comparisons=len(comparisons),
                      notes=site_notes(db, request, at, shown, comparisons))
    common = {"site_title": request.settings.title, "display_zone": request.settings.zone,
              "draft": request.drafts, "built_at": at, "feed": not request.drafts}

    def write(relative: str, text: str) -> None:
        built.pages.append(write_atomic(out_dir / relative, text))

    def page(relative: str, template: str, **context) -> None:
        write(relative, render_html(template, canonical=request.settings.url(relative), **common, **context))

    for ordering in ORDERINGS:
        page(ordering.file, "site/index.html.j2", page_title=f"Tools by {ordering.label.lower()}", root="",
             tools=sort_tools(tools, ordering.key), orderings=ORDERINGS, current=ordering, comparisons=comparisons)
    for tool in tools:
        involved = [c for c in comparisons if tool.slug in c.slugs]
        history = [] if request.drafts else published_versions(public_history(db, tool.slug, at), quorum)
        page(f"tools/{tool.slug}.html", "site/tool.html.j2", page_title=tool.name, root="../", t=tool,
             history=history, drafts_history=panel_history(db, tool.slug) if request.drafts else [],
             publication=shown.get(tool.slug), comparisons=involved, flags=flag_notice(shown.get(tool.slug)))
    page("methodology.html", "site/methodology.html.j2", page_title="How the panel works", root="",
         method=agreement_with_editors(db), quorum=quorum, auto_publish=request.settings.auto_publish)
    for comparison in comparisons:
        relative = f"compare/{comparison.name}.html"
        write(relative, render_comparison_html(comparison, root="../", canonical=request.settings.url(relative),
                                               **common))
    if not request.drafts:
        write("feed.xml", render_feed(db, request.settings, shown, comparisons, at))
    built.removed = remove_stale_pages(out_dir, built.pages)
    return built


MANIFEST = ".panel-site.json"  # the pages the last build wrote, so the next one knows what it may delete


def remove_stale_pages(out_dir: Path, written: list[Path]) -> list[Path]:
    """Delete the pages the previous build wrote that this one no longer has (a withdrawn tool, its
    comparisons), so a withdrawal really leaves the site; then record this build's pages. Only files
    panel itself wrote are ever deleted: anything else in the folder is left alone."""
    manifest = out_dir / MANIFEST
    now = sorted(str(path.relative_to(out_dir)) for path in written)
    try:
        before = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else []
    except ValueError:
        before = []
    stale = [out_dir / name for name in before if isinstance(name, str) and name not in now
             and not Path(name).is_absolute() and ".." not in Path(name).parts and (out_dir / name).is_file()]
    for page in stale:
        page.unlink()
    write_atomic(manifest, json.dumps(now, indent=0) + "\n")
    return stale


def agreement_with_editors(db) -> dict | None:
    """What the newest `panel eval --labels editors` measured, for the methodology page: each
    persona's agreement with the editors, n_eff, the tools it rests on and the date."""
    row = queries.latest_eval_run(db, EDITORS)
    if row is None or not row.get("judges"):
        return None
    judges, scores = json.loads(row["judges"]), json.loads(row["metrics"])
    independence = judges["independence"]
    return {"measured_at": row["created_at"], "model": row["model"], "tools": scores[PANEL]["cases"],
            "n_eff": independence["effective_votes"], "majority": independence["majority_accuracy"],
            "best": independence["best_persona"], "best_share": independence["best_accuracy"], "cards": judges["cards"]}


def site_notes(db, request: SiteRequest, at: str, shown: dict[str, dict], comparisons: list[Comparison]) -> list[str]:
    """What the site leaves out or shows stale, and what to do about each, for `panel site` to say."""
    if request.drafts:
        return ["A preview of the newest drafts: every page is stamped as an unpublished draft."]
    notes = []
    for slug in queries.judged_slugs(db):
        if slug not in shown:
            if queries.latest_publication(db, slug) is None:
                publishable = any(d["reported"] for d in queries.draft_rows(db, slug))
                notes.append(f"{slug}: never published; `panel publish {slug}` to put it on the site" if publishable
                             else f"{slug}: never published, and no review of it gave a verdict; `panel review {slug}`")
            continue
        newer = newer_draft(db, shown[slug])
        if newer:
            notes.append(f"{slug}: a newer draft (draft {newer['id']}) is not published; `panel publish {slug}`"
                         " to publish it")
        current = request.brief_hashes.get(slug)
        if current and current != shown[slug]["brief_hash"]:
            notes.append(f"{slug}: the brief file has changed since the published panel; `panel review {slug}`,"
                         f" then `panel publish {slug}`")
    for row in pending(db, at):
        what = "publication" if row["action"] == "publish" else "withdrawal"
        notes.append(f"{row['slug']}: {what} held until {local_time(row['visible_from'], request.settings.zone)}")
    on_site = {c.name for c in comparisons}
    for slugs in queries.stored_comparison_sets(db):
        if all(s in shown for s in slugs) and comparison_name(slugs) not in on_site:
            notes.append(f"{comparison_name(slugs)}: compared only over drafts or with --model, so not on the site;"
                         f" `panel compare {' '.join(slugs)}` judges it over the published panels")
    for c in comparisons:
        if c.judged_on_earlier_panels:
            notes.append(f"{c.name}: stale head-to-head, shown with a dated notice; `panel compare"
                         f" {' '.join(c.slugs)}` to judge it again")
    if not request.settings.base_url:
        notes.append("no base_url in panel.yaml: the feed's and pages' links are relative")
    return notes
