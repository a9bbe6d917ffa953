"""Is a jury worth paying for? `panel eval --jury m1,m2,m3` scores the jury's panel beside the panel
each of its models would have made alone, on the same labelled set and from the same calls (every
juror's answer is stored apart, so the members' panels cost nothing more): accuracy, balanced
accuracy, Cohen's κ of the panel's call, the effective number of independent votes, and cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.panel import PanelResult
from .evaluation import PANEL, evaluate
from .judges import kappa

JURY = "jury"


@dataclass(frozen=True)
class JuryRow:
    """One side of the comparison: the jury, or one of its models holding every seat alone."""

    who: str  # JURY, or a model string
    answered: int
    cases: int
    accuracy: float | None
    balanced_accuracy: float | None
    kappa: float | None
    effective_votes: float | None
    cost: float

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        return {"who": self.who, "answered": self.answered, "cases": self.cases, "accuracy": r(self.accuracy),
                "balanced_accuracy": r(self.balanced_accuracy), "kappa": r(self.kappa),
                "effective_votes": r(self.effective_votes), "cost": round(self.cost, 6)}


def jury_row(who: str, eval_set, panels: dict[str, PanelResult], personas: list[str],
             costs: dict[int, float]) -> JuryRow:
    """Score one side's panels on the set; its cost is every verdict it rests on (a jury: all its jurors')."""
    evaluation = evaluate(eval_set, panels, {}, who, 1, personas)
    scores = evaluation.metrics()[PANEL]
    answered = [item for item in evaluation.items[PANEL] if item.decision is not None]
    ids = {r.verdict_id for p in panels.values() for r in p.results if not r.jurors} | {
        j.verdict_id for p in panels.values() for r in p.results for j in (r.jurors or [])}
    return JuryRow(who=who, answered=scores.answered, cases=scores.items, accuracy=scores.accuracy,
                   balanced_accuracy=scores.balanced_accuracy, kappa=kappa(answered) if answered else None,
                   effective_votes=evaluation.independence()["effective_votes"],
                   cost=sum(costs.get(i, 0.0) for i in ids if i is not None))


def compare_jury(eval_set, jury_panels: dict[str, PanelResult], member_panels: dict[str, dict[str, PanelResult]],
                 personas: list[str], costs: dict[int, float]) -> list[JuryRow]:
    """The jury first, then each of its models alone."""
    return [jury_row(JURY, eval_set, jury_panels, personas, costs),
            *(jury_row(model, eval_set, panels, personas, costs) for model, panels in member_panels.items())]
