"""The site's Atom feed (feed.xml), written with feedgen: one entry per publication that told readers
something (a first verdict, an update or correction that changed something) and one per comparison
on the site. A republication that moved nothing, a draft and a withdrawn tool have none. An entry
whose figure a later publication replaced says so in its title, so no entry passes off an old
figure as the tool's current one."""

from __future__ import annotations

import json
from datetime import datetime

from ..core.panel import pct
from ..core.slugs import slugify
from ..inputs.settings import Settings
from ..store import queries
from .publication import CALL_MOVED, public_history


def publication_entries(db, shown: dict[str, dict], quorum: int, at: str) -> list[dict]:
    """The feed's (and the digest's) items for the tools shown at `at`, newest first."""
    names = queries.stored_tool_names(db)
    items = []
    for slug in shown:
        history = public_history(db, slug, at)  # newest first: the first row is the one shown
        by_id = {row["id"]: row for row in history}
        for row in history:
            item = publication_item(row, names.get(slug, slug), quorum, by_id.get(row["previous_id"]),
                                    superseded=row is not history[0])
            if item is not None:
                items.append(item)
    return sorted(items, key=lambda item: item["when"], reverse=True)


def shown_figure(row: dict, quorum: int) -> str:
    """A publication's ship % as pages show it: none below the quorum."""
    return pct(row["ship_pct"]) if row["reported"] >= quorum else "no %"


def what_changed(row: dict, previous: dict | None, quorum: int) -> list[str]:
    """A publication's recorded changes, and its ship % against the one it replaced (through the
    quorum, so a figure too thin to publish is not published here either)."""
    changes = json.loads(row["changes"] or "[]")
    if previous is not None and changes and shown_figure(previous, quorum) != shown_figure(row, quorum):
        changes.append(f"Panel ship {shown_figure(previous, quorum)} → {shown_figure(row, quorum)}.")
    return changes


def publication_item(row: dict, name: str, quorum: int, previous: dict | None = None, superseded: bool = False,
                     kind: str | None = None) -> dict | None:
    """A publication as a feed entry or digest item; None for one that changed nothing (not news).
    `kind` overrides what it is called (the digest calls a tool new in its window a Verdict). A
    correction is a republication that moved the panel's overall call; any other is an update."""
    changes = what_changed(row, previous, quorum)
    first = row["previous_id"] is None
    if not first and not changes and kind is None:
        return None
    shown = shown_figure(row, quorum)
    figure = f"{shown} ship" if shown != "no %" else "no ship % yet"
    moved = any(change.startswith(CALL_MOVED) for change in changes)
    kind = kind or ("Verdict" if first else "Correction" if moved else "Update")
    lines = [f"The panel: {figure} ({row['ships']} of {row['reported']} reviewers who reported say ship)."]
    lines += changes
    if row["note"]:
        lines.append(f"Note: {row['note']}")
    title = f"{kind}: {name} — {figure}" + (" (since replaced; see the tool's page)" if superseded else "")
    return {"kind": kind, "slug": row["slug"], "title": title, "when": row["visible_from"],
            "text": " ".join(lines), "changes": changes, "note": row["note"], "path": f"tools/{row['slug']}.html",
            "id": f"publication-{row['id']}"}


def comparison_items(comparisons) -> list[dict]:
    return [{"kind": "Comparison", "title": f"Comparison: {c.title}", "when": c.generated_at, "text": c.answer,
             "path": f"compare/{c.name}.html", "id": f"comparison-{c.name}-{c.generated_at}"} for c in comparisons]


def render_feed(db, settings: Settings, shown: dict[str, dict], comparisons, at: str) -> str:
    from feedgen.feed import FeedGenerator

    items = sorted([*publication_entries(db, shown, settings.quorum, at), *comparison_items(comparisons)],
                   key=lambda item: item["when"], reverse=True)
    site_id = settings.base_url or f"urn:panel:site:{slugify(settings.title)}"
    feed = FeedGenerator()
    feed.id(site_id)
    feed.title(settings.title)
    feed.subtitle("New verdicts, corrections and comparisons from the review panel.")
    feed.link(href=settings.url("feed.xml") or "feed.xml", rel="self")
    feed.link(href=settings.url("index.html") or "index.html", rel="alternate")
    feed.updated(datetime.fromisoformat(items[0]["when"] if items else at))
    for item in reversed(items):  # feedgen puts each new entry first
        entry = feed.add_entry()
        entry.id(f"{site_id}#{item['id']}" if settings.base_url else f"{site_id}:{item['id']}")
        entry.title(item["title"])
        entry.link(href=settings.url(item["path"]) or item["path"])
        entry.updated(datetime.fromisoformat(item["when"]))
        entry.published(datetime.fromisoformat(item["when"]))
        entry.summary(item["text"] or item["title"])
    return feed.atom_str(pretty=True).decode("utf-8")
