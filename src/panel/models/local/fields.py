"""What each field of a local verdict may hold. A 135M model fills every slot it is given: it
copies instruction text as a headline ("One line"), stops a headline mid-clause, and lists numbers
as risks or invents competitors. These checks keep what is usable and leave a list empty rather
than invented: a competitor must be named in the brief itself.
"""

from __future__ import annotations

import re

from ...core.fence import find_fenced

# A headline may not end on one of these: it was cut mid-clause.
_DANGLING = {
    "a", "an", "the", "and", "or", "but", "of", "to", "for", "from", "with", "by", "in", "on", "at", "as", "that",
    "which", "who", "is", "are", "was", "be", "its", "their", "this", "it", "than", "into", "about", "while",
    "what", "where", "when", "how", "if", "because", "so", "not", "can", "will", "has", "have", "our", "your",
}
_NOT_AN_ITEM = {"yes", "no", "none", "n/a", "na", "true", "false", "null", "nothing", "tbd", "unknown"}
MAX_HEADLINE_WORDS = 14
MAX_ITEM_WORDS = 6


def brief_text(messages: list[dict]) -> str:
    """The fenced brief inside the prompt (what the vendor wrote), or "" if there is none."""
    for message in messages:
        found = find_fenced(message.get("content") or "")
        if found:
            return found.group(2)
    return ""


def brief_field(block: str, name: str) -> str:
    found = re.search(rf"^{name}: (.+)$", block, re.M)
    return found.group(1).strip().strip("'\"") if found else ""


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’%$.+-]+", text)


def _trim_dangling(text: str) -> str:
    """Drop trailing words a clause cannot end on, and trailing punctuation that opens something."""
    words = text.rstrip(" ,;:-–—(\"'").split()
    while words and words[-1].lower().strip(",;:.") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:-–—(")


def headline(text: str, rationale: str, instructions: str, name: str = "") -> str:
    """The model's headline if it is one; else the opening clause of its own rationale. Neither
    instruction text nor the tool's bare name (or a clipped one: "Mistral Small 3." for "Mistral
    Small 3.1") is a headline."""
    line = " ".join(text.split()).strip("\"'")
    copied = len(line) < 40 and line.lower().strip(" .") in instructions.lower()
    bare = line.lower().strip(" .")
    just_the_name = bool(name) and bool(bare) and name.lower().startswith(bare)
    if len(_words(line)) >= 2 and not copied and not just_the_name:
        line = _trim_dangling(line)
        if len(_words(line)) >= 2:
            return _shorten(line)
    first = re.split(r"(?<=[.!?])\s|[;:]\s|,\s", " ".join(rationale.split()), maxsplit=1)[0]
    return _shorten(_trim_dangling(first)) or "(no headline)"


def _shorten(line: str) -> str:
    words = line.split()
    if len(words) <= MAX_HEADLINE_WORDS:
        return line
    return _trim_dangling(" ".join(words[:MAX_HEADLINE_WORDS]))


def items(values: list[str], *, block: str, grounded: bool) -> list[str]:
    """Short phrases only: no numbers, no yes/no, no sentences. With `grounded` (competitors), only
    names the brief itself mentions, and never the tool itself or its vendor."""
    kept: list[str] = []
    own = {brief_field(block, "name").casefold(), brief_field(block, "vendor").casefold()} - {""}
    for value in values:
        item = " ".join(value.split()).strip(" .,;:-\"'")
        words = _words(item)
        letters = sum(c.isalpha() for c in item)
        if not words or len(words) > MAX_ITEM_WORDS or letters < 2 or letters < len(item.replace(" ", "")) / 2:
            continue
        if item.casefold() in _NOT_AN_ITEM or item.casefold() in {k.casefold() for k in kept}:
            continue
        if grounded and (item.casefold() in own or item.casefold() not in block.casefold()):
            continue
        kept.append(item)
    return kept
