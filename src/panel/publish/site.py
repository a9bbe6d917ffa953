"""`panel site`: a static site of every verdict and comparison, built from the store.

Layout (all links relative, so the folder can be opened from disk or served anywhere):
  index.html               every reviewed tool, sorted by panel ship % (other orders below)
  index-community.html     ... by community ship %
  index-price.html         ... by entry price
  index-name.html          ... by name
  tools/<slug>.html        the latest panel, its rationales, the community split and history
  compare/<a>-vs-<b>.html  every stored comparison, rebuilt from the current data

Sorting is done ahead of time into separate pages rather than with a script: the pages carry
no JavaScript at all, and each order has its own address to link to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..store import queries
from .comparison import (
    Comparison,
    ToolColumn,
    build_comparison,
    latest_editor_note,
    render_comparison_html,
    standing_panels,
    tool_column,
    with_head_to_head,
)
from .headtohead_view import HeadToHeadView
from .prose import join_words
from .render import render_html, write_atomic


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


@dataclass
class BuiltSite:
    index: Path
    pages: list[Path] = field(default_factory=list)
    tools: int = 0
    comparisons: int = 0


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


def site_comparisons(db) -> list[Comparison]:
    """Every stored comparison, rebuilt from each tool's standing panel and today's votes, so a tool
    reads the same figure on every page of the site (a comparison run with --model or
    --conflict-model shows that model's verdicts in its own outputs/compare/ page, not here; --recuse
    is kept: those seats are shown as recused). Its head-to-head judgments are carried over; when
    they were made over other panels than the ones shown, the page says so, dated."""
    built = []
    for slugs in queries.stored_comparison_sets(db):
        if None in standing_panels(db, slugs).values():
            continue  # cannot happen: a comparison is only stored once every tool has a verdict
        stored = queries.latest_comparison_data(db, slugs) or {}
        comparison = build_comparison(db, slugs, recuse=stored.get("recuse", False))
        with_head_to_head(comparison, [HeadToHeadView.model_validate(h) for h in stored.get("head_to_head", [])])
        comparison.judged_on_earlier_panels = earlier_panels_note(comparison, stored)
        comparison.editor = latest_editor_note(db, comparison)
        built.append(comparison)
    return built


def earlier_panels_note(comparison: Comparison, stored: dict) -> str | None:
    """Why the stored head-to-head was judged over other panels than the standing ones, or None."""
    judged = stored.get("basis") or {}
    moved = [t.name for t in comparison.tools if (judged.get(t.slug) or [None])[0] != comparison.basis[t.slug][0]]
    if not comparison.head_to_head or not moved:
        return None
    when = stored.get("generated_at", "")[:10]
    return (f"The head-to-head judgments below were made on {when} over the panels standing then (or with"
            f" another model); the panel of {join_words(moved)} has changed since. Run"
            f" \"panel compare {' '.join(comparison.slugs)}\" to judge the pair again.")


# --- pages ---------------------------------------------------------------------------------------------


def build_site(db, out_dir: Path) -> BuiltSite:
    out_dir = Path(out_dir)
    slugs = queries.judged_slugs(db)
    counts = queries.tallies(db, slugs)
    tools = [tool_column(db, queries.current_panel(db, s), counts[s], None) for s in slugs]
    comparisons = site_comparisons(db)
    built = BuiltSite(index=out_dir / "index.html", tools=len(tools), comparisons=len(comparisons))

    def write(relative: str, text: str) -> None:
        built.pages.append(write_atomic(out_dir / relative, text))

    for ordering in ORDERINGS:
        write(ordering.file, render_html(
            "site/index.html.j2", page_title=f"Tools by {ordering.label.lower()}", root="",
            tools=sort_tools(tools, ordering.key),
            orderings=ORDERINGS, current=ordering, comparisons=comparisons,
        ))
    for tool in tools:
        involved = [c for c in comparisons if tool.slug in c.slugs]
        write(f"tools/{tool.slug}.html", render_html(
            "site/tool.html.j2", page_title=tool.name, root="../", t=tool,
            history=panel_history(db, tool.slug), comparisons=involved,
        ))
    for comparison in comparisons:
        write(f"compare/{comparison.name}.html", render_comparison_html(comparison, root="../"))
    return built
