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
from ..core.defaults import DEFAULT_CONCURRENCY, DEFAULT_MODEL, DEFAULT_TIMEOUT_S, MAX_SAMPLES
from ..core.errors import PanelError, PersonaError
from ..core.panel import PanelResult, aggregate
from ..core.suggest import did_you_mean
from ..core.vendors import conflict
from ..core.verdict import RECUSED, Juror, PersonaResult, Verdict
from ..inputs.operator import operator
from ..inputs.personas import Persona, check_panel, render_messages
from ..models.seam import ModelSettings


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
    concurrency: int = DEFAULT_CONCURRENCY
    fresh: bool = False
    only_personas: list[str] | None = None  # --personas: restrict every panel to these
    max_cost: float | None = None
    command: str = "review"
    timeout: float = field(default_factory=timeout_from_env)  # per request, seconds
    samples: int = 1  # --samples K: independent answers per seat, decided by majority
    jury: list[str] | None = None  # --jury m1,m2,m3: every seat held by these models, decided by majority
    router: str | None = None  # --router FILE: a LiteLLM Router model_list serving some model names
    workers: int | None = None  # --workers N: processes making remote calls (None: one per core; 0: none)
    operator: str = field(default_factory=operator)  # who ran it: PANEL_EDITOR, else the OS user

    def model_for(self, persona_model: str | None) -> str:
        return self.model or persona_model or self.default_model

    def jury_for(self, spec) -> list[str] | None:
        """The models holding a persona's seat, when a jury does: --jury, else (unless --model says
        one model for every seat) the persona file's `models:`. None: one model."""
        if self.jury:
            return self.jury
        return None if self.model else spec.models

    @property
    def label(self) -> str:
        if self.jury:
            return "jury: " + ", ".join(self.jury)
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
class VerdictJob:
    """One persona asked about one brief (a panel.review.job.Job), with everything decided: its
    settings and cache key."""

    persona: Persona
    brief: ToolBrief
    brief_hash: str
    settings: ModelSettings
    key: str
    table = "verdicts"
    answer = Verdict
    calibrated = True  # on the embedded model, its ship/skip decision is calibrated (models.local.calibrate)

    @property
    def name(self) -> str:
        return self.persona.name

    @property
    def group(self) -> str:
        return self.brief.slug

    def messages(self) -> list[dict]:
        return render_messages(self.persona, self.brief, self.brief_hash)

    def call_columns(self) -> dict:
        return {"slug": self.brief.slug, "brief_hash": self.brief_hash}

    def answer_columns(self, answer: Verdict | None) -> dict:
        return {"slug": self.brief.slug, "brief_hash": self.brief_hash, **(answer.to_columns() if answer else {})}

    def stored(self, row: dict) -> PersonaResult:
        return PersonaResult.from_row(row, cached=True)

    def answered(self, call, answer_id: int) -> PersonaResult:
        return PersonaResult(persona=self.name, persona_version=self.persona.version, model=self.settings.model,
                             status=call.status, verdict=call.answer, raw=call.raw, error=call.error,
                             cached=False, verdict_id=answer_id)


def make_job(persona: Persona, brief: ToolBrief, brief_hash: str, settings: ModelSettings) -> VerdictJob:
    return VerdictJob(persona, brief, brief_hash, settings,
                      cache_key(persona.version, brief_hash, settings.model, settings.params()))


@dataclass
class PanelPlan:
    """One brief's panel (a panel.review.job.Plan): who sits, which jobs to ask, and (for a re-run)
    which verdicts stay."""

    brief: ToolBrief
    brief_hash: str
    seated: list[str]
    jobs: list[VerdictJob]
    kept: dict[str, PersonaResult] = field(default_factory=dict)  # persona -> verdict carried over
    previous: dict[str, dict] = field(default_factory=dict)  # persona -> its verdicts row before a re-run
    recused: dict[str, list[str]] = field(default_factory=dict)  # persona -> jurors left out (their vendor's tool)

    @property
    def slug(self) -> str:
        return self.brief.slug

    def briefs(self) -> dict[str, ToolBrief]:
        return {self.brief_hash: self.brief}

    def tally(self, results: list[PersonaResult]) -> PanelResult:
        """The brief's panel, aggregated from its seats' results; a jury seat lists its recused jurors."""
        panel = aggregate(self.slug, self.brief_hash, self.seated, results)
        for seat in panel.results:
            left_out = self.recused.get(seat.persona)
            if left_out:
                votes = seat.jurors or [Juror(seat.model, seat.decision if seat.status == "ok" else None,
                                              seat.verdict_id)]
                seat.jurors = votes + [Juror(model, RECUSED) for model in left_out]
        return panel

    def finish(self, results: list[PersonaResult], store, run_id: int) -> PanelResult:
        """The brief's panel, recorded."""
        panel = self.tally(results)
        store.record_panel(run_id, panel)
        return panel

    def file(self, outcome, finished: PanelResult) -> None:
        outcome.panels.append(finished)


def seated_personas(brief: ToolBrief, personas: dict[str, Persona], only: list[str] | None,
                    source: str | None = None) -> list[str]:
    """Who sits on this brief's panel: the brief's own list (or everyone), cut to --personas.
    `source` names the brief in an error (its file, when it came from one)."""
    check_panel(brief, list(personas), source)
    seated = list(brief.panel) if brief.panel else list(personas)
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
    if options.jury and options.model:
        raise PanelError("--jury and --model both name the models: give one of them")
    check_jury(options.jury, options)
    for persona in personas.values():
        if not options.jury and not options.model:
            check_jury(persona.spec.models, options)
    slugs = [brief.slug for brief in briefs]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise PanelError(f"duplicate slug in this batch: {', '.join(duplicates)}")
    for name in options.only_personas or []:
        if name not in personas:
            raise PersonaError(f"--personas: unknown persona '{name}'{did_you_mean(name, personas)}"
                               f" (known: {', '.join(personas)})")
    plans = []
    for brief in briefs:
        seated = seated_personas(brief, personas, options.only_personas, (sources or {}).get(brief.slug))
        if not seated:
            raise PanelError(f"brief '{brief.slug}': no persona left to seat with --personas")
        digest = brief.content_hash()
        plan = PanelPlan(brief=brief, brief_hash=digest, seated=seated, jobs=[])
        for name in seated:
            plan.jobs += seat_jobs(plan, personas[name], options)
        plans.append(plan)
    return plans


def seat_jobs(plan: PanelPlan, persona: Persona, options: ReviewOptions) -> list[VerdictJob]:
    """The questions one seat asks: one model (K times with --samples), or each juror of its jury
    once, but for a juror whose vendor makes the tool (recused: recorded on the plan). A seat whose
    every juror is recused is held by the first of them, its conflict shown as any other's."""
    brief, digest = plan.brief, plan.brief_hash
    jury = options.jury_for(persona.spec)
    if not jury:
        return [make_job(persona, brief, digest, options.settings_for(persona, sample=k))
                for k in range(options.samples)]
    sitting = [model for model in jury if not conflict(model, brief.vendor)] or jury[:1]
    if len(sitting) < len(jury):
        plan.recused[persona.name] = [model for model in jury if model not in sitting]
    return [make_job(persona, brief, digest, options.settings_for(persona, model=model)) for model in sitting]


def check_jury(jury: list[str] | None, options: ReviewOptions) -> None:
    """A jury is two or more different models, and is not combined with --model or --samples."""
    if not jury:
        return
    if len(jury) < 2 or len(set(jury)) != len(jury):
        raise PanelError(f"a jury needs two or more different models, not {', '.join(jury)}")
    if options.samples > 1:
        raise PanelError("--samples and a jury do not combine: a jury already asks several answers per seat")
