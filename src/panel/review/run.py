"""One way to run planned work, whoever asks: the CLI's commands, the LangGraph server, the tests
and the benchmarks all call `run()`. It checks every model the plans use before anything is
written (a misconfigured batch is bad input), then runs the plans as one recorded batch.

The planners (panel.review.plan, .rerun, .headtohead) decide what to ask; `run()` asks it.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from ..core.brief import ToolBrief
from ..inputs.personas import Persona
from ..models.preflight import check_models
from ..store.store import Store
from .batch import Batch, OnResult, ReviewOutcome
from .job import Plan
from .plan import ReviewOptions, plan_review


async def run(plans: list[Plan], personas: dict[str, Persona], store: Store | Path, options: ReviewOptions, *,
              label: str | None = None, on_result: OnResult | None = None,
              on_start: Callable[[], None] | None = None) -> ReviewOutcome:
    """Check, then run `plans` as one recorded batch. `store` is an open Store, or the path of one
    to open only once the checks pass (so bad input creates no database). `label` names the model
    in the run's record (default: the options' model); `on_start` is called once the checks pass."""
    check_models(((job.settings.model, job.settings.api_base) for plan in plans for job in plan.jobs), options.router)
    if on_start is not None:
        on_start()
    with Store(store) if isinstance(store, Path) else nullcontext(store) as opened:
        return await Batch(opened, options, label=label, on_result=on_result).run(plans, personas)


async def run_review(briefs: list[ToolBrief], personas: dict[str, Persona], store: Store | Path,
                     options: ReviewOptions, on_result: OnResult | None = None) -> ReviewOutcome:
    """Plan and run a review of `briefs` (bad input raises before anything is written)."""
    return await run(plan_review(briefs, personas, options), personas, store, options, on_result=on_result)
