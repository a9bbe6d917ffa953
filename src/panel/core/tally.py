"""The community's split on one tool: ship and skip votes, with the same interval as a panel."""

from __future__ import annotations

from dataclasses import dataclass

from .panel import wilson_interval


@dataclass(frozen=True)
class Tally:
    """`pct` is None when nobody has voted."""

    slug: str
    ships: int
    skips: int

    @property
    def votes(self) -> int:
        return self.ships + self.skips

    @property
    def pct(self) -> float | None:
        return round(100 * self.ships / self.votes, 1) if self.votes else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.votes:
            return None
        lo, hi = wilson_interval(self.ships, self.votes)
        return (round(100 * lo, 1), round(100 * hi, 1))

    def to_json(self) -> dict:
        interval = self.interval
        return {"slug": self.slug, "ships": self.ships, "skips": self.skips, "votes": self.votes,
                "pct": self.pct, "interval": list(interval) if interval else None}
