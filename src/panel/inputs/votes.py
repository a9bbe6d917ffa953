"""Community votes as input: one from the command line, or a CSV file checked line by line.

One ship/skip per voter per tool; the latest one wins (the store applies that rule).

Votes come one at a time (`panel vote`) or as a CSV file (`panel votes import`). A file is
checked line by line first and rejected whole if any line is bad, so an import never leaves
half a file behind. A vote must name a tool the workspace knows (a stored brief or a file in
tool_briefs/): a typo in a slug would otherwise create a tool nobody can see.
"""

from __future__ import annotations

import csv
import getpass
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..core.errors import VoteError
from ..core.slugs import is_slug
from ..core.suggest import did_you_mean
from .textcheck import read_text_file

VOTES = ("ship", "skip")
HEADER = ["slug", "voter", "vote", "cast_at"]
MAX_VOTER_LEN = 200
MAX_ERRORS_SHOWN = 5
MAX_FILE_BYTES = 64 * 1024 * 1024  # an export of a busy site's votes, not a 256 KB brief
# Clocks disagree a little; a vote dated further ahead than this would win every later vote.
FUTURE_TOLERANCE = timedelta(minutes=10)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Vote:
    slug: str
    voter: str
    vote: str
    cast_at: str  # UTC, ISO-8601 with milliseconds: sorts as text in the same order as in time


def default_voter() -> str:
    """A stable id for votes cast from this machine without --voter."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = "anonymous"
    return f"local:{user}"


def now_stamp() -> str:
    return format_stamp(datetime.now(timezone.utc))


def format_stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds")


# --- checking one vote ---------------------------------------------------------------------------


def check_slug(slug: str, known: set[str]) -> str | None:
    """The problem with a slug, or None."""
    if not is_slug(slug):
        return f"'{slug}' is not a valid slug"
    if slug not in known:
        hint = did_you_mean(slug, sorted(known))
        return f"unknown tool '{slug}'{hint} (no stored brief and no tool_briefs/{slug}.yaml)"
    return None


def check_voter(voter: str) -> str | None:
    if not voter.strip():
        return "voter is empty"
    if len(voter) > MAX_VOTER_LEN:
        return f"voter is longer than {MAX_VOTER_LEN} characters"
    if _CONTROL.search(voter):
        return "voter contains control characters"
    return None


def check_vote(vote: str) -> str | None:
    return None if vote in VOTES else f"vote must be ship or skip, not '{vote}'"


def parse_cast_at(text: str, now: datetime) -> str:
    """ISO-8601 date or date-time; no zone means UTC. Raises ValueError with a short reason."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cast_at '{text}' is not an ISO-8601 date or time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if when > now + FUTURE_TOLERANCE:
        raise ValueError(f"cast_at '{text}' is in the future")
    return format_stamp(when)


def make_vote(slug: str, vote: str, voter: str, known: set[str]) -> Vote:
    """One vote from the command line, cast now."""
    for problem in (check_slug(slug, known), check_vote(vote), check_voter(voter)):
        if problem:
            raise VoteError(problem)
    return Vote(slug=slug, voter=voter.strip(), vote=vote, cast_at=now_stamp())


# --- reading a file -------------------------------------------------------------------------------


def read_votes_csv(path: Path, known: set[str]) -> list[Vote]:
    """Every vote in a CSV file, or a VoteError listing the bad lines (nothing is half read).

    Columns: slug,voter,vote[,cast_at]. A first line that reads `slug,voter,vote[,cast_at]` is a
    header and skipped. Blank lines are ignored. Without cast_at a vote is dated now; when one
    file holds two votes by the same voter for the same tool, the later-dated (then the later
    line) wins, as it would if they had been cast one after the other.
    """
    path = Path(path)
    text = read_text_file(path, VoteError, max_bytes=MAX_FILE_BYTES)
    now = datetime.now(timezone.utc)
    stamp = format_stamp(now)
    errors: list[str] = []
    found: dict[tuple[str, str], tuple[str, int, Vote]] = {}
    count = 0
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"line {reader.line_num}: not valid CSV ({exc})")
            break
        number = reader.line_num  # physical line, even when a quoted field spans lines
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and [c.lower() for c in cells] in (HEADER, HEADER[:3]):
            continue
        vote, problem = _vote_from_cells(cells, known, now, stamp)
        if problem:
            errors.append(f"line {number}: {problem}")
            continue
        count += 1
        key = (vote.slug, vote.voter)
        previous = found.get(key)
        if previous is None or (vote.cast_at, number) >= previous[:2]:
            found[key] = (vote.cast_at, number, vote)
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f"; and {len(errors) - MAX_ERRORS_SHOWN} more bad lines" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise VoteError(f"{path.name}: {shown}{more}; nothing was imported")
    if not count:
        raise VoteError(f"{path.name}: no votes in the file (expected lines of slug,voter,vote[,cast_at])")
    return [entry[2] for entry in found.values()]


def _vote_from_cells(cells: list[str], known: set[str], now: datetime, stamp: str) -> tuple[Vote | None, str | None]:
    if len(cells) not in (3, 4):
        return None, f"expected 3 or 4 fields (slug,voter,vote[,cast_at]), found {len(cells)}"
    slug, voter, vote = cells[0], cells[1], cells[2].lower()
    for problem in (check_slug(slug, known), check_voter(voter), check_vote(vote)):
        if problem:
            return None, problem
    cast_at = stamp
    if len(cells) == 4 and cells[3]:
        try:
            cast_at = parse_cast_at(cells[3], now)
        except ValueError as exc:
            return None, str(exc)
    return Vote(slug=slug, voter=voter, vote=vote, cast_at=cast_at), None
