"""A judge card per persona (panel eval): how far to trust one seat of the panel.

Against the labels of the clear cases: agreement and Cohen's κ (agreement beyond what the two ship
rates alone would give), balanced accuracy, AUC, Brier and ship rate; how stable its answers are
across --samples; how long its rationales are, and whether longer rationales go with ship (the
correlation of length with the decision: a judge that writes more when it ships may be swayed by
length); what 1,000 of its verdicts cost; and the number of answered cases each figure rests on.
A figure that cannot be measured is None with its reason ("not enough rows", "one sample per
seat", "no variation"), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .independence import MIN_ROWS, correlation
from .metrics import Scored, metrics


@dataclass
class JudgeCard:
    persona: str
    rows: int  # clear cases it answered
    agreement: float | None
    kappa: float | None
    balanced_accuracy: float | None
    auc: float | None
    brier: float | None
    ship_rate: float | None
    stability: float | None
    mean_words: float | None
    length_bias: float | None  # correlation of rationale length with ship (1) / skip (0)
    cost_per_1000: float | None
    missing: dict[str, str] = field(default_factory=dict)  # figure -> why it is None

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        figures = ("agreement", "kappa", "balanced_accuracy", "auc", "brier", "ship_rate", "stability", "mean_words",
                   "length_bias", "cost_per_1000")
        return {"persona": self.persona, "rows": self.rows, **{f: r(getattr(self, f)) for f in figures},
                "missing": self.missing}


def kappa(answered: list[Scored]) -> float | None:
    """Cohen's κ of the decisions against the labels; None when chance agreement is already total."""
    n = len(answered)
    observed = sum(i.decision == i.expected for i in answered) / n
    said, labelled = (sum(i.decision == "ship" for i in answered) / n, sum(i.expected == "ship" for i in answered) / n)
    chance = said * labelled + (1 - said) * (1 - labelled)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def judge_card(persona: str, items: list[Scored], costs: list[float]) -> JudgeCard:
    """One persona's card from its clear-case items and the cost of each of its verdicts."""
    answered = [i for i in items if i.decision is not None]
    scores = metrics(items)
    missing: dict[str, str] = {}
    enough = len(answered) >= MIN_ROWS
    if not enough:
        for figure in ("kappa", "auc", "length_bias"):
            missing[figure] = "not enough rows"
    k = kappa(answered) if enough else None
    if enough and k is None:
        missing["kappa"] = "no variation"
    words = [i.words for i in answered if i.words is not None]
    bias = correlation([i.words for i in answered], [int(i.decision == "ship") for i in answered]) \
        if enough and len(words) == len(answered) else None
    if enough and bias is None:
        missing["length_bias"] = "no variation"
    stabilities = [i.stability for i in answered if i.stability is not None]
    if not stabilities:
        missing["stability"] = "one sample per seat (run with --samples to measure it)"
    if not costs:
        missing["cost_per_1000"] = "no recorded calls"
    return JudgeCard(
        persona=persona, rows=len(answered), agreement=scores.accuracy, kappa=k,
        balanced_accuracy=scores.balanced_accuracy, auc=scores.auc if enough else None, brier=scores.brier,
        ship_rate=scores.ship_rate, stability=sum(stabilities) / len(stabilities) if stabilities else None,
        mean_words=sum(words) / len(words) if words else None, length_bias=bias,
        cost_per_1000=1000 * sum(costs) / len(costs) if costs else None, missing=missing,
    )
