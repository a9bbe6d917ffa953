"""Re-runs: which personas to ask again after their prompts changed, on which briefs, with which
model; the rest of each panel is carried over, so a panel's before and after differ only by what
was re-run (panel.review.flips reports the difference)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.brief import ToolBrief
from ..core.errors import PersonaError, RerunError
from ..core.verdict import PersonaResult
from ..inputs.personas import Persona
from ..store import queries
from .plan import PanelPlan, ReviewOptions, make_job


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
    if request.persona and not request.changed and not any(p.jobs for p in plans):
        where = f"the panel of '{request.slug}'" if request.slug else "any stored panel"
        raise RerunError(f"persona '{request.persona}' does not sit on {where}")
    return [p for p in plans if p.jobs]


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
    jobs = [
        make_job(personas[name], brief, brief_hash, request.options.settings_for(
            personas[name], _rerun_model(request, personas[name], old, own_models)))
        for name in targets
    ]
    kept = {name: PersonaResult.from_row(old[name], cached=True) for name in seated if name not in targets}
    return PanelPlan(brief=brief, brief_hash=brief_hash, seated=seated, jobs=jobs, kept=kept, previous=old)


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
