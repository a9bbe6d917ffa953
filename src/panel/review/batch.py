"""Running a planned batch: every plan through the review graph, sharing one model seam (one cap
on calls in flight) and one store, recorded as one run.

`Batch.ask` is the step every persona node takes, whatever the kind of job (panel.review.job):
reuse the stored `ok` answer with the job's cache key if there is one; otherwise ask the model
for its messages and store the call and its answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Callable

from ..core.judgment import MatchResult
from ..core.panel import PanelResult
from ..inputs.personas import Persona
from ..models.router import load_router
from ..models.seam import ModelSeam
from ..models.workers import WorkerPool, workers_to_start
from ..store import queries
from ..store.store import Store
from .graph import run_plan
from .job import Job, Plan
from .plan import ReviewOptions

OnResult = Callable[[str, object], None]  # (plan slug, a PersonaResult or JudgmentResult)


@dataclass
class ReviewOutcome:
    run_id: int
    panels: list[PanelResult] = field(default_factory=list)
    calls_made: int = 0
    calls_reused: int = 0
    budget_skipped: int = 0  # calls not started because --max-cost would have been passed
    matches: dict[str, MatchResult] = field(default_factory=dict)  # head-to-head: plan slug -> its judgments
    workers: int = 0  # worker processes that made the remote calls (panel.models.workers)

    @property
    def complete(self) -> bool:
        return all(p.complete for p in self.panels) and all(m.complete for m in self.matches.values())


class Batch:
    """One recorded run over planned work. `label` is the model named in the run's record."""

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
        self.finished: dict[str, object] = {}  # plan slug -> its finished result (a PanelResult, a MatchResult)
        self._calibrating: dict[str, tuple] = {}  # local prompt key -> (persona, version, model), to store
        self.calls_made = self.calls_reused = 0  # model answers asked for, and taken from the store
        self.known_modes = dict(self.seam.modes)  # as stored; the seam's copy learns during the run

    async def run(self, plans: list[Plan], personas: dict[str, Persona]) -> ReviewOutcome:
        """Store the inputs, look up every job in the store at once, then run each plan.
        `personas` are recorded as versions even when not seated, so their history starts now."""
        for plan in plans:
            for digest, brief in plan.briefs().items():
                self.store.save_brief(brief, digest)
        for persona in personas.values():
            self.store.save_persona_version(persona)
        jobs = [job for plan in plans for job in plan.jobs]
        self._load_calibrations(jobs)
        if not self.options.fresh:
            for table in sorted({job.table for job in jobs}):
                self.cached |= queries.find_cached(self.store.db, [j.key for j in jobs if j.table == table], table)
        self.run_id = self.store.start_run(self.options.command, self.label, [p.slug for p in plans],
                                           self.options.concurrency, self.options.operator)
        status = "interrupted"
        try:
            await self._start_workers(jobs)
            finished = await self._run_plans(plans, use_graph=any(job.key not in self.cached for job in jobs))
            status = "complete" if all(f.complete for f in finished) else "partial"
        finally:
            if self.seam.workers is not None:
                await self.seam.workers.close()
            self.store.finish_run(self.run_id, status, self.calls_reused)
            self._save_calibrations()
        outcome = ReviewOutcome(self.run_id, calls_made=self.calls_made, calls_reused=self.calls_reused,
                                budget_skipped=self.seam.budget_skipped, workers=len(self.seam.workers or ()))
        for plan, result in zip(plans, finished):
            plan.file(outcome, result)
        return outcome

    async def _start_workers(self, jobs: list[Job]) -> None:
        """Worker processes for the remote calls still to make (--workers; panel.models.workers)."""
        remote = sum(1 for job in jobs if job.key not in self.cached and self.seam.is_remote(job.settings))
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

    async def _run_plans(self, plans: list[Plan], use_graph: bool) -> list:
        """Each plan through the graph. With no model call to make anywhere (`use_graph` False), the
        graph's own node functions run in place: building the graph would import langgraph (~1 s)
        for nothing. Plans in flight are capped too (the model semaphore alone would let every
        plan's graph start at once, holding rendered prompts and graph state for the whole batch)."""
        window = asyncio.Semaphore(max(1, self.options.concurrency))

        async def in_window(plan):
            async with window:
                return await run_plan(plan, self, use_graph)

        return list(await asyncio.gather(*(in_window(plan) for plan in plans)))

    # --- the steps the graph's nodes take ---------------------------------------------------------------

    def carry_over(self, plan: Plan) -> list:
        """The results a plan keeps without asking (a re-run's other seats), reported like any other."""
        kept = list(plan.kept.values())
        for result in kept:
            self.calls_reused += 1
            self._report(plan.slug, result)
        return kept

    async def ask(self, job: Job):
        """One job's result: from the store, or asked of the model and stored."""
        row = self.cached.get(job.key)
        if row is not None:
            self.calls_reused += 1
            result = job.stored(row)
        else:
            self.calls_made += 1
            call = await self.seam.review(job.settings, job.name, job.persona.version, job.messages(),
                                          answer=job.answer)
            answer_id = self.store.record_call(self.run_id, job, call)
            self._remember_mode(job.settings, call)
            result = job.answered(call, answer_id)
        self._report(job.group, result)
        return result

    def finish(self, plan: Plan, results: list):
        """A plan's finished result (a brief's panel is recorded), kept for the outcome."""
        self.finished[plan.slug] = plan.finish(results, self.store, self.run_id)
        return self.finished[plan.slug]

    def _report(self, slug: str, result) -> None:
        if self.on_result:
            self.on_result(slug, result)

    def _load_calibrations(self, jobs: list[Job]) -> None:
        """The embedded model's stored calibrations (one per persona prompt), so none is measured
        twice; and which persona version each prompt of this batch belongs to, to store new ones."""
        local = [job for job in jobs if job.calibrated and self.seam.backend(job.settings).calibrated]
        if not local:
            return
        from ..models.local import calibrate

        for row in queries.calibration_rows(self.store.db):
            calibrate.remember(row["key"], calibrate.Calibration(row["offset"], json.loads(row["content_free"])))
        for job in local:
            key = calibrate.key_for(job.settings.model, job.messages())
            if key:
                self._calibrating[key] = (job.name, job.persona.version, job.settings.model)

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
