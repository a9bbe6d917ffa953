"""The head-to-head prompt: one persona shown two tools, in a given order, by name or brand-blind.

The templates are `personas/_compare_system.j2` and `personas/_compare.j2` in the workspace (the
defaults shipped with panel when a workspace has none). Their text is hashed into every judgment's
cache key, so editing them asks again; a persona's own version covers its file and review templates.

Brand-blind: the tools become "Tool A" and "Tool B" (by the order the user named them, whatever
order they are shown in), their vendors "Vendor A" and "Vendor B", links are dropped, and every
mention of either name or vendor in the text is replaced.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from ..core.brief import ToolBrief
from .personas import Persona, fenced_block, render_template
from .textcheck import read_text_file
from .workspace import defaults_dir

SYSTEM_TEMPLATE, USER_TEMPLATE = "_compare_system.j2", "_compare.j2"


@functools.lru_cache(maxsize=8)
def _sources(personas_dir: str) -> tuple[str, str]:
    from ..core.errors import PersonaError

    def source(name: str) -> str:
        for folder in (Path(personas_dir), defaults_dir() / "personas"):
            if (folder / name).is_file():
                return read_text_file(folder / name, PersonaError)
        raise PersonaError(f"{personas_dir}: no {name} (the head-to-head prompt); run `panel init` for the defaults")

    return source(SYSTEM_TEMPLATE), source(USER_TEMPLATE)


def compare_prompt_version(personas_dir: Path) -> str:
    """A hash of both head-to-head templates: part of every judgment's cache key."""
    digest = hashlib.sha256("\x00".join(_sources(str(personas_dir))).encode())
    return digest.hexdigest()[:12]


def render_judgment_messages(persona: Persona, first: ToolBrief, second: ToolBrief) -> list[dict]:
    """The chat messages asking `persona` to pick between `first` and `second`, in that order."""
    system_source, user_source = _sources(str(persona.path.parent))
    (first_fence, first_block), (second_fence, second_block) = fenced_block(first), fenced_block(second)
    context = {"first_fence": first_fence, "second_fence": second_fence, "first_block": first_block,
               "second_block": second_block}
    return [
        {"role": "system", "content": render_template(persona, SYSTEM_TEMPLATE, system_source, **context)},
        {"role": "user", "content": render_template(persona, USER_TEMPLATE, user_source, **context)},
    ]


def masked(brief: ToolBrief, letter: str, other: ToolBrief) -> ToolBrief:
    """The brief with its brand taken out: "Tool A" by "Vendor A", no links, and no mention left of
    its own or the other tool's name or vendor."""
    names = {brief.name: f"Tool {letter}", brief.vendor: f"Vendor {letter}", brief.slug: f"tool-{letter.lower()}"}
    other_letter = "B" if letter == "A" else "A"
    names |= {other.name: f"Tool {other_letter}", other.vendor: f"Vendor {other_letter}"}

    def scrub(text: str | None) -> str | None:
        if text is None:
            return None
        for real in sorted(names, key=len, reverse=True):  # longest first: "Mistral Small" before "Mistral"
            text = re.sub(re.escape(real), names[real], text, flags=re.I)
        return text

    data = brief.model_dump(mode="json")
    data |= {"slug": f"tool-{letter.lower()}", "name": f"Tool {letter}", "vendor": f"Vendor {letter}", "links": {},
             "tagline": scrub(brief.tagline), "description": scrub(brief.description), "panel": None}
    data["pricing"] = {k: scrub(v) for k, v in data["pricing"].items()}
    return ToolBrief.model_validate(data)
