"""The fence around a brief in a prompt, built and found in one place.

A brief is a vendor's text, so the prompt shows it as data between two markers named after a hash of
the text shown: `<<<BRIEF-0123456789>>>` ... `<<<END-BRIEF-0123456789>>>`. The brief cannot contain
its own closing marker (it would have to contain a hash of itself), and the prompt stays
deterministic for caching. The name comes from the text the personas read, not from the brief's
content hash: two briefs that read the same (one with an injection the linter took out, one without)
get the same prompt to the byte, so a caught manipulation leaves no trace in it. The embedded
model's calibration and field checks find the brief again by the same pattern; if building and
finding ever drifted apart, calibration would silently fall back to no correction at all, so both
live here.
"""

from __future__ import annotations

import hashlib
import re

# Our own markers and chat-template control tokens (<|im_start|> and friends), broken up inside a
# brief: a local model tokenises the prompt with special tokens on and would read them as roles.
_NEUTRALISED = (("<<<", "< < <"), (">>>", "> > >"), ("<|", "< |"), ("|>", "| >"))
# How a brief is shown in a prompt, as part of every persona version and calibration key: when the
# showing changes though no persona file did, stored verdicts read as stale (`panel rerun --changed`)
# and the embedded model's calibrations are measured again. 2: the personas' view, without the slug,
# fenced by the hash of the text shown (1: the whole brief, fenced by its content hash).
LAYOUT = "2"
_FENCED = re.compile(r"<<<(BRIEF-[0-9A-F]+)>>>\n(.*?)\n<<<END-\1>>>", re.S)


def fence(body: str) -> tuple[str, str]:
    """The marker name for `body` (a brief's text) and the body between its markers, with anything
    marker-like broken up."""
    for token, safe in _NEUTRALISED:
        body = body.replace(token, safe)
    body = body.rstrip()
    name = f"BRIEF-{hashlib.sha256(body.encode()).hexdigest()[:10].upper()}"
    return name, f"<<<{name}>>>\n{body}\n<<<END-{name}>>>"


def find_fenced(text: str) -> re.Match | None:
    """The first fenced brief in `text`: group 1 is the marker name, group 2 the brief's text."""
    return _FENCED.search(text)


def replace_fenced(text: str, replacement) -> str:
    """`text` with every fenced brief replaced (`replacement`: a string, or a function of the match)."""
    return _FENCED.sub(replacement, text)
