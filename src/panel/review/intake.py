"""From a submission to a draft: the one flow every way in shares (`panel submit`, a batch file,
LangGraph's server and its /submissions route).

    submit  -> checked (panel.inputs.submission), linted, compared with the tools panel knows,
               queued as pending (panel.store.queue)
    accept  -> the brief written to tool_briefs/<slug>.yaml; the caller then reviews it as a draft
    reject  -> a reason recorded

Publication stays its own step (`panel publish`). With `submissions.auto_accept` in panel.yaml a
valid submission is accepted at once, unless accepting it would replace a different brief of the
same slug: that one waits for an editor, flagged as a possible duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.brief import ToolBrief
from ..core.duplicates import possible_duplicates
from ..core.errors import BriefError, SubmissionError
from ..inputs.briefs import brief_files, load_brief
from ..inputs.lint import lint
from ..inputs.personas import check_panel, persona_names
from ..inputs.settings import load_settings
from ..inputs.submission import parse_submission
from ..store import queue
from ..store.db import now
from ..store.store import Store

AUTO = "auto_accept"  # who accepted a submission the workspace accepts by itself


def workspace_briefs(ws) -> list[tuple[str, ToolBrief]]:
    """(where, brief) for each brief file of the workspace that loads (a broken one is listed by
    `panel briefs list`, not here)."""
    known = []
    for path in brief_files(ws.briefs_dir):
        try:
            known.append((f"tool_briefs/{path.name}", load_brief(path)))
        except BriefError:
            continue
    return known


def submit(ws, db_path: Path, data, *, source: str, where: str = "submission") -> dict:
    """Check and queue one submission given as data; its row (pending). Every refusal is a
    SubmissionError or another PanelError, raised before anything is written."""
    limits = load_settings(ws.home).submissions
    submission = parse_submission(data, limits.max_bytes, where)
    brief = submission.brief
    known_personas = persona_names(ws.personas_dir)
    if known_personas:
        check_panel(brief, known_personas, f"{where}: brief '{brief.slug}'")
    flags = [flag.to_json() for flag in lint(brief)]
    with Store(db_path) as store:
        duplicates = possible_duplicates(brief, workspace_briefs(ws) + queue.queued_briefs(store.db))
        # The daily limit guards the public door (the server); `panel submit` is an editor's own.
        max_per_day = None if source == "cli" else limits.max_per_day
        return queue.add(store.db, submission, source=source, flags=flags, duplicates=duplicates,
                         max_per_day=max_per_day, at=now())


@dataclass(frozen=True)
class Accepted:
    row: dict  # the submission, now accepted
    brief: ToolBrief  # as written (under the slug it was accepted as)
    path: Path  # tool_briefs/<slug>.yaml
    written: bool  # False when that file already held this very brief


def accepted_brief(row: dict, slug: str | None) -> ToolBrief:
    brief = ToolBrief.model_validate_json(row["brief"])
    if slug is None or slug == brief.slug:
        return brief
    data = brief.model_dump(mode="json", exclude_none=True) | {"slug": slug}
    try:
        return ToolBrief.model_validate(data)
    except ValueError:
        raise SubmissionError(f"--slug '{slug}' is not a valid slug (lowercase letters, digits and hyphens)") from None


def replaces_other_brief(ws, brief: ToolBrief) -> bool:
    """Would writing this brief replace a different one of the same slug?"""
    path = ws.brief_path(brief.slug)
    if not path.exists():
        return False
    try:
        return load_brief(path).content_hash() != brief.content_hash()
    except BriefError:
        return True


def accept(ws, db_path: Path, submission_id: int, *, by: str, slug: str | None = None,
           replace: bool = False) -> Accepted:
    """Accept a pending submission: write its brief into the workspace (atomically, in the same
    transaction that records the acceptance). The caller reviews it."""
    from ..core.files import write_atomic

    written = False

    def write() -> None:
        """Inside the acceptance's write lock: two acceptances of one slug cannot both see no clash."""
        nonlocal written
        clash = replaces_other_brief(ws, brief)
        if clash and not replace:
            raise SubmissionError(f"tool_briefs/{path.name} already holds a different brief; accept with --slug NEW"
                                  " to add this one as its own tool, or --replace to replace that brief", 409)
        if clash or not path.exists():
            write_atomic(path, brief.to_yaml())
            written = True

    with Store(db_path) as store:
        brief = accepted_brief(queue.get(store.db, submission_id), slug)
        path = ws.brief_path(brief.slug)
        row = queue.decide(store.db, submission_id, "accepted", by=by, at=now(), accepted_as=brief.slug, then=write)
    return Accepted(row, brief, path, written)


def reject(db_path: Path, submission_id: int, *, by: str, reason: str) -> dict:
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise SubmissionError("--reason: say why in 1 to 500 characters (the submitter may ask)")
    with Store(db_path) as store:
        return queue.decide(store.db, submission_id, "rejected", by=by, at=now(), reason=reason)


def auto_accepts(ws, row: dict) -> bool:
    """Does the workspace accept this queued submission by itself?"""
    if not load_settings(ws.home).submissions.auto_accept:
        return False
    return not replaces_other_brief(ws, ToolBrief.model_validate_json(row["brief"]))
