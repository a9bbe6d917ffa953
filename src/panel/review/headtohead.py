"""Planning head-to-head judgments: for each pair of tools, each persona seated on both panels is
asked to pick one, in both orders (and, with --blind, again with the brands masked). Like a review
pair, each judgment is planned once, with its model settings and cache key.

The cache key covers the persona version, the head-to-head templates, both brief hashes in the
order shown, blind or named, the model and its sampling settings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import combinations

from ..core.brief import ToolBrief
from ..core.errors import CompareError, ModelConfigError
from ..core.judgment import Judgment, JudgmentResult, MatchResult
from ..core.vendors import conflict
from ..inputs.headtohead_prompts import masked, render_judgment_messages
from ..inputs.personas import Persona
from ..models.seam import ModelSettings
from ..store import queries
from ..store import stored_panels
from .plan import PanelPlan, ReviewOptions, cache_key, plan_review, seated_personas


@dataclass(frozen=True)
class JudgmentJob:
    """One persona asked to judge one ordering of two tools (a panel.review.job.Job)."""

    persona: Persona
    first: ToolBrief  # as shown (masked when blind)
    second: ToolBrief
    first_slug: str  # the real tools
    second_slug: str
    first_hash: str
    second_hash: str
    blind: bool
    prompt_version: str
    settings: ModelSettings
    key: str
    match: str = ""  # the MatchPlan's slug ("a-vs-b" in the order the user named them)
    table = "judgments"
    answer = Judgment
    calibrated = False  # a pick is not a ship/skip decision: nothing to calibrate

    @property
    def name(self) -> str:
        return self.persona.name

    @property
    def group(self) -> str:
        return self.match

    def messages(self) -> list[dict]:
        return render_judgment_messages(self.persona, self.first, self.second)

    def call_columns(self) -> dict:
        return {"slug": f"{self.first_slug} vs {self.second_slug}", "brief_hash": self.first_hash, "kind": "judgment"}

    def answer_columns(self, answer: Judgment | None) -> dict:
        shown = {"prompt_version": self.prompt_version, "first_slug": self.first_slug,
                 "second_slug": self.second_slug, "first_hash": self.first_hash, "second_hash": self.second_hash,
                 "blind": int(self.blind)}
        return {**shown, **(answer.to_columns(self.first_slug, self.second_slug) if answer else {})}

    def _result(self, **outcome) -> JudgmentResult:
        return JudgmentResult(persona=self.name, persona_version=self.persona.version, model=self.settings.model,
                              first=self.first_slug, second=self.second_slug, blind=self.blind, **outcome)

    def stored(self, row: dict) -> JudgmentResult:
        judgment = Judgment.model_validate({k: row[k] for k in Judgment.model_fields})
        return self._result(status="ok", judgment=judgment, cached=True, judgment_id=row["id"])

    def answered(self, call, answer_id: int) -> JudgmentResult:
        return self._result(status=call.status, judgment=call.answer, error=call.error, judgment_id=answer_id)


@dataclass
class MatchPlan:
    """Every judgment of one pair of tools (a, b in the order the user named them): a
    panel.review.job.Plan."""

    a: ToolBrief
    b: ToolBrief
    a_hash: str
    b_hash: str
    seated: list[str]
    jobs: list[JudgmentJob]
    recused: list[str] = field(default_factory=list)  # personas left out for a vendor conflict
    kept: dict = field(default_factory=dict)  # nothing is carried over: every judgment is asked or reused

    @property
    def slug(self) -> str:
        return f"{self.a.slug}-vs-{self.b.slug}"

    def briefs(self) -> dict[str, ToolBrief]:
        return {self.a_hash: self.a, self.b_hash: self.b}

    def tally(self, results: list[JudgmentResult]) -> MatchResult:
        return MatchResult(self.slug, list(results))

    def finish(self, results: list[JudgmentResult], store, run_id: int) -> MatchResult:
        """The pair's judgments, kept for the comparison (which is recorded when its pages are written)."""
        return self.tally(results)

    def file(self, outcome, finished: MatchResult) -> None:
        outcome.matches[self.slug] = finished


def plan_matchups(briefs: list[ToolBrief], personas: dict[str, Persona], options: ReviewOptions,
                  prompt_version: str, *, blind: bool = False, model_for=None) -> list[MatchPlan]:
    """A plan per pair of tools. `model_for(persona, a, b)` may give a persona another model for a
    pair (a vendor conflict with --conflict-model), or None to recuse it."""
    plans = []
    for a, b in combinations(briefs, 2):
        hashes = {a.slug: a.content_hash(), b.slug: b.content_hash()}
        both = set(seated_personas(b, personas, options.only_personas))
        seated = [name for name in seated_personas(a, personas, options.only_personas) if name in both]
        plan = MatchPlan(a=a, b=b, a_hash=hashes[a.slug], b_hash=hashes[b.slug], seated=seated, jobs=[])
        # (first, second, as the first is shown, as the second is shown, masked): both orders, and
        # with --blind both orders again with the brands masked, labelled by position.
        orders = [(a, b, a, b, False), (b, a, b, a, False)]
        if blind:
            orders += [(x, y, masked(x, "A", y), masked(y, "B", x), True) for x, y in ((a, b), (b, a))]
        for name in seated:
            model = model_for(personas[name], a, b) if model_for else options.model_for(personas[name].spec.model)
            if model is None:
                plan.recused.append(name)
                continue
            settings = options.settings_for(personas[name], model)
            for first, second, first_shown, second_shown, masked_run in orders:
                plan.jobs.append(_judge(personas[name], first, second, first_shown, second_shown, hashes,
                                         masked_run, prompt_version, settings, plan.slug))
        plans.append(plan)
    return plans


def _judge(persona, first, second, first_shown, second_shown, hashes, blind, prompt_version, settings,
           match: str) -> JudgmentJob:
    key = cache_key(f"{persona.version}:{prompt_version}",
                    f"{hashes[first.slug]}|{hashes[second.slug]}|{'blind' if blind else 'named'}",
                    settings.model, settings.params())
    return JudgmentJob(persona=persona, first=first_shown, second=second_shown, first_slug=first.slug,
                     second_slug=second.slug, first_hash=hashes[first.slug], second_hash=hashes[second.slug],
                     blind=blind, prompt_version=prompt_version, settings=settings, key=key, match=match)


# --- the policies of a comparison: which model judges, and what a vendor conflict does -------------


@dataclass
class ComparisonPlan:
    """A comparison's batch: a MatchPlan per pair of tools, the panel seats reviewed again with
    --conflict-model (`seat_models`: tool -> persona -> the model its seat now uses), and the
    options the pairs are judged with."""

    matchups: list[MatchPlan]
    reviews: list[PanelPlan]
    briefs: list[ToolBrief]
    options: ReviewOptions
    seat_models: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def plans(self) -> list:
        return [*self.matchups, *self.reviews]


def check_conflict_flags(recuse: bool, conflict_model: str | None) -> None:
    if recuse and conflict_model:
        raise CompareError("--recuse leaves conflicted seats out and --conflict-model gives them another model:"
                           " choose one")


def plan_comparison(db, slugs: list[str], personas: dict[str, Persona], options: ReviewOptions,
                    prompt_version: str, *, blind: bool = False, recuse: bool = False,
                    conflict_model: str | None = None, panels: dict | None = None) -> ComparisonPlan:
    """Every pair of the tools judged on the briefs their current panels judged, by the model that
    wrote those panels (unless --model). A seat whose model is made by either tool's vendor is
    flagged (default), left out (`recuse`), or given `conflict_model` for both its judgments and a
    fresh review of that tool. `panels` (slug -> PanelResult: the published ones) replaces the
    current panels."""
    check_conflict_flags(recuse, conflict_model)
    panels = panels or {slug: stored_panels.current_panel(db, slug, options.model) for slug in slugs}
    briefs = [ToolBrief.model_validate(queries.brief_json(db, panels[s].brief_hash)) for s in slugs]
    judged = judged_by_the_panels_model(options, panels.values())
    if judged.model != options.model and not judged.api_base:
        check_endpoint_given(db, judged.model, panels.values())
    options = judged

    def model_for(persona: Persona, a: ToolBrief, b: ToolBrief) -> str | None:
        own = options.model_for(persona.spec.model)
        if not (conflict(own, a.vendor) or conflict(own, b.vendor)):
            return own
        return None if recuse else (conflict_model or own)

    found = ComparisonPlan(plan_matchups(briefs, personas, options, prompt_version, blind=blind,
                                         model_for=model_for), [], briefs, options)
    if conflict_model and not recuse:  # the conflicted panel seats, reviewed again with the other model
        for brief in briefs:
            flagged = [r.persona for r in panels[brief.slug].results
                       if r.status == "ok" and conflict(r.model, brief.vendor) and r.persona in personas]
            if flagged:
                found.seat_models[brief.slug] = {name: conflict_model for name in flagged}
                found.reviews += plan_review([brief], personas, replace(options, model=conflict_model,
                                                                        only_personas=flagged))
    return found


def check_endpoint_given(db, model: str, panels) -> None:
    """The panels' model answered at an endpoint (--api-base) and none is given now: say so, rather
    than let the judgments go to the provider's default address (or ask for its key)."""
    ids = [r.verdict_id for p in panels for r in p.results if r.status == "ok" and r.model == model]
    endpoints = queries.verdict_endpoints(db, ids) if ids else []
    if endpoints:
        raise ModelConfigError(f"the panels were written by '{model}' at {', '.join(endpoints)}; to judge the pair"
                               f" with it, pass --api-base {endpoints[0]} (or set PANEL_API_BASE), or choose"
                               " another --model")


def judged_by_the_panels_model(options: ReviewOptions, panels) -> ReviewOptions:
    """Without --model, the pair is judged by the model that wrote most of the panels' answered
    verdicts (the first tool's on a tie), not by the default: a comparison of panels written by
    openai/gpt-4o-mini is judged by it too, rather than by the embedded model."""
    if options.model is not None:
        return options
    used = Counter(r.model for p in panels for r in p.results if r.status == "ok")
    return replace(options, model=used.most_common(1)[0][0]) if used else options
