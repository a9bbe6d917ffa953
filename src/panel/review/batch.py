"""Running a planned batch: every panel through the review graph, sharing one model seam (one cap
on calls in flight) and one store, recorded as one run.

`Batch.review_pair` is the step every persona node takes: reuse the stored `ok` verdict with the
pair's cache key if there is one; otherwise render the prompt, call the model, store the result.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Callable

from ..core.brief import ToolBrief
from ..core.panel import PanelResult, aggregate
from ..core.judgment import Judgment, JudgmentResult
from ..core.verdict import PersonaResult
from ..inputs.compare_prompts import render_judgment_messages
from ..inputs.personas import Persona, render_messages
from ..models.router import load_router
from ..models.seam import ModelSeam
from ..models.workers import WorkerPool, workers_to_start
from ..store import queries
from ..store.store import Store
from .matchup import JudgePair, MatchPlan
from .plan import PanelPlan, ReviewOptions, check_plan_models, plan_review

OnResult = Callable[[str, PersonaResult], None]


@dataclass
class ReviewOutcome:
    run_id: int
    panels: list[PanelResult]
    calls_made: int = 0
    calls_reused: int = 0
    budget_skipped: int = 0  # calls not started because --max-cost would have been passed
    matches: dict[str, list[JudgmentResult]] = field(default_factory=dict)  # head-to-head: plan slug -> judgments
    workers: int = 0  # worker processes that made the remote calls (panel.models.workers)

    @property
    def complete(self) -> bool:
        return all(p.complete for p in self.panels) and all(_complete(m) for m in self.matches.values())


class Batch:
    """One recorded run over planned panels. `label` is the model named in the run's record."""

    def __init__(self, store: Store, options: ReviewOptions, label: str | None = None,
                 on_result: OnResult | None = None):
        self.store = store
        self.options = options
        self.label = label or options.label
        self.on_result = on_result
        self.seam = ModelSeam(concurrency=options.concurrency, max_cost=options.max_cost,
                              modes=queries.response_modes(store.db), router=load_router(options.router))
        self.run_id = 0
        self.cached: dict[str, dict] = {}
        self.panels: dict[str, PanelResult] = {}
        self.matches: dict[str, list[JudgmentResult]] = {}
        self._calibrating: dict[str, tuple] = {}  # local prompt key -> (persona, version, model), to store
        self.calls_made = self.calls_reused = 0  # model answers asked for, and taken from the store
        self.known_modes = dict(self.seam.modes)  # as stored; the seam's copy learns during the run

    async def run(self, plans: list[PanelPlan], personas: dict[str, Persona]) -> ReviewOutcome:
        """Store the inputs, look up every pair in the store at once, then run each panel.
        `personas` are recorded as versions even when not seated, so their history starts now."""
        for digest, brief in _briefs_of(plans).items():
            self.store.save_brief(brief, digest)
        for persona in personas.values():
            self.store.save_persona_version(persona)
        self._load_calibrations(plans)
        if not self.options.fresh:
            keys = [pair.key for plan in plans for pair in plan.pairs]
            self.cached = {**queries.find_cached(self.store.db, keys), **queries.find_cached_judgments(self.store.db, keys)}
        self.run_id = self.store.start_run(self.options.command, self.label, [p.slug for p in plans],
                                           self.options.concurrency)
        status = "interrupted"
        try:
            await self._start_workers(plans)
            panels = await self._run_panels(plans)
            status = "complete" if all(_complete(p) for p in panels) else "partial"
        finally:
            if self.seam.workers is not None:
                await self.seam.workers.close()
            self.store.finish_run(self.run_id, status)
            self._save_calibrations()
        return ReviewOutcome(self.run_id, [p for p in panels if isinstance(p, PanelResult)],
                             calls_made=self.calls_made, calls_reused=self.calls_reused,
                             budget_skipped=self.seam.budget_skipped, matches=self.matches,
                             workers=len(self.seam.workers or ()))

    async def _start_workers(self, plans: list) -> None:
        """Worker processes for the remote calls still to make (--workers; panel.models.workers)."""
        remote = sum(1 for plan in plans for pair in plan.pairs
                     if pair.key not in self.cached and self.seam.is_remote(pair.settings))
        size = workers_to_start(self.options.workers, remote, self.options.concurrency)
        if not size:
            return
        pool = WorkerPool(size, self.options.concurrency, self.seam.modes)
        try:
            await pool.start()
        except OSError as exc:  # no processes or file descriptors left: the calls can still be made here
            print(f"panel: could not start worker processes ({exc}); making every call in this process",
                  file=sys.stderr)
            return
        self.seam.workers = pool

    async def _run_panels(self, plans: list) -> list:
        from .graph import run_panel

        # With no model call to make anywhere, the panels are assembled by the graph's own node
        # functions in place: building the graph would import langgraph (~1 s) for nothing.
        use_graph = any(pair.key not in self.cached for plan in plans for pair in plan.pairs)
        # Briefs in flight are capped too (the model semaphore alone would let every brief's graph
        # start at once, holding rendered prompts and graph state for the whole batch).
        window = asyncio.Semaphore(max(1, self.options.concurrency))

        async def in_window(plan):
            async with window:
                return await run_panel(plan, self, use_graph)

        return list(await asyncio.gather(*(in_window(plan) for plan in plans)))

    # --- the steps the graph's nodes take ---------------------------------------------------------------

    def carry_over(self, plan) -> list[PersonaResult]:
        """The verdicts a re-run keeps, reported like any other seat's."""
        kept = list(getattr(plan, "kept", {}).values())
        for result in kept:
            self.calls_reused += 1
            self._report(plan.brief, result)
        return kept

    async def review_pair(self, pair) -> PersonaResult | JudgmentResult:
        """One persona on one brief (a planned Pair): from the store, or from the model and stored.
        A head-to-head JudgePair goes to judge_pair."""
        if isinstance(pair, JudgePair):
            return await self.judge_pair(pair)
        row = self.cached.get(pair.key)
        if row is not None:
            self.calls_reused += 1
            result = PersonaResult.from_row(row, cached=True)
        else:
            self.calls_made += 1
            settings = pair.settings
            call = await self.seam.review(settings, pair.name, pair.persona.version,
                                          render_messages(pair.persona, pair.brief, pair.brief_hash))
            verdict_id = self.store.record_call(self.run_id, pair.brief.slug, pair.brief_hash, pair.key,
                                                settings.params(), call)
            self._remember_mode(settings, call)
            result = PersonaResult(persona=pair.name, persona_version=pair.persona.version, model=settings.model,
                                   status=call.status, verdict=call.verdict, raw=call.raw, error=call.error,
                                   cached=False, verdict_id=verdict_id)
        self._report(pair.brief, result)
        return result

    def _load_calibrations(self, plans) -> None:
        """The embedded model's stored calibrations (one per persona prompt), so none is measured
        twice; and which persona version each prompt of this batch belongs to, to store new ones."""
        local = [pair for plan in plans for pair in plan.pairs if pair.settings.model.startswith("local/")]
        if not local:
            return
        from ..models.local import calibrate

        for row in queries.calibration_rows(self.store.db):
            calibrate.remember(row["key"], calibrate.Calibration(row["offset"], json.loads(row["content_free"])))
        for pair in local:
            if isinstance(pair, JudgePair):
                continue
            key = calibrate.key_for(pair.settings.model, render_messages(pair.persona, pair.brief, pair.brief_hash))
            if key:
                self._calibrating[key] = (pair.name, pair.persona.version, pair.settings.model)

    def _save_calibrations(self) -> None:
        if not self._calibrating:
            return
        from ..models.local import calibrate

        for key, found in calibrate.calibrations().items():
            if key in self._calibrating:
                self.store.save_calibration(key, *self._calibrating[key], found.offset, found.content_free)

    def _remember_mode(self, settings, call) -> None:
        """Store the structured-output mode a server took the first time it is learned or changes."""
        where = (settings.api_base or "", settings.model)
        if call.response_mode and call.status == "ok" and self.known_modes.get(where) != call.response_mode:
            self.known_modes[where] = call.response_mode
            self.store.save_response_mode(*where, call.response_mode)

    async def judge_pair(self, pair: JudgePair) -> JudgmentResult:
        """One persona's judgment of one ordering of two tools: from the store, or asked and stored."""
        row = self.cached.get(pair.key)
        result = JudgmentResult(persona=pair.name, persona_version=pair.persona.version, model=pair.settings.model,
                                first=pair.first_slug, second=pair.second_slug, blind=pair.blind, status="error")
        if row is not None:
            self.calls_reused += 1
            result.status, result.cached, result.judgment_id = "ok", True, row["id"]
            result.judgment = Judgment.model_validate({k: row[k] for k in Judgment.model_fields})
        else:
            self.calls_made += 1
            call = await self.seam.review(pair.settings, pair.name, pair.persona.version,
                                          render_judgment_messages(pair.persona, pair.first, pair.second),
                                          answer=Judgment)
            result.judgment_id = self.store.record_judgment(self.run_id, pair, call)
            result.status, result.judgment, result.error = call.status, call.verdict, call.error
            self._remember_mode(pair.settings, call)
        if self.on_result:
            self.on_result(pair.match, result)
        return result

    def finish_panel(self, plan, results: list) -> PanelResult | list[JudgmentResult]:
        """A brief's panel, aggregated and recorded; or a pair's judgments, kept for the comparison."""
        if isinstance(plan, MatchPlan):
            self.matches[plan.slug] = list(results)
            return self.matches[plan.slug]
        panel = aggregate(plan.slug, plan.brief_hash, plan.seated, results)
        self.store.record_panel(self.run_id, panel)
        self.panels[plan.slug] = panel
        return panel

    def _report(self, brief: ToolBrief, result: PersonaResult) -> None:
        if self.on_result:
            self.on_result(brief.slug, result)


def _complete(finished) -> bool:
    """A panel with every seat answered, or a pair with every judgment answered."""
    if isinstance(finished, PanelResult):
        return finished.complete
    return all(r.status == "ok" for r in finished)


def _briefs_of(plans) -> dict[str, ToolBrief]:
    """Every real brief the plans judge, by content hash."""
    found = {}
    for plan in plans:
        if isinstance(plan, MatchPlan):
            found |= {plan.a_hash: plan.a, plan.b_hash: plan.b}
        else:
            found[plan.brief_hash] = plan.brief
    return found


async def run_review(
    briefs: list[ToolBrief],
    personas: dict[str, Persona],
    store: Store,
    options: ReviewOptions,
    on_result: OnResult | None = None,
) -> ReviewOutcome:
    """Plan and run a review of `briefs` (bad input raises before anything is written)."""
    plans = plan_review(briefs, personas, options)
    check_plan_models(plans, options.router)
    return await Batch(store, options, on_result=on_result).run(plans, personas)
