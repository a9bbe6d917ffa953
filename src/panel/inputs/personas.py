"""Reviewer personas: YAML files in personas/ plus the Jinja2 prompt templates they use.

A persona's *version* is a hash of its file and of every template file it renders, so editing
any prompt text makes a new version and old verdicts stay linked to the version behind them.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..core.brief import ToolBrief
from ..core.errors import PersonaError
from ..core.fence import LAYOUT, fence
from ..core.slugs import Slug
from ..core.suggest import did_you_mean
from .textcheck import read_text_file
from .lint import REMOVED, claims_yaml, read_claims, slug_addresses_reviewers
from .yamlfile import load_model

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class PersonaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Slug
    title: Line
    lens: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    questions: list[Line] = Field(min_length=1, max_length=12)
    voice: Annotated[str, StringConstraints(max_length=2000)] | None = None
    model: Line | None = None
    # A jury: several models hold this seat, each answering apart; the seat's verdict is their
    # strict majority (panel.core.panel.seat_result). Instead of `model`, not with it.
    models: list[Line] | None = Field(default=None, min_length=2, max_length=7)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=64, le=8192)
    system_template: Line = Field(default="_system.j2", description="file in personas/ for the system message")
    prompt_template: Line = Field(default="_review.j2", description="file in personas/ for the user message")

    @model_validator(mode="after")
    def _one_way_to_name_models(self):
        if self.model and self.models:
            raise ValueError("give `model` (one model) or `models` (a jury), not both")
        if self.models and len(set(self.models)) != len(self.models):
            raise ValueError("`models` names the same model twice")
        return self


@dataclass(frozen=True)
class Persona:
    """A loaded persona: its spec, its template sources and its version hash."""

    spec: PersonaSpec
    path: Path
    system_source: str
    prompt_source: str
    version: str
    file_text: str

    @property
    def name(self) -> str:
        return self.spec.name


def _template_path(personas_dir: Path, persona_path: Path, name: str) -> Path:
    path = (personas_dir / name).resolve()
    if personas_dir.resolve() not in path.parents:
        raise PersonaError(f"{persona_path}: template '{name}' must be a file inside {personas_dir}")
    return path


def load_persona(path: Path) -> Persona:
    path = Path(path)
    spec = load_model(path, PersonaSpec, PersonaError, defaults={"name": path.stem})
    if spec.name != path.stem:
        raise PersonaError(f"{path}: name: '{spec.name}' does not match the file name '{path.stem}'")
    folder = path.parent
    file_text = read_text_file(path, PersonaError)
    sources = {}
    for field in ("system_template", "prompt_template"):
        tpath = _template_path(folder, path, getattr(spec, field))
        sources[field] = read_text_file(tpath, PersonaError)
    digest = hashlib.sha256()
    for part in (file_text, sources["system_template"], sources["prompt_template"], LAYOUT):
        digest.update(part.encode())
        digest.update(b"\x00")
    persona = Persona(
        spec=spec,
        path=path,
        system_source=sources["system_template"],
        prompt_source=sources["prompt_template"],
        version=digest.hexdigest()[:12],
        file_text=file_text,
    )
    check_templates(persona)
    return persona


def persona_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.yaml") if not p.name.startswith((".", "_")))


def check_panel(brief: ToolBrief, known: list[str], source: str | None = None) -> None:
    """A brief's own `panel:` names only personas of the workspace (`known`, by name); `source`
    names the brief in the error (its file, when it came from one)."""
    for name in brief.panel or []:
        if name not in known:
            where = source or f"brief '{brief.slug}'"
            raise PersonaError(f"{where}: panel: unknown persona '{name}'{did_you_mean(name, known)}"
                               f" (known: {', '.join(known)})")


def persona_names(folder: Path) -> list[str]:
    """The names of the personas in `folder` (a persona's name is its file's), without loading them."""
    return [path.stem for path in persona_files(folder)] if Path(folder).is_dir() else []


def load_personas(folder: Path) -> dict[str, Persona]:
    personas = {}
    for path in persona_files(folder):
        persona = load_persona(path)
        personas[persona.name] = persona
    if not personas:
        hint = "" if Path(folder).is_dir() else "; run `panel init` to create a workspace with the default personas"
        raise PersonaError(f"{folder}: no persona files (*.yaml) found{hint}")
    return personas


# --- rendering ---------------------------------------------------------------------------------

# Immutable: a template cannot change the cached brief view that the next persona renders from.
_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                     keep_trailing_newline=True)
# Compiling a template costs about a millisecond; a batch renders the same few sources 1000s of times.
_compiled = functools.lru_cache(maxsize=128)(_ENV.from_string)
# Linting a brief and dumping it to YAML cost about a millisecond each, and every seated persona needs
# the same block: keep recent ones, keyed by the content hash (same hash, same fields, same YAML).
_FENCED: dict[str, tuple[str, str, dict]] = {}
_FENCED_MAX = 1024


def fence_for(brief: ToolBrief) -> str:
    """The brief's marker name (panel.core.fence)."""
    return fenced_block(brief)[0]


def fenced_block(brief: ToolBrief, digest: str | None = None) -> tuple[str, str]:
    """The marker name and the brief as data between its markers (panel.core.fence)."""
    return _fenced(brief, digest)[:2]


def _fenced(brief: ToolBrief, digest: str | None) -> tuple[str, str, dict]:
    """The marker name, the fenced block, and the brief as a template sees it (`brief`)."""
    digest = digest or brief.content_hash()
    found = _FENCED.get(digest)
    if found is None:
        claims = read_claims(brief)
        name, block = fence(claims_yaml(claims))
        found = (name, block + evidence_block(brief), _template_view(brief, claims))
        if len(_FENCED) >= _FENCED_MAX:
            _FENCED.pop(next(iter(_FENCED)))  # oldest first: dicts keep insertion order
        _FENCED[digest] = found
    return found


def _template_view(brief: ToolBrief, claims: dict) -> dict:
    """`brief` for a persona template that names fields instead of showing `brief_block`: what the
    personas read (claims), so no template brings back what the linter took out; every field is there
    (None where empty or taken out), with the slug (unless it addresses the reviewers) and evidence."""
    dumped = brief.model_dump(mode="json")
    view = {key: claims.get(key) for key in dumped}
    view["pricing"] = {key: claims["pricing"].get(key) for key in dumped["pricing"]}
    view["slug"] = REMOVED if slug_addresses_reviewers(brief.slug) else brief.slug
    view["evidence"] = dumped["evidence"]
    return view


def evidence_block(brief: ToolBrief) -> str:
    """What panel read itself (`panel briefs draft`), after the vendor's fenced text and labelled
    as panel's: a persona weighs the vendor's claims against it. Facts are short values from a
    closed alphabet (panel.core.brief.Fact), so nothing here can carry an instruction. Empty for a
    brief without evidence, whose prompt is unchanged."""
    if not brief.evidence:
        return ""
    lines = [f"- {fact.fact}: {fact.value} (from {fact.source})" for fact in brief.evidence]
    return ("\n\nEvidence panel gathered itself from the tool's own files (not the vendor's words):\n"
            + "\n".join(lines))


def _render(persona: Persona, which: str, source: str, fenced: tuple[str, str, dict]) -> str:
    name, block, view = fenced
    return render_template(persona, getattr(persona.spec, which), source, brief=view, brief_block=block, fence=name)


def render_template(persona: Persona, template_name: str, source: str, **context) -> str:
    """Render one prompt template in the sandbox, with the persona's fields as `persona`; every
    template error is the persona's, named with the file and line."""
    try:
        template = _compiled(source)
        return template.render(persona=persona.spec.model_dump(), **context).strip()
    except jinja2.TemplateSyntaxError as exc:
        raise PersonaError(f"{persona.path}: template {template_name} line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise PersonaError(f"{persona.path}: template {template_name}: unsafe operation blocked ({exc})") from None
    except jinja2.UndefinedError as exc:
        line = _error_line(exc)
        raise PersonaError(f"{persona.path}: template {template_name}{line}: {exc.message}") from None
    except Exception as exc:  # any other template runtime error is the template's fault
        raise PersonaError(f"{persona.path}: template {template_name}: {type(exc).__name__}: {exc}") from None


def _error_line(exc: BaseException) -> str:
    tb = exc.__traceback__
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return f" line {lineno}" if lineno else ""


def render_messages(persona: Persona, brief: ToolBrief, brief_hash: str | None = None) -> list[dict]:
    """The chat messages for one persona reviewing one brief (pass the brief's hash if known)."""
    fenced = _fenced(brief, brief_hash)
    return [
        {"role": "system", "content": _render(persona, "system_template", persona.system_source, fenced)},
        {"role": "user", "content": _render(persona, "prompt_template", persona.prompt_source, fenced)},
    ]


SAMPLE_BRIEF = ToolBrief(
    slug="sample",
    name="Sample",
    tagline="A sample tool",
    category="Developer Tools",
    vendor="Example",
    description="Used to check that persona templates render.",
    pricing={"model": "free", "entry": "Free"},
    licence="MIT",
    links={"homepage": "https://example.com"},
)


def check_templates(persona: Persona) -> None:
    """Render both templates once against a sample brief so errors surface at load time."""
    render_messages(persona, SAMPLE_BRIEF)
