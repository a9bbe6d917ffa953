"""A head-to-head as the comparison pages show it (and store it, as JSON in the comparison's data):
each persona's call on a pair in both orders, the pick, and whether it clears the bar to be called
the panel's pick (panel.analysis.headtohead)."""

from __future__ import annotations

from pydantic import BaseModel, model_validator

from ..analysis.headtohead import unclear_reason


class SeatCallView(BaseModel):
    """One persona's head-to-head call on a pair: each order's answer, and what it counts as."""

    persona: str
    title: str
    call: str | None  # a slug, "tie" (a tie or inconsistent), None (no usable answer)
    a_first: str | None  # what it picked with the first-named tool shown first
    b_first: str | None
    consistent: bool
    followed_position: bool
    headline: str | None = None
    blind_call: str | None = None  # with --blind: its call with the names masked
    brand_changed: bool = False  # answered both ways, and the call changed when the names were shown
    conflict: str | None = None  # its judge model's vendor made one of the tools
    model: str | None = None


class HeadToHeadView(BaseModel):
    a: str
    b: str
    pick: str | None  # a slug, "tie", or None when no persona answered
    unclear: str | None = None  # why a slug pick is too thin to be called the panel's pick (then: no clear pick)
    votes: dict[str, int]  # a, b, "tie" -> consistent calls
    consistency: float | None  # share of answered personas whose two answers agree
    position_followers: list[str]
    blind: bool
    blind_pick: str | None = None
    brand_effect: float | None = None  # share whose call changed when the names were visible
    brand_changes: list[dict] = []
    recused: list[str] = []  # persona names
    recused_titles: list[str] = []  # the same, as the page names them
    seats: list[SeatCallView]
    margin_note: str | None

    @model_validator(mode="after")
    def _bar(self) -> "HeadToHeadView":
        """The no-clear-pick bar, applied to stored comparisons too (those written before it)."""
        answered = [s for s in self.seats if s.call is not None]
        self.unclear = unclear_reason(self.a, self.b, self.pick, self.votes, sum(s.consistent for s in answered),
                                      len(answered))
        return self

    def pick_words(self, names: dict[str, str]) -> str:
        """The pick in a few words: the tool, "tie", "no clear pick", or why there is none."""
        if self.pick is None:
            return "every seat recused" if self.recused and not self.seats else "no answer"
        return "no clear pick" if self.unclear else names.get(self.pick, self.pick)


def head_to_head_view(h, titles: dict[str, str]) -> HeadToHeadView:
    blind = {s.persona: s.call for s in h.blind_seats}
    seats = [SeatCallView(
        persona=s.persona, title=titles.get(s.persona, s.persona.title()), call=s.call,
        a_first=s.a_first.picked if s.a_first else None, b_first=s.b_first.picked if s.b_first else None,
        consistent=s.consistent, followed_position=s.followed_position, headline=s.headline,
        blind_call=blind.get(s.persona), conflict=h.conflicts.get(s.persona),
        brand_changed=s.persona in {p for p, _, _ in h.brand_changes},
        model=(s.a_first or s.b_first).model if (s.a_first or s.b_first) else None,
    ) for s in h.seats]
    return HeadToHeadView(
        a=h.a, b=h.b, pick=h.pick(), votes=h.votes(), consistency=h.consistency,
        position_followers=h.position_followers, blind=bool(h.blind_seats),
        blind_pick=h.pick(h.blind_seats) if h.blind_seats else None, brand_effect=h.brand_effect,
        brand_changes=[{"persona": p, "named": n, "blind": b} for p, n, b in h.brand_changes],
        recused=h.recused, recused_titles=[titles.get(p, p.replace("-", " ").title()) for p in h.recused],
        seats=seats, margin_note=h.margin_note(),
    )
