"""Is a submitted tool one the panel already knows? Same slug, same homepage or repository, or a
name a small edit away. The answer is a list of reasons for an editor to read ("possible duplicate
of relay-cloud: same homepage"), never a merge: two tools may share a name and differ."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from .brief import ToolBrief

# Link names that point at the tool itself; a shared docs or pricing page says less.
HOME_LINKS = {"homepage", "home", "website", "site", "web", "url",
              "repository", "repo", "source", "code", "github", "gitlab", "codeberg"}


def tool_address(url: str) -> str:
    """A link as a comparable address: no scheme, "www.", query, fragment, ".git" or trailing slash."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:  # e.g. an unclosed IPv6 bracket: compared as written
        return url.strip().casefold()
    path = parts.path.rstrip("/").removesuffix(".git").rstrip("/")
    return f"{host}{path}".casefold()


def home_addresses(brief: ToolBrief) -> set[str]:
    return {tool_address(url) for name, url in brief.links.items() if name.strip().casefold() in HOME_LINKS}


def name_key(name: str) -> str:
    """A name as compared: case, spaces and punctuation ignored ("Relay-Cloud" = "relay cloud")."""
    return re.sub(r"[\W_]+", "", name.casefold())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, given up (returns limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def close_names(a: str, b: str) -> bool:
    """Names a typo or a variant apart: equal when compared; within 1 edit for 5 to 9 characters,
    2 from 10. Shorter names must be equal ("Zed" and "Zep" are different tools)."""
    ka, kb = name_key(a), name_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    shorter = min(len(ka), len(kb))
    limit = 0 if shorter < 5 else 1 if shorter < 10 else 2
    return limit > 0 and edit_distance(ka, kb, limit) <= limit


def duplicate_reasons(brief: ToolBrief, other: ToolBrief) -> list[str]:
    reasons = []
    if brief.slug == other.slug:
        reasons.append("same slug")
    shared = sorted(home_addresses(brief) & home_addresses(other))
    if shared:
        reasons.append(f"same homepage or repository ({shared[0]})")
    if close_names(brief.name, other.name):
        reasons.append(f"similar name ('{other.name}')")
    return reasons


def possible_duplicates(brief: ToolBrief, known: Iterable[tuple[str, ToolBrief]]) -> list[dict]:
    """{"of": slug, "where": where it is known, "why": reasons} for every known tool that may be
    this one. `known` is (where, brief) pairs: the workspace's briefs and the queue's submissions."""
    found = []
    for where, other in known:
        reasons = duplicate_reasons(brief, other)
        if reasons:
            found.append({"of": other.slug, "where": where, "why": "; ".join(reasons)})
    return found


def describe(found: dict) -> str:
    return f"possible duplicate of {found['of']} ({found['where']}): {found['why']}"
