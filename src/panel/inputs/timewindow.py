"""A time window given on the command line (`--since 7d`, `--until 2026-11-30`), turned into the
bounds stored times are compared with. Stored times are UTC ISO-8601 text with milliseconds, which
sorts as text in the same order as in time, so a bound is text in that same form."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ..core.errors import PanelError

_AGO = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _instant(text: str, flag: str, now: datetime) -> tuple[datetime, bool]:
    """The moment `text` names, and whether it named a whole day (a date without a time)."""
    ago = _AGO.match(text.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))}), False
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PanelError(f"{flag} '{text}': expected a date (2026-11-30), a date and time"
                         " (2026-11-30T14:00), or an age such as 24h, 7d or 2w") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # stored times are UTC; so is a bare date given
    return moment.astimezone(timezone.utc), len(text.strip()) == 10


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def window(since: str | None, until: str | None, now: datetime | None = None) -> tuple[str | None, str | None]:
    """(from, to) as stored-time text: from inclusive, to exclusive; a date given as --until
    includes that whole day. Raises PanelError for a bound that does not parse or an empty window."""
    now = now or datetime.now(timezone.utc)
    start = _stamp(_instant(since, "--since", now)[0]) if since else None
    end = None
    if until:
        moment, whole_day = _instant(until, "--until", now)
        end = _stamp(moment + timedelta(days=1) if whole_day else moment)
    if start and end and start >= end:
        raise PanelError(f"--since {since} is not before --until {until}: the window is empty")
    return start, end
