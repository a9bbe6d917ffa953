"""A panel: the results of the personas seated on one brief, and its arithmetic (ship percentage
over the verdicts reported, a Wilson interval, the split)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .verdict import Juror, PersonaResult, consensus


def pct(value: float | None) -> str:
    """A ship percentage as readers see it everywhere: "75%", or an em dash when nothing counted."""
    return "—" if value is None else f"{value:.0f}%"


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; honest for tiny panels where 3/4 is not 75% ± 0."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class PanelResult:
    slug: str
    brief_hash: str
    seated: list[str]
    results: list[PersonaResult] = field(default_factory=list)

    @property
    def reported(self) -> int:
        """Seats whose verdict counts: ok, and (with samples) not split evenly."""
        return sum(1 for r in self.results if r.counted)

    @property
    def split_seats(self) -> int:
        """Seats whose samples split evenly: shown, counted neither as ship nor as skip."""
        return sum(1 for r in self.results if r.status == "ok" and not r.counted)

    @property
    def ships(self) -> int:
        return sum(1 for r in self.results if r.decision == "ship")

    @property
    def ship_pct(self) -> float | None:
        """Ships over verdicts reported; unscored and failed personas are shown, never counted."""
        return round(100 * self.ships / self.reported, 1) if self.reported else None

    @property
    def interval(self) -> tuple[float, float]:
        lo, hi = wilson_interval(self.ships, self.reported)
        return (round(100 * lo, 1), round(100 * hi, 1))

    @property
    def complete(self) -> bool:
        """Every seat answered (a split seat answered: its samples disagreed, nothing failed)."""
        return self.reported + self.split_seats == len(self.seated)

    @property
    def reviewed_at(self) -> str | None:
        """When the newest of its verdicts was made (a run that only reused them changes nothing)."""
        return max((r.made_at for r in self.results if r.status == "ok" and r.made_at), default=None)

    def verdict_ids(self) -> list[int]:
        """The stored verdicts it counts, in seating order."""
        return [r.verdict_id for r in self.ordered() if r.status == "ok"]

    @property
    def models(self) -> list[str]:
        """The models behind the verdicts reported (a failed attempt wrote nothing here), every
        voting juror of a jury seat included."""
        voted = {j.model for r in self.results for j in (r.jurors or []) if j.vote in ("ship", "skip")}
        return sorted({r.model for r in self.results if r.status == "ok"} | voted)

    def split(self) -> dict[str, list[str]]:
        """Persona names grouped by outcome: ship, skip, unscored, error (and split, with --samples)."""
        groups: dict[str, list[str]] = {"ship": [], "skip": [], "unscored": [], "error": []}
        for r in self.results:
            groups.setdefault(r.decision or r.status, []).append(r.persona)
        return groups

    def ordered(self) -> list[PersonaResult]:
        """Results in seating order (fan-in order depends on which model answered first)."""
        rank = {name: i for i, name in enumerate(self.seated)}
        return sorted(self.results, key=lambda r: rank.get(r.persona, len(rank)))

    def summary(self) -> str:
        """One line for a log: `75% ship · 4/4 reported`."""
        return f"{pct(self.ship_pct)} ship · {self.reported}/{len(self.seated)} reported"

    def to_json(self) -> dict:
        return {
            "slug": self.slug,
            "ship_pct": self.ship_pct,
            "reported": self.reported,
            "seated": len(self.seated),
            "interval": list(self.interval),
            "verdicts": [r.to_json() for r in self.ordered()],
        }


def seat_result(samples: list[PersonaResult]) -> PersonaResult:
    """One seat from its K samples (K = 1: the sample itself), or from the answers of its jury (one
    per model). The seat shows the first answer that agrees with the majority, carries every
    answered sample's decision (so its stability can be read), and fails only when no sample
    answered. The majority is strict among those that answered: a juror that gave no usable answer
    does not vote (it is never a skip), and two jurors left disagreeing make the seat split."""
    if len(samples) == 1:
        return samples[0]
    answered = [r for r in samples if r.status == "ok"]
    jurors = _jurors(samples)
    if not answered:
        return replace(samples[-1], jurors=jurors)
    decisions = [r.verdict.verdict for r in answered]
    majority = consensus(decisions)
    shown = next((r for r in answered if r.verdict.verdict == majority), answered[0])
    return replace(shown, sampled=decisions, cached=all(r.cached for r in samples), jurors=jurors)


def _jurors(answers: list[PersonaResult]) -> list[Juror] | None:
    """A jury's votes, model by model (None for a seat of samples of one model)."""
    if len({r.model for r in answers}) < 2:
        return None
    return [Juror(r.model, r.verdict.verdict if r.status == "ok" and r.verdict else None, r.verdict_id)
            for r in answers]


def aggregate(slug: str, brief_hash: str, seated: list[str], results: list[PersonaResult]) -> PanelResult:
    """The panel of one brief from its persona results (several per seat with --samples)."""
    by_seat: dict[str, list[PersonaResult]] = {}
    for r in results:
        by_seat.setdefault(r.persona, []).append(r)
    seats = [seat_result(rs) for rs in by_seat.values()]
    return PanelResult(slug=slug, brief_hash=brief_hash, seated=list(seated), results=seats)
