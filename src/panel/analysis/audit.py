"""Helpers for reading the audit trail: highlight markers as plain text, a persona on disk shaped like
a stored version, and the prompt diff between two versions. The SQL is in panel.store.audit."""

from __future__ import annotations

import difflib

from ..inputs.personas import Persona
from ..store.audit import MARK_END, MARK_START
from ..store.queries import parse_persona_file

PLAIN_MARKS = ("[", "]")


def plain_marks(text: str | None) -> str | None:
    """Highlight markers as plain brackets, for --json and plain text."""
    if text is None:
        return None
    return text.replace(MARK_START, PLAIN_MARKS[0]).replace(MARK_END, PLAIN_MARKS[1])


def version_from_file(persona: Persona) -> dict:
    """The persona as it is on disk now, shaped like a persona_versions row."""
    return {
        "version": persona.version,
        "persona": persona.name,
        "file_text": persona.file_text,
        "system_template": persona.system_source,
        "prompt_template": persona.prompt_source,
        "first_seen": None,
    }


def template_names(version: dict) -> tuple[str, str]:
    """The template file names a stored persona file points at (defaults when it names none)."""
    data = parse_persona_file(version["file_text"] or "")
    return str(data.get("system_template") or "_system.j2"), str(data.get("prompt_template") or "_review.j2")


def version_diff(old: dict, new: dict) -> str:
    """A unified diff of the persona file and both prompt templates between two versions."""
    persona = new["persona"]
    old_names, new_names = template_names(old), template_names(new)
    parts = [
        ("file_text", f"{persona}.yaml", f"{persona}.yaml"),
        ("system_template", old_names[0], new_names[0]),
        ("prompt_template", old_names[1], new_names[1]),
    ]
    out: list[str] = []
    for field, old_name, new_name in parts:
        out.extend(
            difflib.unified_diff(
                (old[field] or "").splitlines(keepends=True),
                (new[field] or "").splitlines(keepends=True),
                fromfile=f"{old['version']}/{old_name}",
                tofile=f"{new['version']}/{new_name}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
