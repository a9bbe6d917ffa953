"""The head-to-head prompt: one persona shown two tools, in a given order, by name or brand-blind.

The templates are `personas/_compare_system.j2` and `personas/_compare.j2` in the workspace (the
defaults shipped with panel when a workspace has none). Their text is hashed into every judgment's
cache key, so editing them asks again; a persona's own version covers its file and review templates.

Brand-blind: the tools become "Tool A" and "Tool B" by the position they are shown in (so a
judge that favours the label "A" shows up as a position bias, and the prompt follows from the
order alone), their vendors "Vendor A" and "Vendor B", links are dropped, and every mention of
either name or vendor in the text is replaced.
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
    its own or the other tool's name or vendor in any text field (licence and category included:
    "Gemma Terms of Use" names its tool). `letter` is the position it is shown in."""
    other_letter = "B" if letter == "A" else "A"
    names = {**brand_words(other, other_letter), **brand_words(brief, letter)}
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in sorted(names, key=len, reverse=True)),
                         re.I)
    lookup = {w.lower(): label for w, label in names.items()}

    def scrub(text: str | None, limit: int) -> str | None:
        if text is None:
            return None
        text = pattern.sub(lambda m: lookup[m.group(0).lower()], text)
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"  # labels can be longer

    data = brief.model_dump(mode="json")
    data |= {"slug": f"tool-{letter.lower()}", "name": f"Tool {letter}", "vendor": f"Vendor {letter}", "links": {},
             "tagline": scrub(brief.tagline, LINE), "description": scrub(brief.description, TEXT),
             "category": scrub(brief.category, LINE), "licence": scrub(brief.licence, LINE), "panel": None}
    data["pricing"] = {k: scrub(v, TEXT if k == "notes" else LINE) for k, v in data["pricing"].items()}
    return ToolBrief.model_validate(data)


LINE, TEXT = 200, 8000  # ToolBrief's limits for one-line and long text fields
# Words of a tool's name too ordinary to mask on their own ("Visual Studio Code" keeps "code").
COMMON_WORDS = set("""code studio small large mini pro plus open model models tool tools chat server cloud data
visual agent agents assistant python search test tests labs light fast base core desk docs hub lite next""".split())


def brand_words(brief: ToolBrief, letter: str) -> dict[str, str]:
    """Every way a brief names its tool or its maker, and the label each becomes: the name, the
    name without its version ("Mistral Small 3.1" -> "Mistral Small"), each uncommon word of the
    name ("Copilot"), the slug, the vendor, the vendor's first word ("Alibaba Cloud" -> "Alibaba")
    and any name in brackets ("(BurntSushi)"). The maker's other products ("Gemini" in a Gemma
    brief) cannot be known from the brief and stay."""
    tool, maker = f"Tool {letter}", f"Vendor {letter}"
    words = {brief.name: tool, brief.slug: tool}
    unversioned = re.sub(r"[\s-]+v?\d+(\.\d+)*[a-z]?$", "", brief.name, flags=re.I)
    if len(unversioned) >= 3:
        words[unversioned] = tool
    for word in re.findall(r"[A-Za-z][\w.]*", brief.name):  # "GitHub Copilot" -> "Copilot" alone too
        if len(word) >= 4 and word.lower() not in COMMON_WORDS:
            words.setdefault(word, tool)
    words[brief.vendor] = maker
    first = re.split(r"[\s,(]+", brief.vendor.strip())[0]
    if len(first) >= 4 and first[0].isupper():
        words.setdefault(first, maker)
    for inside in re.findall(r"\(([^)]*)\)", brief.vendor):
        if len(inside.strip()) >= 3:
            words.setdefault(inside.strip(), maker)
    return {w: label for w, label in words.items() if w.strip()}
