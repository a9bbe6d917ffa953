"""How well verdicts match labels: accuracy, balanced accuracy, ship rate, AUC of the ship
probability, Brier score and the confusion table (panel eval).

A verdict's ship probability is the model's own: its confidence in "ship", or one minus its
confidence in "skip"; with --samples, the share of samples that said ship. A seat that gave no
usable answer (or whose samples split evenly) has no decision: it is counted in `unanswered`,
not as a wrong answer. Accuracy-type figures are over answered items; AUC and Brier over items
with a probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.panel import PanelResult
from ..core.verdict import PersonaResult

DECISIONS = ("ship", "skip")


@dataclass(frozen=True)
class Scored:
    slug: str
    expected: str  # ship | skip
    decision: str | None  # ship | skip | None (no usable answer, or a split)
    p_ship: float | None
    words: int | None = None  # the rationale's length in words (a seat's verdict; None for the panel)
    stability: float | None = None  # with --samples: the share of the seat's samples that agreed


# Every score a panel or persona gets against labels, in the order reports show them, with its label:
# the JSON, the comparison with a baseline and both report pages read this one list.
METRIC_LABELS = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "ship_rate": "Ship rate",
    "ship_rate_on_skips": "Ship rate on should-skip", "auc": "AUC", "brier": "Brier",
}
METRIC_NAMES = tuple(METRIC_LABELS)


@dataclass
class Metrics:
    items: int
    answered: int
    accuracy: float | None
    balanced_accuracy: float | None
    ship_rate: float | None  # share of answered items decided ship
    ship_rate_on_skips: float | None  # share of the items that should be skipped that were shipped
    auc: float | None
    brier: float | None
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # expected -> decided -> count

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        return {"cases": self.items, "answered": self.answered,
                **{name: r(getattr(self, name)) for name in METRIC_NAMES}, "confusion": self.confusion}


def ship_probability(result: PersonaResult) -> float | None:
    """The model's own probability that this seat says ship."""
    if result.status != "ok" or result.verdict is None:
        return None
    if result.sampled:
        return result.sampled.count("ship") / len(result.sampled)
    v = result.verdict
    return v.confidence if v.verdict == "ship" else 1.0 - v.confidence


def seat_item(slug: str, expected: str, result: PersonaResult | None) -> Scored:
    if result is None:
        return Scored(slug, expected, None, None)
    decision = result.decision if result.counted else None
    words = len(result.verdict.rationale.split()) if result.verdict is not None else None
    return Scored(slug, expected, decision, ship_probability(result), words, result.stability)


def panel_item(slug: str, expected: str, panel: PanelResult) -> Scored:
    """The panel decides ship when at least half of the verdicts reported say ship."""
    decision = None if panel.ship_pct is None else ("ship" if panel.ship_pct >= 50 else "skip")
    probabilities = [p for p in (ship_probability(r) for r in panel.results) if p is not None]
    p_ship = sum(probabilities) / len(probabilities) if probabilities else None
    return Scored(slug, expected, decision, p_ship)


def auc(items: list[Scored]) -> float | None:
    """Probability that a should-ship item gets a higher ship probability than a should-skip one
    (ties count half): the Mann-Whitney statistic. None without both kinds."""
    ships = [i.p_ship for i in items if i.expected == "ship" and i.p_ship is not None]
    skips = [i.p_ship for i in items if i.expected == "skip" and i.p_ship is not None]
    if not ships or not skips:
        return None
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in ships for b in skips)
    return wins / (len(ships) * len(skips))


def brier(items: list[Scored]) -> float | None:
    scored = [(i.p_ship, 1.0 if i.expected == "ship" else 0.0) for i in items if i.p_ship is not None]
    return sum((p - y) ** 2 for p, y in scored) / len(scored) if scored else None


def metrics(items: list[Scored]) -> Metrics:
    answered = [i for i in items if i.decision in DECISIONS]
    confusion = {e: {d: sum(1 for i in answered if i.expected == e and i.decision == d) for d in DECISIONS}
                 for e in DECISIONS}
    recalls = [confusion[e][e] / sum(confusion[e].values()) for e in DECISIONS if sum(confusion[e].values())]
    skips_answered = sum(confusion["skip"].values())
    return Metrics(
        items=len(items),
        answered=len(answered),
        accuracy=sum(1 for i in answered if i.decision == i.expected) / len(answered) if answered else None,
        balanced_accuracy=sum(recalls) / len(recalls) if len(recalls) == 2 else None,
        ship_rate=sum(1 for i in answered if i.decision == "ship") / len(answered) if answered else None,
        ship_rate_on_skips=confusion["skip"]["ship"] / skips_answered if skips_answered else None,
        auc=auc(items),
        brier=brier(items),
        confusion=confusion,
    )
