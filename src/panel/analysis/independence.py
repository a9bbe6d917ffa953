"""How many independent votes a panel is worth (panel eval).

Five personas played by one model are not five independent reviewers: when they err together, a
majority of them is barely better than one. On a labelled set this measures, for every pair of
personas, the correlation of their decisions (ship = 1) and of their errors (wrong = 1) over the
cases both answered (for two yes/no columns, Pearson's r is the phi coefficient), and from the mean
error correlation ρ̄ the effective number of independent votes,

    n_eff = n / (1 + (n − 1) · ρ̄)

(the design effect of n equally correlated votes; ρ̄ below zero is taken as zero, so n_eff never
exceeds n). A pair with fewer than MIN_ROWS common cases, or a column that never varies, has no
correlation: it is "not enough rows" or "no variation", never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

from .metrics import Scored

MIN_ROWS = 5


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    rows: int  # cases both answered
    decisions: float | None  # correlation of their ship/skip decisions
    errors: float | None  # correlation of their errors
    why_none: str | None = None  # "not enough rows" / "no variation" when a correlation is missing


@dataclass
class Independence:
    personas: list[str]
    pairs: list[Pair] = field(default_factory=list)

    def _mean(self, which: str) -> float | None:
        values = [getattr(p, which) for p in self.pairs if getattr(p, which) is not None]
        return sum(values) / len(values) if values else None

    @property
    def mean_decision_correlation(self) -> float | None:
        return self._mean("decisions")

    @property
    def mean_error_correlation(self) -> float | None:
        return self._mean("errors")

    @property
    def effective_votes(self) -> float | None:
        """n_eff from the mean error correlation (None when no pair had one)."""
        rho, n = self.mean_error_correlation, len(self.personas)
        if rho is None or n < 2:
            return None
        return n / (1 + (n - 1) * max(rho, 0.0))

    def error_matrix(self) -> dict[str, dict[str, float | None]]:
        """persona -> persona -> error correlation (1 on the diagonal), for the table and heat map."""
        matrix = {a: {b: (1.0 if a == b else None) for b in self.personas} for a in self.personas}
        for p in self.pairs:
            matrix[p.a][p.b] = matrix[p.b][p.a] = p.errors
        return matrix

    def to_json(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        return {
            "personas": self.personas, "min_rows": MIN_ROWS,
            "mean_decision_correlation": r(self.mean_decision_correlation),
            "mean_error_correlation": r(self.mean_error_correlation),
            "effective_votes": r(self.effective_votes),
            "effective_votes_from": "mean pairwise correlation of errors (wrong = 1) over clear cases",
            "pairs": [{"a": p.a, "b": p.b, "rows": p.rows, "decisions": r(p.decisions), "errors": r(p.errors),
                       "why_none": p.why_none} for p in self.pairs],
        }


def correlation(xs: list[int], ys: list[int]) -> float | None:
    """Pearson's r of two equally long columns (for 0/1 columns, the phi coefficient); None when either
    never varies."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if sx == 0 or sy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / (sx * sy)


def independence(items: dict[str, list[Scored]], personas: list[str]) -> Independence:
    """Pairwise decision and error correlations of the personas on the clear cases (`items`:
    persona -> its scored items, as panel.analysis.evaluation.Evaluation.items holds them)."""
    answered = {who: {i.slug: i for i in items.get(who, []) if i.decision is not None} for who in personas}
    found = Independence(personas=list(personas))
    for a, b in combinations(personas, 2):
        common = sorted(set(answered[a]) & set(answered[b]))
        if len(common) < MIN_ROWS:
            found.pairs.append(Pair(a, b, len(common), None, None, "not enough rows"))
            continue
        x, y = [answered[a][s] for s in common], [answered[b][s] for s in common]
        decisions = correlation([int(i.decision == "ship") for i in x], [int(i.decision == "ship") for i in y])
        errors = correlation([int(i.decision != i.expected) for i in x], [int(i.decision != i.expected) for i in y])
        why = None if decisions is not None and errors is not None else "no variation"
        found.pairs.append(Pair(a, b, len(common), decisions, errors, why))
    return found
