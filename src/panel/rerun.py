"""Re-running personas after a prompt edit, and only those.

A re-run is a review: it goes through the same graph, model seam, cache and store, records a
run and a new panel per brief, and so appears in the audit like any other run. What differs is
who gets asked:

- `--changed`: for each brief with a stored panel, the seated personas whose current version
  (personas/<name>.yaml and its templates, as on disk now) differs from the version behind
  their latest verdict on that brief. Everyone else makes no model call.
- `--persona P`: that persona on every brief whose panel seats it (or on `--brief SLUG`), from
  the store when version, brief and model are unchanged unless `--fresh`.

Choices that keep the flip report about the prompt and nothing else:
- The brief is the stored content the latest panel judged, not today's file in tool_briefs/
  (an edited brief is a job for `panel review`).
- The model is the one behind the old verdict, unless `--model` is given or the persona file's
  own `model:` setting is what changed.
- The new panel is complete: the re-run personas' new verdicts plus the other seated personas'
  latest verdicts, carried over (stored as reused panel members). "Before" is the same seating
  with the old verdicts, so the panel % difference comes from the re-run alone.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Callable

import yaml

from .aggregate import PanelResult
from .audit import latest_brief_hash, latest_verdicts, stored_slugs
from .briefs import ToolBrief
from .errors import PanelError, PersonaError
from .flips import BriefChange, Change, FlipReport, classify
from .graph import graph
from .llm import DEFAULT_MODEL, ModelSeam, check_model
from .personas import Persona
from .review import BatchReview, ReviewOptions, ReviewOutcome
from .store import Store, result_from_row
from .verdict import PersonaResult


class RerunError(PanelError):
    """A re-run that cannot start: nothing stored, unknown persona or brief, wrong seating."""


@dataclass
class RerunRequest:
    changed: bool = False
    persona: str | None = None
    slug: str | None = None
    model: str | None = None  # --model: every re-run pair uses it
    default_model: str = DEFAULT_MODEL  # for a pair with no old verdict and no model of its own
    api_base: str | None = None
    concurrency: int = 8
    fresh: bool = False
    max_cost: float | None = None
    command: str = "rerun"

    def check(self, personas: dict[str, Persona]) -> None:
        """What is bad input before the store is even opened."""
        if not self.changed and not self.persona:
            raise RerunError("say what to re-run: --changed, or --persona NAME")
        if self.persona and self.persona not in personas:
            raise PersonaError(f"--persona: unknown persona '{self.persona}' (known: {', '.join(personas)})")


@dataclass
class BriefPlan:
    """Who re-runs on one brief, with which model, and what the panel looked like before."""

    slug: str
    brief: ToolBrief
    brief_hash: str
    seated: list[str]
    old: dict[str, dict]  # persona -> the verdicts row in its latest panel on this brief
    targets: list[str]
    models: dict[str, str] = field(default_factory=dict)  # target persona -> model

    def before(self) -> PanelResult:
        results = [result_from_row(self.old[name], cached=True) for name in self.seated if name in self.old]
        return PanelResult(slug=self.slug, brief_hash=self.brief_hash, seated=list(self.seated), results=results)


@dataclass
class RerunOutcome:
    review: ReviewOutcome
    plans: list[BriefPlan]
    report: FlipReport

    @property
    def complete(self) -> bool:
        return self.review.complete

    def to_json(self) -> dict:
        changes = self.report.changes
        return {
            "run_id": self.review.run_id,
            "calls_made": sum(1 for c in changes if not c.new.cached),
            "reused_from_store": sum(1 for c in changes if c.new.cached),
            "verdicts_kept": sum(len(p.seated) - len(p.targets) for p in self.plans),
            **self.report.to_json(),
        }


# --- planning ----------------------------------------------------------------------------------------


def plan_rerun(store: Store, personas: dict[str, Persona], request: RerunRequest) -> list[BriefPlan]:
    """The briefs to re-run and who re-runs on each; raises RerunError on bad input.

    With --changed, briefs where nothing changed are left out (the list may be empty)."""
    request.check(personas)
    slugs = stored_slugs(store.db)
    if not slugs:
        raise RerunError("nothing stored yet: run `panel review` first")
    if request.slug:
        if request.slug not in slugs:
            raise RerunError(f"--brief: no stored panel for '{request.slug}'; run `panel review {request.slug}` first")
        slugs = [request.slug]
    plans = [plan_brief(store, slug, personas, request) for slug in slugs]
    if request.persona and not request.changed and not any(p.targets for p in plans):
        where = f"the panel of '{request.slug}'" if request.slug else "any stored panel"
        raise RerunError(f"persona '{request.persona}' does not sit on {where}")
    return [p for p in plans if p.targets]


def plan_brief(store: Store, slug: str, personas: dict[str, Persona], request: RerunRequest) -> BriefPlan:
    brief_hash = latest_brief_hash(store.db, slug)
    brief = stored_brief(store, slug, brief_hash)
    old = {row["persona"]: row for row in latest_verdicts(store.db, slug)}
    # The seating of the stored brief, among the personas that still exist.
    names = [name for name in (brief.panel or list(personas)) if name in personas]
    if request.changed:
        targets = [
            name for name in names
            if name in old and old[name]["persona_version"] != personas[name].version
            and request.persona in (None, name)
        ]
    else:
        targets = [request.persona] if request.persona in names else []
    # Personas that never judged this brief stay off its panel unless they are being run now.
    seated = [name for name in names if name in old or name in targets]
    plan = BriefPlan(slug=slug, brief=brief, brief_hash=brief_hash, seated=seated, old=old, targets=targets)
    plan.models = {name: pair_model(store, request, personas[name], plan) for name in targets}
    return plan


def stored_brief(store: Store, slug: str, brief_hash: str) -> ToolBrief:
    from pydantic import ValidationError

    data = store.brief_json(brief_hash)
    if data is None:
        raise RerunError(f"'{slug}': the brief behind its latest panel is missing from the store")
    try:
        return ToolBrief.model_validate(data)
    except ValidationError as exc:
        raise RerunError(f"'{slug}': the stored brief no longer validates ({exc.error_count()} problem(s)); "
                         f"run `panel review {slug}` instead") from None


def pair_model(store: Store, request: RerunRequest, persona: Persona, plan: BriefPlan) -> str:
    """The model for one re-run pair: --model; else the old verdict's model, unless the edit
    changed the persona's own `model:` setting; for a first verdict, the persona's own model or
    the one the rest of the panel used."""
    if request.model:
        return request.model
    own = persona.spec.model
    old = plan.old.get(persona.name)
    if old is None:
        others = sorted(plan.old.values(), key=lambda row: row["id"], reverse=True)
        return own or (others[0]["model"] if others else request.default_model)
    if own and own != stored_spec_model(store, old["persona_version"]):
        return own
    return old["model"]


def stored_spec_model(store: Store, version: str) -> str | None:
    row = store.db.execute("SELECT file_text FROM persona_versions WHERE version = ?", [version]).fetchone()
    try:
        data = yaml.safe_load(row[0]) if row else None
    except yaml.YAMLError:
        return None
    return data.get("model") if isinstance(data, dict) else None


# --- running -----------------------------------------------------------------------------------------

# The model of the pair being reviewed. BatchReview asks `settings_for(persona)` without saying
# which brief; a context variable carries the pair's model down that call without changing the
# shared review code. Each graph node runs in its own asyncio task with its own copy of the context,
# so concurrent pairs never see each other's model.
_PAIR_MODEL: ContextVar[str | None] = ContextVar("panel_rerun_pair_model", default=None)


@contextlib.contextmanager
def _pair_model(model: str):
    token = _PAIR_MODEL.set(model)
    try:
        yield
    finally:
        _PAIR_MODEL.reset(token)


@dataclass
class RerunBatch(BatchReview):
    """A BatchReview that seats each brief's planned panel, asks the model only for the planned
    pairs, and carries every other seated persona's latest verdict over unchanged."""

    plans: dict[str, BriefPlan] = field(default_factory=dict)

    def settings_for(self, persona: Persona):
        settings = super().settings_for(persona)
        model = _PAIR_MODEL.get()
        return replace(settings, model=model) if model else settings

    def preload_cache(self, briefs: list[ToolBrief]) -> None:
        if self.options.fresh:
            return
        keys = []
        for brief in briefs:
            plan = self.plans[brief.slug]
            for name in plan.targets:
                with _pair_model(plan.models[name]):
                    keys.append(self.key_for(self.personas[name], self._hashes[brief.slug]))
        self._cached = self.store.find_cached(keys)

    async def review_persona(self, name: str, brief: ToolBrief) -> PersonaResult:
        plan = self.plans[brief.slug]
        if name not in plan.targets:
            result = result_from_row(plan.old[name], cached=True)
            if self.on_result:
                self.on_result(brief.slug, result)
            return result
        with _pair_model(plan.models[name]):
            return await super().review_persona(name, brief)

    async def _review_brief(self, brief: ToolBrief) -> PanelResult:
        # As BatchReview._review_brief, with the planned seating instead of the brief's own.
        plan = self.plans[brief.slug]
        state = await graph.ainvoke({"brief": brief, "seated": plan.seated, "results": []}, context=self)
        panel: PanelResult = state["panel"]
        self.store.record_panel(self.run_id, panel)
        return panel


async def run_rerun(
    store: Store,
    personas: dict[str, Persona],
    plans: list[BriefPlan],
    request: RerunRequest,
    on_result: Callable[[str, PersonaResult], None] | None = None,
) -> RerunOutcome:
    """Run the planned pairs as one recorded run and compare each with its old verdict."""
    models = sorted({model for plan in plans for model in plan.models.values()})
    for model in models:
        check_model(model)  # fail before anything is written
    seam = ModelSeam(concurrency=request.concurrency, max_cost=request.max_cost)
    options = ReviewOptions(
        model=None,
        # Only the run's label: RerunBatch sets each pair's model itself.
        default_model=", ".join(models),
        api_base=request.api_base,
        concurrency=request.concurrency,
        fresh=request.fresh,
        max_cost=request.max_cost,
        command=request.command,
    )
    batch = RerunBatch(
        store=store, personas=personas, options=options, seam=seam, on_result=on_result,
        plans={plan.slug: plan for plan in plans},
    )
    outcome = await batch.run([plan.brief for plan in plans])
    outcome.budget_skipped = seam.budget_skipped
    return RerunOutcome(review=outcome, plans=plans, report=flip_report(plans, outcome))


def flip_report(plans: list[BriefPlan], outcome: ReviewOutcome) -> FlipReport:
    report = FlipReport()
    panels = {panel.slug: panel for panel in outcome.panels}
    for plan in plans:
        after = panels[plan.slug]
        results = {r.persona: r for r in after.results}
        for name in plan.seated:
            if name in plan.targets:
                old = plan.old.get(name)
                report.changes.append(Change(plan.slug, name, classify(old, results[name]), old, results[name]))
        report.briefs.append(BriefChange(plan.slug, plan.before(), after))
    return report
