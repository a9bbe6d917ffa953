"""Publication: which panel of a tool the public pages show.

A *draft* is any panel the store holds (each review, re-run or side run records one). Publishing
pins one draft per tool, with who, when, a note and what changed since the tool's previous
publication; withdrawing removes the tool from the public pages and keeps the record. The site,
the feed and the digest read publications only (`visible_publications`), so nothing a command
does to the drafts changes a public page until someone publishes it.

An embargoed publication (`--at`) is recorded now and shown from its time on; until then the
tool's earlier publication (if any) stays. The newest decision that has become visible wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..core.brief import ToolBrief
from ..core.errors import PublishError
from ..core.panel import PanelResult, pct
from ..inputs.lint import lint
from ..store import queries
from ..store import stored_panels


CALL_MOVED = "The panel's call: "  # the sentence that makes a republication a correction


@dataclass(frozen=True)
class PublishRequest:
    slug: str
    operator: str
    note: str | None = None
    at: str | None = None  # --at, as typed
    draft: int | None = None  # --draft PANEL_ID (default: the tool's newest draft)
    ack_flags: bool = False  # --ack-flags: the editor has read the brief's lint flags (recorded with them)


def panel_call(panel: PanelResult) -> str | None:
    """What the panel says overall: ship or skip by majority, split on a tie, None with no verdict."""
    if not panel.reported:
        return None
    margin = 2 * panel.ships - panel.reported
    return "ship" if margin > 0 else "skip" if margin < 0 else "split"


def parse_embargo(text: str, zone: ZoneInfo, now: str) -> str:
    """--at as a stored UTC time. A time without a zone is read in the workspace's time zone; a time
    that has passed is refused (publish without --at to publish now)."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: a time at the edge of year 1 or 9999
        raise PublishError(f"--at '{text}': not a date and time; write e.g. 2026-12-08T09:00 or "
                           "2026-12-08T09:00+01:00") from None
    if moment.year > datetime.now(timezone.utc).year + 10:
        raise PublishError(f"--at {text}: more than ten years ahead; check the year")
    stamp = moment.isoformat(timespec="milliseconds")
    if stamp <= now:
        raise PublishError(f"--at {text}: that time has passed; leave --at out to publish now")
    return stamp


def choose_draft(db, slug: str, draft: int | None) -> tuple[dict, PanelResult]:
    """The draft to publish: --draft, else the tool's newest (evaluation runs make none)."""
    found = queries.draft_rows(db, slug)
    if not found:
        raise PublishError(f"'{slug}' has no panel to publish; run `panel review {slug}` first")
    if draft is not None:
        row = next((r for r in found if r["id"] == draft), None)
        if row is None:
            ids = ", ".join(str(r["id"]) for r in found[:8])
            raise PublishError(f"--draft {draft}: not a panel of '{slug}' (its drafts, newest first: {ids})")
    else:
        row = found[0]
    panel = stored_panels.panel_by_id(db, row["id"])
    if not panel.reported:
        which = f"draft {row['id']}" if draft is not None else "the newest draft"
        raise PublishError(f"{which} of '{slug}' has no verdict to publish (every seat failed); run"
                           f" `panel review {slug}` again, or choose an earlier one with --draft")
    return row, panel


def plan_publication(db, request: PublishRequest, zone: ZoneInfo, now: str) -> dict | None:
    """The publications row for `request`, or None when the draft is the one already published (a
    re-run that changed nothing is not news). Raises PublishError on bad input; writes nothing."""
    visible_from = parse_embargo(request.at, zone, now) if request.at else now
    row, panel = choose_draft(db, request.slug, request.draft)
    previous, withdrawn = seen_by_readers(db, request.slug, now)
    held = [r for r in pending(db, now) if r["slug"] == request.slug]
    if previous and not withdrawn and not held and not request.at \
            and json.loads(previous["verdict_ids"]) == panel.verdict_ids():
        return None
    call = panel_call(panel)
    changes = describe_changes(db, previous, panel, call) if previous else []
    if withdrawn:
        changes.insert(0, f"Published again after its withdrawal on {withdrawn['visible_from'][:10]}.")
    flags = brief_flags(db, panel.brief_hash)
    if flags and not request.ack_flags:
        kinds = ", ".join(dict.fromkeys(flag.kind for flag in flags))
        raise PublishError(f"'{request.slug}': its brief has {len(flags)} flag(s) ({kinds}); read them with"
                           f" `panel briefs validate {request.slug}` and publish with --ack-flags to acknowledge them")
    if previous and previous["call"] != call and not request.note:
        raise PublishError(f"'{request.slug}': the panel's call moves from {previous['call'] or 'none'} to"
                           f" {call} ({pct(previous['ship_pct'])} → {pct(panel.ship_pct)}); a correction needs"
                           " a note: add --note \"why\"")
    return {
        "slug": request.slug, "action": "publish", "panel_id": row["id"], "brief_hash": panel.brief_hash,
        "verdict_ids": json.dumps(panel.verdict_ids()), "ship_pct": panel.ship_pct, "ships": panel.ships,
        "reported": panel.reported, "seated": len(panel.seated), "call": call, "models": json.dumps(panel.models),
        "persona_versions": json.dumps(persona_versions(panel)),
        "previous_id": previous["id"] if previous else None, "changes": json.dumps(changes),
        "note": request.note, "operator": request.operator, "recorded_at": now, "visible_from": visible_from,
        "acknowledged_flags": json.dumps([flag.to_json() for flag in flags]) if flags else None,
    }


def brief_flags(db, brief_hash: str) -> list:
    """The linter's flags on a stored brief version (panel.inputs.lint)."""
    stored = queries.brief_json(db, brief_hash)
    return lint(ToolBrief.model_validate(stored)) if stored else []


def plan_withdrawal(db, slug: str, note: str, operator: str, now: str) -> dict:
    if not note.strip():
        raise PublishError("unpublish needs a --note saying why")
    latest = queries.latest_publication(db, slug)
    if latest is None or latest["action"] != "publish":
        raise PublishError(f"'{slug}' is not published, so there is nothing to unpublish")
    return {"slug": slug, "action": "unpublish", "previous_id": latest["id"], "changes": "[]", "note": note,
            "operator": operator, "recorded_at": now, "visible_from": now}


def seen_by_readers(db, slug: str, now: str) -> tuple[dict | None, dict | None]:
    """The publication readers last saw of a tool (what a republication is measured against: not an
    embargoed one they never saw), and its withdrawal when the tool is withdrawn now."""
    last_publish, withdrawal = None, None
    for row in queries.publication_rows(db, slug=slug, visible_by=now):  # oldest first
        if row["action"] == "publish":
            last_publish, withdrawal = row, None
        else:
            withdrawal = row
    return last_publish, withdrawal


def persona_versions(panel: PanelResult) -> dict[str, str]:
    return {r.persona: r.persona_version for r in panel.ordered() if r.status == "ok"}


def describe_changes(db, previous: dict, panel: PanelResult, call: str | None) -> list[str]:
    """What a republication changes, one sentence each: the panel's overall call, the brief (which
    fields), the persona prompts, the seats, the model and each persona's call. Empty: the same
    calls again (a re-run that moved nothing). The ship % before and after is the record's own
    figures (shown through the quorum, panel.publish.feed.what_changed)."""
    changes = []
    if previous["call"] != call:
        changes.append(f"{CALL_MOVED}{previous['call'] or 'none'} → {call or 'none'}.")
    if previous["brief_hash"] != panel.brief_hash:
        fields = _changed_fields(queries.brief_json(db, previous["brief_hash"]) or {},
                                 queries.brief_json(db, panel.brief_hash) or {})
        changes.append(f"The brief was edited ({', '.join(fields)})." if fields else "The brief was edited.")
    before = json.loads(previous["persona_versions"] or "{}")
    after = persona_versions(panel)
    edited = [p for p in after if p in before and before[p] != after[p]]
    if edited:
        changes.append(f"New prompt for {_names(edited)}.")
    added, dropped = [p for p in after if p not in before], [p for p in before if p not in after]
    if added:
        changes.append(f"Now seated: {_names(added)}.")
    if dropped:
        changes.append(f"No longer counted: {_names(dropped)}.")
    old_models = json.loads(previous["models"] or "[]")
    if old_models != panel.models:
        changes.append(f"Model: {', '.join(old_models)} → {', '.join(panel.models)}.")
    old_calls = queries.verdict_decisions(db, json.loads(previous["verdict_ids"] or "[]"))
    moved = [f"{r.persona} {old_calls[r.persona]} → {r.decision}" for r in panel.ordered()
             if r.decision and old_calls.get(r.persona) not in (None, r.decision)]
    if moved:
        changes.append(f"Calls changed: {'; '.join(moved)}.")
    return changes


def _changed_fields(old: dict, new: dict) -> list[str]:
    return [key.replace("_", " ") for key in new if old.get(key) != new.get(key)]


def _names(personas: list[str]) -> str:
    return ", ".join(personas)


# --- what the public sees ------------------------------------------------------------------------------


def flag_notice(row: dict | None) -> dict | None:
    """What a reader is told of the linter's flags an editor acknowledged in publishing this record
    (`publish --ack-flags`): their kinds and fields ({"kinds", "fields"}), or None. A link is named
    "links", not by its text, which may be the very instruction that was flagged."""
    flags = json.loads(row["acknowledged_flags"]) if row and row.get("acknowledged_flags") else []
    if not flags:
        return None
    fields = ["links" if flag["field"].startswith("links.") else flag["field"] for flag in flags]
    return {"kinds": list(dict.fromkeys(flag["kind"] for flag in flags)), "fields": list(dict.fromkeys(fields))}


def visible_publications(db, at: str) -> dict[str, dict]:
    """slug -> its publications row shown at `at`: the newest decision visible by then, when that
    decision is to publish (a withdrawn tool is absent)."""
    newest: dict[str, dict] = {}
    for row in queries.publication_rows(db, visible_by=at):
        newest[row["slug"]] = row  # rows come oldest first
    return {slug: row for slug, row in newest.items() if row["action"] == "publish"}


def public_history(db, slug: str, at: str) -> list[dict]:
    """A published tool's publications visible at `at`, newest first (failed runs and drafts never
    appear: they stay in `panel audit`)."""
    return [row for row in reversed(queries.publication_rows(db, slug=slug, visible_by=at))
            if row["action"] == "publish"]


def published_panels(db, at: str) -> dict[str, PanelResult]:
    return {slug: stored_panels.panel_by_id(db, row["panel_id"]) for slug, row in visible_publications(db, at).items()}


def pending(db, at: str) -> list[dict]:
    """Publications and withdrawals recorded but held until a later time (embargoes), leaving out
    those a later decision overtook: the newest decision wins, so they will never be shown."""
    rows = queries.publication_rows(db)
    return [row for row in rows if row["visible_from"] > at and not any(
        later["slug"] == row["slug"] and later["id"] > row["id"] and later["visible_from"] <= row["visible_from"]
        for later in rows)]


def newer_draft(db, shown: dict) -> dict | None:
    """A tool's newest draft when it is newer than its shown publication and says something else
    (other verdicts); None when the published panel is the newest word."""
    drafts = queries.draft_rows(db, shown["slug"])
    if not drafts or drafts[0]["id"] <= shown["panel_id"]:
        return None
    newest = stored_panels.panel_by_id(db, drafts[0]["id"]).verdict_ids()
    return drafts[0] if newest != json.loads(shown["verdict_ids"]) else None


def statuses(db, at: str) -> dict[str, str]:
    """slug -> where each reviewed tool stands: draft (reviewed, never published), published,
    "published; newer draft", "held until ..." (embargoed), withdrawn. A tool never reviewed is absent."""
    shown = visible_publications(db, at)
    held = {row["slug"]: row["visible_from"] for row in pending(db, at) if row["action"] == "publish"}
    found = {}
    for slug in queries.judged_slugs(db):
        latest = queries.latest_publication(db, slug)
        if slug in shown:
            found[slug] = "published; newer draft" if newer_draft(db, shown[slug]) else "published"
        elif latest is not None and latest["action"] == "unpublish":
            found[slug] = "withdrawn"
        else:
            found[slug] = "draft"
        if slug in held:
            found[slug] += f" (held until {held[slug][:16].replace('T', ' ')} UTC)"
    return found
