"""The submission queue's records (tables `submissions` and `submission_events`, migration m017).

A submission is `pending` until an editor accepts or rejects it; only a pending one may change,
and each change is an event with who and when. Adding one checks the queue's limits inside the
write lock, so a flood arriving at once is counted exactly: a copy of a pending submission, or one
more than a submitter's daily allowance, is refused with nothing written.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from ..core.brief import ToolBrief
from ..core.errors import SubmissionError
from .db import write_lock
from .queries import rows
from .store import insert

STATES = ("pending", "accepted", "rejected")
# What a public answer (the server's) may say about a submission: never who sent it or how to reach them.
PUBLIC_FIELDS = ("id", "slug", "name", "state", "submitted_at", "decided_at", "flags", "duplicates")


def add(db, submission, *, source: str, flags: list[dict], duplicates: list[dict], max_per_day: int | None,
        at: str) -> dict:
    """Queue a checked submission (panel.inputs.submission.Submission) as pending; its row.
    `max_per_day` None: no daily limit (an editor's own batch, which the server's limit does not count)."""
    brief = submission.brief
    digest = brief.content_hash()
    with write_lock(db):
        twin = db.execute("SELECT id FROM submissions WHERE state = 'pending' AND brief_hash = ?", [digest]).fetchone()
        if twin:
            raise SubmissionError(f"brief '{brief.slug}' is identical to pending submission #{twin[0]}", 409)
        since = (datetime.fromisoformat(at) - timedelta(days=1)).isoformat(timespec="milliseconds")
        (made,) = db.execute("SELECT count(*) FROM submissions WHERE contact_key = ? AND submitted_at > ?"
                             " AND source != 'cli'", [submission.submitter.key, since]).fetchone()
        if max_per_day is not None and made >= max_per_day:
            raise SubmissionError(f"this submitter has made {made} submissions in the last 24 hours, the most allowed"
                                  " (submissions.max_per_day); try again tomorrow", 429)
        row_id = insert(db, "submissions", {
            "slug": brief.slug, "name": brief.name, "brief": brief.model_dump_json(exclude_none=True),
            "brief_hash": digest, "submitter": submission.submitter.name, "contact": submission.submitter.contact,
            "contact_key": submission.submitter.key, "source": source, "state": "pending",
            "flags": json.dumps(flags, ensure_ascii=False), "duplicates": json.dumps(duplicates, ensure_ascii=False),
            "submitted_at": at})
        _event(db, row_id, "pending", at, submission.submitter.name, f"submitted ({source})")
    return get(db, row_id)


def _event(db, submission_id: int, state: str, at: str, by: str, note: str | None) -> None:
    insert(db, "submission_events", {"submission_id": submission_id, "state": state, "at": at, "by": by,
                                     "note": note})


def get(db, submission_id: int) -> dict:
    in_range = 0 < submission_id < 2**63  # SQLite's integers; a larger one would not even bind
    found = rows(db, "SELECT * FROM submissions WHERE id = ?", [submission_id]) if in_range else []
    if not found:
        raise SubmissionError(f"no submission #{submission_id} (`panel submissions list --state all` lists them)")
    return _decoded(found[0])


def _decoded(row: dict) -> dict:
    return row | {"flags": json.loads(row["flags"] or "[]"), "duplicates": json.loads(row["duplicates"] or "[]")}


def listed(db, state: str | None = None) -> list[dict]:
    """Submissions oldest first (the order an editor works through them); every state with None."""
    where, params = ("WHERE state = ?", [state]) if state else ("", [])
    return [_decoded(row) for row in rows(db, f"SELECT * FROM submissions {where} ORDER BY id", params)]


def events(db, submission_id: int) -> list[dict]:
    return rows(db, "SELECT state, at, by, note FROM submission_events WHERE submission_id = ? ORDER BY id",
                [submission_id])


def queued_briefs(db, but: int | None = None) -> list[tuple[str, ToolBrief]]:
    """(where, brief) of every pending or accepted submission: what a new one may duplicate."""
    found = rows(db, "SELECT id, state, brief FROM submissions WHERE state != 'rejected' AND id IS NOT ?"
                     " ORDER BY id", [but])
    return [(f"{row['state']} submission #{row['id']}", ToolBrief.model_validate_json(row["brief"])) for row in found]


def decide(db, submission_id: int, state: str, *, by: str, at: str, reason: str | None = None,
           accepted_as: str | None = None, then=None) -> dict:
    """Move a pending submission to `state` (accepted or rejected). `then()` runs inside the same
    transaction, before it commits (accepting writes the brief file there): if it fails, the
    submission stays pending."""
    with write_lock(db):
        row = get(db, submission_id)
        if row["state"] != "pending":
            raise SubmissionError(f"submission #{submission_id} is already {row['state']} (by {row['decided_by']},"
                                  f" {row['decided_at']})", 409)
        db.execute("UPDATE submissions SET state = ?, decided_at = ?, decided_by = ?, reason = ?, accepted_as = ?"
                   " WHERE id = ?", [state, at, by, reason, accepted_as, submission_id])
        _event(db, submission_id, state, at, by, reason or (f"as {accepted_as}" if accepted_as else None))
        if then is not None:
            then()
    return get(db, submission_id)


def attach_run(db, submission_id: int, run_id: int) -> None:
    """The review that an acceptance started."""
    with write_lock(db):
        db.execute("UPDATE submissions SET run_id = ? WHERE id = ?", [run_id, submission_id])


def public(row: dict) -> dict:
    return {key: row[key] for key in PUBLIC_FIELDS}
