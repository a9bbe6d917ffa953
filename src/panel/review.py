"""A batch review: many briefs, each through the review graph, sharing one model seam and store.

`BatchReview.review_persona` is the step every persona node takes: look for a stored `ok`
verdict with the same cache key; otherwise render the prompt, call the model, store the result.
"""

from __future__ import annotations

import asyncio
import math
import os
from dataclasses import dataclass, field
from typing import Callable

from .aggregate import PanelResult, aggregate
from .briefs import ToolBrief
from .errors import PanelError, PersonaError
from .llm import DEFAULT_MODEL, DEFAULT_TIMEOUT_S, ModelSeam, ModelSettings, check_model
from .personas import Persona, render_messages
from .store import Store, cache_key, result_from_row
from .verdict import PersonaResult


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

    def model_for(self, persona_model: str | None) -> str:
        return self.model or persona_model or self.default_model

    @property
    def label(self) -> str:
        return self.model or self.default_model


@dataclass
class ReviewOutcome:
    run_id: int
    panels: list[PanelResult]
    calls_made: int = 0
    calls_reused: int = 0
    budget_skipped: int = 0  # calls not started because --max-cost would have been passed

    @property
    def complete(self) -> bool:
        return all(p.complete for p in self.panels)


def seated_personas(brief: ToolBrief, personas: dict[str, Persona], only: list[str] | None) -> list[str]:
    """Who sits on this brief's panel: the brief's own list (or everyone), cut to --personas."""
    seated = list(brief.panel) if brief.panel else list(personas)
    for name in seated:
        if name not in personas:
            raise PersonaError(f"brief '{brief.slug}': panel names unknown persona '{name}'")
    if only:
        seated = [name for name in seated if name in only]
    return seated


def check_batch(briefs: list[ToolBrief], personas: dict[str, Persona], only: list[str] | None) -> None:
    """Everything that makes the batch bad input, found before anything is written."""
    if not briefs:
        raise PanelError("no briefs given")
    seen: dict[str, int] = {}
    for brief in briefs:
        seen[brief.slug] = seen.get(brief.slug, 0) + 1
    duplicates = sorted(slug for slug, n in seen.items() if n > 1)
    if duplicates:
        raise PanelError(f"duplicate slug in this batch: {', '.join(duplicates)}")
    for name in only or []:
        if name not in personas:
            raise PersonaError(f"--personas: unknown persona '{name}' (known: {', '.join(personas)})")
    for brief in briefs:
        if not seated_personas(brief, personas, only):
            raise PanelError(f"brief '{brief.slug}': no persona left to seat with --personas")


def check_models(options: ReviewOptions, personas: dict[str, Persona]) -> None:
    """Fail before anything is written when a model cannot work at all (e.g. a missing GGUF)."""
    for model in sorted({options.model_for(p.spec.model) for p in personas.values()}):
        check_model(model)


@dataclass
class BatchReview:
    store: Store
    personas: dict[str, Persona]
    options: ReviewOptions
    seam: ModelSeam
    run_id: int = 0
    on_result: Callable[[str, PersonaResult], None] | None = None
    _cached: dict[str, dict] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)

    def settings_for(self, persona: Persona) -> ModelSettings:
        spec = persona.spec
        return ModelSettings(
            model=self.options.model_for(spec.model),
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
            api_base=self.options.api_base,
            timeout=self.options.timeout,
        )

    def key_for(self, persona: Persona, brief_hash: str) -> str:
        settings = self.settings_for(persona)
        return cache_key(persona.version, brief_hash, settings.model, settings.params())

    def preload_cache(self, briefs: list[ToolBrief]) -> None:
        """One query for every pair in the batch, instead of one per node."""
        if self.options.fresh:
            return
        keys = [
            self.key_for(self.personas[name], self._hashes[b.slug])
            for b in briefs
            for name in seated_personas(b, self.personas, self.options.only_personas)
        ]
        self._cached = self.store.find_cached(keys)

    async def review_persona(self, name: str, brief: ToolBrief) -> PersonaResult:
        persona = self.personas[name]
        brief_hash = self._hashes[brief.slug]
        key = self.key_for(persona, brief_hash)
        row = self._cached.get(key)
        if row is not None:
            result = result_from_row(row, cached=True)
        else:
            settings = self.settings_for(persona)
            call = await self.seam.review(settings, name, persona.version, render_messages(persona, brief))
            verdict_id = self.store.record_call(self.run_id, brief.slug, brief_hash, key, settings.params(), call)
            result = PersonaResult(
                persona=name,
                persona_version=persona.version,
                model=settings.model,
                status=call.status,
                verdict=call.verdict,
                raw=call.raw,
                error=call.error,
                cached=False,
                verdict_id=verdict_id,
            )
        if self.on_result:
            self.on_result(brief.slug, result)
        return result

    async def run(self, briefs: list[ToolBrief]) -> ReviewOutcome:
        for brief in briefs:
            self._hashes[brief.slug] = self.store.save_brief(brief)
        for persona in self.personas.values():
            self.store.save_persona_version(persona)
        self.preload_cache(briefs)
        self.run_id = self.store.start_run(
            self.options.command, self.options.label, [b.slug for b in briefs], self.options.concurrency
        )
        status = "interrupted"
        try:
            # Briefs in flight are capped too (the model semaphore alone would let every brief's
            # graph start at once, holding rendered prompts and graph state for the whole batch).
            # `concurrency` briefs keep `concurrency` call slots busy with seats to spare.
            window = asyncio.Semaphore(max(1, self.options.concurrency))

            async def review_in_window(brief: ToolBrief) -> PanelResult:
                async with window:
                    return await self._review_brief(brief)

            panels = await asyncio.gather(*(review_in_window(b) for b in briefs))
            status = "complete" if all(p.complete for p in panels) else "partial"
        finally:
            self.store.finish_run(self.run_id, status)
        made = sum(1 for p in panels for r in p.results if not r.cached)
        return ReviewOutcome(self.run_id, list(panels), calls_made=made, calls_reused=sum(
            1 for p in panels for r in p.results if r.cached))

    async def _review_brief(self, brief: ToolBrief) -> PanelResult:
        seated = seated_personas(brief, self.personas, self.options.only_personas)
        if self._all_stored(brief, seated):
            # Every seat has a stored verdict, so the graph would only look them up; skipping it
            # saves ~2 ms per brief, and a batch with nothing to do never imports langgraph (~1 s).
            results = [await self.review_persona(name, brief) for name in seated]
            panel = aggregate(brief.slug, self._hashes[brief.slug], seated, results)
        else:
            from .graph import graph

            state = await graph.ainvoke({"brief": brief, "seated": seated, "results": []}, context=self)
            panel = state["panel"]
        self.store.record_panel(self.run_id, panel)
        return panel

    def _all_stored(self, brief: ToolBrief, seated: list[str]) -> bool:
        brief_hash = self._hashes[brief.slug]
        return all(self.key_for(self.personas[name], brief_hash) in self._cached for name in seated)


async def run_review(
    briefs: list[ToolBrief],
    personas: dict[str, Persona],
    store: Store,
    options: ReviewOptions,
    on_result: Callable[[str, PersonaResult], None] | None = None,
) -> ReviewOutcome:
    check_batch(briefs, personas, options.only_personas)
    check_models(options, personas)
    seam = ModelSeam(concurrency=options.concurrency, max_cost=options.max_cost)
    batch = BatchReview(store=store, personas=personas, options=options, seam=seam, on_result=on_result)
    outcome = await batch.run(briefs)
    outcome.budget_skipped = seam.budget_skipped
    return outcome
