"""The head-to-head answer for a pair of tools, computed from the personas' judgments.

Each persona judged the pair in both orders. Its call counts only when it is consistent: the same
tool (or a tie) both times. A persona that picked whichever tool was shown first (or second) both
times followed the position, not the tools, and counts as a tie, as does any other disagreement
between its two answers. The panel's pick is the tool with more consistent picks; equal counts
are a tie; a pick below the bar of `HeadToHead.unclear` (fewer than half the personas consistent,
or a lead of one) is shown as no clear pick, with the reason. With --blind the same judgments are
made with the brands masked, and the brand effect is the personas whose consistent call changed
when the names were visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.judgment import JudgmentResult
from ..core.vendors import conflict


@dataclass
class SeatCall:
    """One persona on one pair: its answer in each order and what it counts as."""

    persona: str
    a_first: JudgmentResult | None  # the judgment with tool a shown first
    b_first: JudgmentResult | None

    @property
    def answered(self) -> bool:
        return all(j is not None and j.status == "ok" for j in (self.a_first, self.b_first))

    @property
    def consistent(self) -> bool:
        return self.answered and self.a_first.picked == self.b_first.picked

    @property
    def followed_position(self) -> bool:
        """The same position both times: the tool shown first (or second), whichever it was."""
        return self.answered and self.a_first.position == self.b_first.position != "tie"

    @property
    def call(self) -> str | None:
        """The slug this persona picks, "tie" (a tie, or inconsistent), or None without an answer."""
        if not self.answered:
            return None
        return self.a_first.picked if self.consistent else "tie"

    @property
    def headline(self) -> str | None:
        """The headline of an answer that agrees with the call; for a call that is a tie only
        because the two answers disagree, the first answer's (the reader sees why it picked)."""
        answers = [j for j in (self.a_first, self.b_first) if j is not None and j.judgment is not None]
        for j in answers:
            if j.picked == self.call:
                return j.judgment.headline
        return answers[0].judgment.headline if answers else None


@dataclass
class HeadToHead:
    a: str
    b: str
    seats: list[SeatCall]
    blind_seats: list[SeatCall] = field(default_factory=list)
    conflicts: dict[str, str] = field(default_factory=dict)  # persona -> the conflict, when its judge model has one
    recused: list[str] = field(default_factory=list)

    def counted(self, seats: list[SeatCall] | None = None) -> list[SeatCall]:
        return [s for s in (self.seats if seats is None else seats) if s.call is not None]

    def votes(self, seats: list[SeatCall] | None = None) -> dict[str, int]:
        calls = [s.call for s in self.counted(seats)]
        return {self.a: calls.count(self.a), self.b: calls.count(self.b), "tie": calls.count("tie")}

    def pick(self, seats: list[SeatCall] | None = None) -> str | None:
        """The tool more consistent picks named; "tie" when as many named each; None with no answer."""
        votes = self.votes(seats)
        if not self.counted(seats):
            return None
        if votes[self.a] == votes[self.b]:
            return "tie"
        return self.a if votes[self.a] > votes[self.b] else self.b

    def unclear(self) -> str | None:
        """Why the pick is too thin to be called the panel's pick (see `unclear_reason`), or None."""
        answered = [s for s in self.seats if s.answered]
        return unclear_reason(self.a, self.b, self.pick(), self.votes(), sum(s.consistent for s in answered),
                              len(answered))

    @property
    def consistency(self) -> float | None:
        """Share of the answered personas whose two answers agree."""
        answered = [s for s in self.seats if s.answered]
        return sum(s.consistent for s in answered) / len(answered) if answered else None

    @property
    def position_followers(self) -> list[str]:
        return [s.persona for s in self.seats if s.followed_position]

    def _named_and_blind(self) -> list[tuple[SeatCall, SeatCall]]:
        """Each persona answered both with the names shown and masked: (named, blind)."""
        blind = {s.persona: s for s in self.blind_seats}
        return [(s, blind[s.persona]) for s in self.seats
                if s.persona in blind and s.answered and blind[s.persona].answered]

    @property
    def brand_changes(self) -> list[tuple[str, str | None, str | None]]:
        """(persona, named call, blind call) for each persona whose call changed when names were shown."""
        return [(s.persona, s.call, b.call) for s, b in self._named_and_blind() if s.call != b.call]

    @property
    def brand_effect(self) -> float | None:
        """Share of the personas answered both ways whose call changed with the names visible."""
        compared = self._named_and_blind()
        return len(self.brand_changes) / len(compared) if compared else None

    def margin_note(self) -> str | None:
        """What would change the pick, in words (None when nobody answered: there is no pick)."""
        if not self.counted():
            return None
        votes = self.votes()
        lead = abs(votes[self.a] - votes[self.b])
        if lead == 0:
            return "One persona changing its call would decide it."
        if lead == 1:
            return "One persona changing its call would make it a tie."
        switches = (lead + 1) // 2
        tie = lead % 2 == 0
        return (f"{switches} persona{'s' if switches > 1 else ''} changing sides would "
                f"{'make it a tie' if tie else 'reverse it'}.")


def unclear_reason(a: str, b: str, pick: str | None, votes: dict[str, int], consistent: int,
                   answered: int) -> str | None:
    """Why a pick rests on too little to be called the panel's pick, or None when it holds (or there
    is no pick to doubt: a tie, no answer). The bar: at least half of the personas who answered kept
    their call when the order was swapped, and the pick leads by more than one call."""
    if pick not in (a, b):
        return None
    reasons = []
    if 2 * consistent < answered:
        reasons.append(f"fewer than half of them ({consistent} of {answered}) kept their call when the order"
                       " was swapped")
    if abs(votes[a] - votes[b]) <= 1:
        reasons.append("it leads by a single persona's call")
    return " and ".join(reasons) or None


def head_to_head(a: str, b: str, judgments: list[JudgmentResult], vendors: dict[str, str], names: dict[str, str],
                 recused: list[str] | None = None) -> HeadToHead:
    """The pair's answer from its judgments (`vendors`, `names`: slug -> the brief's vendor and name)."""

    def seats(blind: bool) -> list[SeatCall]:
        by_persona: dict[str, dict[str, JudgmentResult]] = {}
        for j in judgments:
            if j.blind == blind:
                by_persona.setdefault(j.persona, {})[j.first] = j
        return [SeatCall(p, order.get(a), order.get(b)) for p, order in by_persona.items()]

    result = HeadToHead(a=a, b=b, seats=seats(False), blind_seats=seats(True), recused=list(recused or []))
    for j in judgments:
        for slug in (a, b):
            vendor = conflict(j.model, vendors[slug])
            if vendor:
                result.conflicts[j.persona] = (f"judged with {j.model}, a {vendor} model, and {vendor} makes"
                                               f" {names[slug]}")
    return result


@dataclass
class PersonaConsistency:
    persona: str
    pairs: int  # pairs it judged in both orders
    consistent: int
    by_position: int  # of which it picked by position (first both times, or second)

    @property
    def rate(self) -> float | None:
        return self.consistent / self.pairs if self.pairs else None

    def to_json(self) -> dict:
        return {"persona": self.persona, "pairs": self.pairs, "consistent": self.consistent,
                "by_position": self.by_position, "rate": None if self.rate is None else round(self.rate, 4)}


def consistency_by_persona(rows: list[dict]) -> list[PersonaConsistency]:
    """Each persona's position consistency over every stored pair it judged in both orders (the
    newest judgment of each ordering, per model, prompt and brief text, named and blind apart)."""
    orders: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        # The same pair means the same two briefs (slug and text), asked of the same prompt.
        pair = tuple(sorted(((row["first_slug"], row["first_hash"]), (row["second_slug"], row["second_hash"]))))
        key = (row["persona"], row["persona_version"], row["prompt_version"], pair, row["blind"], row["model"])
        orders.setdefault(key, {})[row["first_slug"]] = row
    found: dict[str, PersonaConsistency] = {}
    for (persona, _, _, pair, _, _), both in orders.items():
        if len(both) < 2:
            continue
        one, two = both[pair[0][0]], both[pair[1][0]]
        tally = found.setdefault(persona, PersonaConsistency(persona, 0, 0, 0))
        tally.pairs += 1
        tally.consistent += one["picked"] == two["picked"]
        tally.by_position += one["pick"] == two["pick"] != "tie"
    return sorted(found.values(), key=lambda c: c.persona)
