"""Reading untrusted text files: size cap, binary and encoding checks, control characters.

Briefs and persona files come from people we do not control (vendors, contributors), so every
file goes through here before YAML sees it.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ..core.errors import PanelError

MAX_FILE_BYTES = 256 * 1024
# C0 controls other than tab/newline/carriage return, DEL and C1 controls.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def read_text_file(path: Path, error: type[PanelError], max_bytes: int = MAX_FILE_BYTES) -> str:
    """Return the file's text, or raise `error` with a one-line message naming the file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a file")
    if size > max_bytes:
        raise error(f"{path}: file is {size:,} bytes; the limit is {max_bytes:,}")
    data = path.read_bytes()
    if not data.strip():
        raise error(f"{path}: file is empty")
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Checked before the NUL test: UTF-16 text is full of NUL bytes but is not binary.
        raise error(f"{path}: saved as UTF-16 or UTF-32; save the file as UTF-8")
    if b"\x00" in data:
        raise error(f"{path}: looks like a binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def find_control_char(text: str) -> str | None:
    """Describe the first forbidden control character in `text`, if any."""
    match = CONTROL_CHARS.search(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start()) + 1
    return f"control character U+{ord(match.group()):04X} on line {line}"


_LIST_OR_HEADING = re.compile(r"^\s*(#|[-*•]\s|\d+[.)]\s)", re.M)


def prose_problem(text: str, accepted: tuple[int, int], asked: str) -> str | None:
    """Why a model's answer is not plain prose of about the length asked for, or None: the rule
    for text a model writes onto a page or into a brief (an editor's summary, a description)."""
    body = text.strip()
    if not body:
        return "it is empty"
    if body[:1] in "{[" or "```" in body or "<<<" in body:
        return "it is JSON or code, not prose"
    if _LIST_OR_HEADING.search(body):
        return "it has headings or lists; plain prose was asked for"
    words = len(body.split())
    if not accepted[0] <= words <= accepted[1]:
        return f"it is {words} words long; {asked} were asked for"
    return None
