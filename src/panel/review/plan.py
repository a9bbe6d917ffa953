"""Planning a batch: which personas sit on each brief, and which (persona, brief) pairs to ask,
with which model settings and cache key. Everything is worked out once here, before the store
is written or the graph is built; review and rerun differ only in their planner.

- `plan_review`: every seated persona on each brief given (from the store when its verdict for
  the same persona version, brief, model and sampling settings is already there).
- `plan_rerun` (panel.review.rerun): only personas whose prompt changed, or one named persona,
  on the briefs as their latest panels judged them; the rest of each panel is carried over.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field

from ..core.brief import ToolBrief
from ..core.errors import PanelError, PersonaError, RerunError
from ..core.verdict import PersonaResult
from ..inputs.personas import Persona
from ..models.providers import DEFAULT_MODEL, check_model
from ..models.router import check_router
from ..models.seam import DEFAULT_TIMEOUT_S, ModelSettings
from ..store import queries


MAX_SAMPLES = 15


def timeout_from_env() -> float:
    """PANEL_TIMEOUT: seconds one model request may take before it counts as failed (and is retried)."""
    raw = os.environ.get("PANEL_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise PanelError(f"PANEL_TIMEOUT must be a number of seconds above 0, not '{raw}'")
    return value


@dataclass
class ReviewOptions:
    model: str | None = None  # --model: overrides every persona's own model
    default_model: str = DEFAULT_MODEL  # PANEL_MODEL: for personas that name no model
    api_base: str | None = None
    concurrency: int = 8
    fresh: bool = False
    only_personas: list[str] | None = None  # --personas: restrict every panel to these
    max_cost: float | None = None
    command: str = "review"
    timeout: float = field(default_factory=timeout_from_env)  # per request, seconds
    samples: int = 1  # --samples K: independent answers per seat, decided by majority
    router: str | None = None  # --router FILE: a LiteLLM Router model_list serving some model names
    workers: int | None = None  # --workers N: processes making remote calls (None: one per core; 0: none)

    def model_for(self, persona_model: str | None) -> str:
        return self.model or persona_model or self.default_model

    @property
    def label(self) -> str:
        return self.model or self.default_model

    def settings_for(self, persona: Persona, model: str | None = None, sample: int = 0) -> ModelSettings:
        """The model settings of one persona: `model` if given, else --model, its own, the default."""
        spec = persona.spec
        return ModelSettings(
            model=model or self.model_for(spec.model),
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
            api_base=self.api_base,
            timeout=self.timeout,
            sample=sample,
        )


def cache_key(persona_version: str, brief_hash: str, model: str, params: dict) -> str:
    """What makes two answers interchangeable: the same prompt version, brief, model and sampling."""
    material = json.dumps([persona_version, brief_hash, model, params], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Pair:
    """One persona asked about one brief, with everything decided: settings and cache key."""

    persona: Persona
    brief: ToolBrief
    brief_hash: str
    settings: ModelSettings
    key: str

    @property
    def name(self) -> str:
        return self.persona.name


def make_pair(persona: Persona, brief: ToolBrief, brief_hash: str, settings: ModelSettings) -> Pair:
    return Pair(persona, brief, brief_hash, settings,
                cache_key(persona.version, brief_hash, settings.model, settings.params()))


@dataclass
class PanelPlan:
    """One brief's panel: who sits, which pairs to ask, and (for a re-run) which verdicts stay."""

    brief: ToolBrief
    brief_hash: str
    seated: list[str]
    pairs: list[Pair]
    kept: dict[str, PersonaResult] = field(default_factory=dict)  # persona -> verdict carried over
    previous: dict[str, dict] = field(default_factory=dict)  # persona -> its verdicts row before a re-run

    @property
    def slug(self) -> str:
        return self.brief.slug


def seated_personas(brief: ToolBrief, personas: dict[str, Persona], only: list[str] | None,
                    source: str | None = None) -> list[str]:
    """Who sits on this brief's panel: the brief's own list (or everyone), cut to --personas.
    `source` names the brief in an error (its file, when it came from one)."""
    seated = list(brief.panel) if brief.panel else list(personas)
    for name in seated:
        if name not in personas:
            where = source or f"brief '{brief.slug}'"
            raise PersonaError(f"{where}: panel: unknown persona '{name}' (known: {', '.join(personas)})")
    if only:
        seated = [name for name in seated if name in only]
    return seated


def plan_review(briefs: list[ToolBrief], personas: dict[str, Persona], options: ReviewOptions,
                sources: dict[str, str] | None = None) -> list[PanelPlan]:
    """A plan per brief, or the reason the batch is bad input (found before anything is written).
    `sources` maps a slug to the file it came from, for error messages."""
    if not briefs:
        raise PanelError("no briefs given")
    if not 1 <= options.samples <= MAX_SAMPLES:
        raise PanelError(f"--samples must be between 1 and {MAX_SAMPLES}, not {options.samples}")
    slugs = [brief.slug for brief in briefs]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise PanelError(f"duplicate slug in this batch: {', '.join(duplicates)}")
    for name in options.only_personas or []:
        if name not in personas:
            raise PersonaError(f"--personas: unknown persona '{name}' (known: {', '.join(personas)})")
    plans = []
    for brief in briefs:
        seated = seated_personas(brief, personas, options.only_personas, (sources or {}).get(brief.slug))
        if not seated:
            raise PanelError(f"brief '{brief.slug}': no persona left to seat with --personas")
        digest = brief.content_hash()
        pairs = [make_pair(personas[name], brief, digest, options.settings_for(personas[name], sample=k))
                 for name in seated for k in range(options.samples)]
        plans.append(PanelPlan(brief=brief, brief_hash=digest, seated=seated, pairs=pairs))
    return plans


def check_plan_models(plans: list[PanelPlan], router: str | None = None) -> None:
    """Fail before anything is written when a model of the plan cannot work at all (e.g. a missing GGUF).
    With --router FILE the file is checked too, and a model it serves (an alias) is checked through
    its deployments instead of as a litellm model string."""
    models = sorted({(pair.settings.model, pair.settings.api_base or "") for plan in plans for pair in plan.pairs})
    served = check_router(router, [model for model, _ in models])
    for model, api_base in models:
        if model not in served:
            check_model(model, api_base or None)


# --- re-runs --------------------------------------------------------------------------------------


@dataclass
class RerunRequest:
    """What `panel rerun` asks for; the model settings are ordinary ReviewOptions (`options.model`
    is --model for every re-run pair; `options.default_model` serves a pair with no old verdict)."""

    changed: bool = False
    persona: str | None = None
    slug: str | None = None
    options: ReviewOptions = field(default_factory=lambda: ReviewOptions(command="rerun"))

    def check(self, personas: dict[str, Persona]) -> None:
        """What is bad input before the store is even opened."""
        if not self.changed and not self.persona:
            raise RerunError("say what to re-run: --changed, or --persona NAME")
        if self.persona and self.persona not in personas:
            raise PersonaError(f"--persona: unknown persona '{self.persona}' (known: {', '.join(personas)})")


def plan_rerun(db, personas: dict[str, Persona], request: RerunRequest) -> list[PanelPlan]:
    """The briefs to re-run and who re-runs on each; raises RerunError on bad input.

    - The brief is the stored content its newest current verdict judged, not today's file in
      tool_briefs/ (an edited brief is a job for `panel review`).
    - The model is the one behind the old verdict, unless --model is given or the persona file's
      own `model:` setting is what changed.
    - The new panel is complete: the re-run personas' new verdicts plus the other seated personas'
      current verdicts, carried over. "Before" is the same seating with the old verdicts, so the
      panel % difference comes from the re-run alone.
    With --changed, briefs where nothing changed are left out (the list may be empty)."""
    request.check(personas)
    slugs = sorted({row["slug"] for row in queries.current_verdicts(db)})
    if not slugs:
        raise RerunError("nothing stored yet: run `panel review` first")
    if request.slug:
        if request.slug not in slugs:
            raise RerunError(f"--brief: no stored panel for '{request.slug}'; run `panel review {request.slug}` first")
        slugs = [request.slug]
    plans = [_plan_rerun_brief(db, slug, personas, request) for slug in slugs]
    if request.persona and not request.changed and not any(p.pairs for p in plans):
        where = f"the panel of '{request.slug}'" if request.slug else "any stored panel"
        raise RerunError(f"persona '{request.persona}' does not sit on {where}")
    return [p for p in plans if p.pairs]


def _plan_rerun_brief(db, slug: str, personas: dict[str, Persona], request: RerunRequest) -> PanelPlan:
    old = {row["persona"]: row for row in queries.current_verdicts(db, slug)}
    brief_hash = max(old.values(), key=lambda row: row["id"])["brief_hash"]  # the newest verdict's brief
    brief = _stored_brief(db, slug, brief_hash)
    names = [name for name in (brief.panel or list(personas)) if name in personas]  # those that still exist
    if request.changed:
        targets = [name for name in names if name in old and old[name]["persona_version"] != personas[name].version
                   and request.persona in (None, name)]
    else:
        targets = [request.persona] if request.persona in names else []
    # Personas that never judged this brief stay off its panel unless they are being run now.
    seated = [name for name in names if name in old or name in targets]
    own_models = queries.persona_fields(db, {row["persona_version"] for row in old.values()})
    pairs = [
        make_pair(personas[name], brief, brief_hash, request.options.settings_for(
            personas[name], _rerun_model(request, personas[name], old, own_models)))
        for name in targets
    ]
    kept = {name: PersonaResult.from_row(old[name], cached=True) for name in seated if name not in targets}
    return PanelPlan(brief=brief, brief_hash=brief_hash, seated=seated, pairs=pairs, kept=kept, previous=old)


def _stored_brief(db, slug: str, brief_hash: str) -> ToolBrief:
    from pydantic import ValidationError

    data = queries.brief_json(db, brief_hash)
    if data is None:
        raise RerunError(f"'{slug}': the brief behind its latest panel is missing from the store")
    try:
        return ToolBrief.model_validate(data)
    except ValidationError as exc:
        raise RerunError(f"'{slug}': the stored brief no longer validates ({exc.error_count()} problem(s)); "
                         f"run `panel review {slug}` instead") from None


def _rerun_model(request: RerunRequest, persona: Persona, old: dict[str, dict], stored: dict[str, dict]) -> str:
    """The model for one re-run pair: --model; else the old verdict's model, unless the edit
    changed the persona's own `model:` setting; for a first verdict, the persona's own model or
    the one the rest of the panel used."""
    if request.options.model:
        return request.options.model
    own = persona.spec.model
    previous = old.get(persona.name)
    if previous is None:
        others = sorted(old.values(), key=lambda row: row["id"], reverse=True)
        return own or (others[0]["model"] if others else request.options.default_model)
    if own and own != stored.get(previous["persona_version"], {}).get("model"):
        return own
    return previous["model"]
