"""The site's Atom feed (feed.xml), written with feedgen: one entry per publication that told readers
something (a first verdict, an update or correction that changed something) and one per comparison
on the site. A republication that moved nothing, a draft and a withdrawn tool have none. An entry
whose figure a later publication replaced says so in its title, so no entry passes off an old
figure as the tool's current one."""

from __future__ import annotations

import json
from datetime import datetime

from ..core.panel import pct
from ..inputs.settings import Settings
from ..store import queries
from .publication import public_history


def publication_entries(db, shown: dict[str, dict], quorum: int, at: str) -> list[dict]:
    """The feed's (and the digest's) items for the tools shown at `at`, newest first."""
    names = queries.stored_tool_names(db)
    items = []
    for slug in shown:
        history = public_history(db, slug, at)  # newest first: the first row is the one shown
        for row in history:
            item = publication_item(row, names.get(slug, slug), quorum, superseded=row is not history[0])
            if item is not None:
                items.append(item)
    return sorted(items, key=lambda item: item["when"], reverse=True)


def publication_item(row: dict, name: str, quorum: int, superseded: bool = False,
                     kind: str | None = None) -> dict | None:
    """A publication as a feed entry or digest item; None for one that changed nothing (not news).
    `kind` overrides what it is called (the digest calls a tool new in its window a Verdict)."""
    changes = json.loads(row["changes"] or "[]")
    first = row["previous_id"] is None
    if not first and not changes and kind is None:
        return None
    figure = pct(row["ship_pct"]) + " ship" if row["reported"] >= quorum else "no ship % yet"
    kind = kind or ("Verdict" if first else "Correction" if _call_moved(changes) else "Update")
    lines = [f"The panel: {figure} ({row['ships']} of {row['reported']} reviewers who reported say ship)."]
    lines += changes
    if row["note"]:
        lines.append(f"Note: {row['note']}")
    title = f"{kind}: {name} — {figure}" + (" (since replaced; see the tool's page)" if superseded else "")
    return {"kind": kind, "slug": row["slug"], "title": title, "when": row["visible_from"],
            "text": " ".join(lines), "changes": changes, "note": row["note"], "path": f"tools/{row['slug']}.html",
            "id": f"publication-{row['id']}"}


def _call_moved(changes: list[str]) -> bool:
    # The publication's own sentences: a correction is a republication whose calls moved.
    return any(change.startswith("Calls changed") for change in changes)


def comparison_items(comparisons) -> list[dict]:
    return [{"kind": "Comparison", "title": f"Comparison: {c.title}", "when": c.generated_at, "text": c.answer,
             "path": f"compare/{c.name}.html", "id": f"comparison-{c.name}-{c.generated_at}"} for c in comparisons]


def render_feed(db, settings: Settings, shown: dict[str, dict], comparisons, at: str) -> str:
    from feedgen.feed import FeedGenerator

    items = sorted([*publication_entries(db, shown, settings.quorum, at), *comparison_items(comparisons)],
                   key=lambda item: item["when"], reverse=True)
    site_id = settings.base_url or f"urn:panel:site:{settings.title}"
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
