"""`panel digest --since 7d`: what was published in a window, as Markdown and as an email-ready
HTML page (inline styles, one column, no images or scripts), from the publications only.

It lists the same items as the feed (first verdicts, updates and corrections that changed
something, comparisons on the site) plus withdrawals, each with the published figure, so a
digest never shows a number the site does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..inputs.settings import Settings
from ..store import queries
from .feed import comparison_items, publication_item
from ..core.files import write_atomic
from .render import day, render_html, render_markdown


@dataclass
class Digest:
    title: str
    since: str | None
    until: str
    items: list[dict] = field(default_factory=list)  # newest first; see panel.publish.feed
    settings: Settings = field(default_factory=Settings)

    def link(self, path: str | None) -> str | None:
        return self.settings.url(path) if path else None


def gather_digest(db, settings: Settings, shown: dict[str, dict], comparisons, since: str | None,
                  until: str) -> Digest:
    """Items made public in [since, until): one per tool published or corrected in the window, with
    the figure the site shows now (a tool first published in the window is a Verdict, however often
    it was corrected since), the withdrawals, and the comparisons on the site judged in the window."""
    names = queries.stored_tool_names(db)

    def in_window(stamp: str) -> bool:
        return (not since or stamp >= since) and stamp < until

    rows = queries.publication_rows(db, visible_by=until)
    items = [{"kind": "Withdrawn", "title": f"Withdrawn: {names.get(r['slug'], r['slug'])}", "when": r["visible_from"],
              "text": r["note"] or "", "path": None} for r in rows if r["action"] == "unpublish"
             and in_window(r["visible_from"]) and r["slug"] not in shown]
    for slug, row in shown.items():
        if not in_window(row["visible_from"]):
            continue
        new = any(r["slug"] == slug and r["previous_id"] is None and in_window(r["visible_from"]) for r in rows)
        previous = next((r for r in rows if r["id"] == row["previous_id"]), None)
        item = publication_item(row, names.get(slug, slug), settings.quorum, previous,
                                kind="Verdict" if new else None)
        if item is not None:
            items.append(item)
    items += [c for c in comparison_items(comparisons) if (not since or c["when"] >= since) and c["when"] < until]
    items.sort(key=lambda item: item["when"], reverse=True)
    label = f"since {day(since, settings.zone)}" if since else "so far"
    return Digest(title=f"{settings.title}: what was published {label}", since=since, until=until, items=items,
                  settings=settings)


def write_digest(digest: Digest, out_dir: Path) -> tuple[Path, Path]:
    """outputs/digest/digest-<date>.md and .html (the date the window ends, in the site's zone)."""
    stem = f"digest-{_date(digest)}"
    context = {"d": digest, "display_zone": digest.settings.zone}
    md = write_atomic(Path(out_dir) / f"{stem}.md", render_markdown("digest.md.j2", **context))
    html = write_atomic(Path(out_dir) / f"{stem}.html", render_html("digest.html.j2", **context))
    return md, html


def _date(digest: Digest) -> str:
    from datetime import datetime

    return datetime.fromisoformat(digest.until).astimezone(digest.settings.zone).date().isoformat()
