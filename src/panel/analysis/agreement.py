"""How much the personas agree: pairwise agreement, Fleiss' kappa, and each persona's ship rate.

Every statistic uses each persona's *current* verdict on each tool (its newest ok verdict), so a
tool re-reviewed ten times counts once, as it stands now. Only `ok` verdicts are ratings;
unscored and failed results are not skips and are left out.

- Pairwise agreement of personas A and B: over the tools where both have an ok verdict, the
  share where they made the same call.
- Fleiss' kappa needs the same number of ratings for every tool. It is computed over tools
  whose panels are complete (every seated persona has a current verdict); when complete panels differ in size
  (a brief may seat four personas instead of five), it uses the most common size (the larger
  size on a tie) and says how many tools it left out.
- Ship rate: a persona's ships over its ok verdicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

CATEGORIES = ("ship", "skip")


@dataclass
class PairAgreement:
    a: str
    b: str
    briefs: int  # tools both personas judged
    agree: int

    @property
    def rate(self) -> float | None:
        return self.agree / self.briefs if self.briefs else None

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "briefs": self.briefs, "agree": self.agree,
                "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass
class FleissResult:
    kappa: float | None
    raters: int  # ratings per tool
    slugs: list[str] = field(default_factory=list)  # the tools it was computed over
    observed: float | None = None  # mean per-tool agreement, P-bar
    expected: float | None = None  # chance agreement, P-bar-e
    left_out: list[str] = field(default_factory=list)  # complete panels of another size

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        return {"kappa": r(self.kappa), "raters": self.raters, "briefs": len(self.slugs), "slugs": self.slugs,
                "observed": r(self.observed), "expected": r(self.expected), "left_out": self.left_out}


@dataclass
class ShipRate:
    persona: str
    verdicts: int
    ships: int

    @property
    def rate(self) -> float | None:
        return self.ships / self.verdicts if self.verdicts else None

    def to_json(self) -> dict:
        return {"persona": self.persona, "verdicts": self.verdicts, "ships": self.ships,
                "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass
class AgreementReport:
    briefs: int  # tools with at least one ok latest verdict
    pairs: list[PairAgreement]
    fleiss: FleissResult
    ship_rates: list[ShipRate]

    def to_json(self) -> dict:
        return {
            "briefs": self.briefs,
            "pairs": [p.to_json() for p in self.pairs],
            "fleiss": self.fleiss.to_json(),
            "ship_rates": [s.to_json() for s in self.ship_rates],
        }


Ratings = dict[str, dict[str, str]]  # slug -> persona -> "ship" | "skip"


def ratings_from_panels(panels) -> tuple[Ratings, set[str]]:
    """Current verdicts as ratings, and the tools whose every seated persona has one (complete).
    `panels` are standing panels (panel.store.stored_panels.current_panel)."""
    ratings: Ratings = {}
    for panel in panels:
        for r in panel.results:
            if r.status == "ok":
                ratings.setdefault(panel.slug, {})[r.persona] = r.decision
    return ratings, {panel.slug for panel in panels if panel.complete and panel.slug in ratings}


def pairwise_agreement(ratings: Ratings) -> list[PairAgreement]:
    personas = sorted({p for given in ratings.values() for p in given})
    pairs = []
    for a, b in combinations(personas, 2):
        both = [given for given in ratings.values() if a in given and b in given]
        pairs.append(PairAgreement(a, b, len(both), sum(1 for given in both if given[a] == given[b])))
    return pairs


def fleiss_kappa(counts: list[list[int]]) -> tuple[float | None, float | None, float | None]:
    """Fleiss' kappa for N subjects each rated by the same n raters into k categories.

    `counts[i][j]` is how many raters put subject i in category j. Returns (kappa, P-bar,
    P-bar-e); kappa is None when it is undefined (no subjects, one rater, or every rating in
    one category, where chance agreement is already 1)."""
    if not counts:
        return None, None, None
    n = sum(counts[0])
    if n < 2 or any(sum(row) != n for row in counts):
        return None, None, None
    subjects = len(counts)
    p_j = [sum(row[j] for row in counts) / (subjects * n) for j in range(len(counts[0]))]
    p_i = [(sum(c * c for c in row) - n) / (n * (n - 1)) for row in counts]
    observed = sum(p_i) / subjects
    expected = sum(p * p for p in p_j)
    if expected >= 1.0:
        return None, observed, expected
    return (observed - expected) / (1 - expected), observed, expected


def fleiss_over_complete(ratings: Ratings, complete: set[str]) -> FleissResult:
    sizes = Counter(len(ratings[slug]) for slug in complete if len(ratings[slug]) >= 2)
    if not sizes:
        return FleissResult(kappa=None, raters=0, left_out=sorted(complete))
    raters = max(sizes, key=lambda size: (sizes[size], size))
    used = sorted(slug for slug in complete if len(ratings[slug]) == raters)
    counts = [[list(ratings[slug].values()).count(c) for c in CATEGORIES] for slug in used]
    kappa, observed, expected = fleiss_kappa(counts)
    left_out = sorted(complete - set(used))
    return FleissResult(kappa=kappa, raters=raters, slugs=used, observed=observed, expected=expected,
                        left_out=left_out)


def ship_rates(ratings: Ratings) -> list[ShipRate]:
    totals: dict[str, list[int]] = {}
    for given in ratings.values():
        for persona, verdict in given.items():
            seen = totals.setdefault(persona, [0, 0])
            seen[0] += 1
            seen[1] += verdict == "ship"
    return [ShipRate(p, n, ships) for p, (n, ships) in sorted(totals.items())]


def agreement_report(panels) -> AgreementReport:
    """Every statistic from the tools' standing panels."""
    ratings, complete = ratings_from_panels(panels)
    return AgreementReport(
        briefs=len(ratings),
        pairs=pairwise_agreement(ratings),
        fleiss=fleiss_over_complete(ratings, complete),
        ship_rates=ship_rates(ratings),
    )
