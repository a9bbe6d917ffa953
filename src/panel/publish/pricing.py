"""The pricing read: what a tool's price and licence mean for someone shipping with it."""

from __future__ import annotations

import re

from pydantic import BaseModel


class PricingRead(BaseModel):
    model: str
    entry: str
    entry_amount: float | None  # for sorting; None when the entry price is not a plain amount
    notes: str | None
    licence: str
    licence_kind: str
    meaning: str  # what the price and licence mean for someone shipping with the tool

    @property
    def licence_note(self) -> str | None:
        """The licence's kind, when it says more than the licence's own name ("Apache-2.0":
        permissive open source); None for "Proprietary (proprietary)"."""
        return None if self.licence_kind.lower() in self.licence.lower() else self.licence_kind


_LICENCE_KINDS = [
    (re.compile(r"\b(a?gpl|lgpl|mpl|eupl|copyleft)", re.I), "copyleft open source",
     "Copyleft licence: free to use, but shipping a modified copy (or, under the AGPL, serving one) means"
     " publishing your changes"),
    (re.compile(r"\b(apache|mit|bsd|isc|unlicense|zlib|cc0)\b", re.I), "permissive open source",
     "Permissive licence: you may self-host it, change it and sell what you build on it, as long as you keep"
     " the notices"),
    (re.compile(r"\b(proprietary|commercial|closed)\b", re.I), "proprietary",
     "Closed source: you use it on the vendor's terms, and those terms and the price can change under you"),
]
_CUSTOM_LICENCE = ("custom terms", "Custom terms, not a standard open-source licence: read them for limits on use"
                   " before you build on it")

# Matched against the pricing model only (the notes are prose: "no usage fees" is not usage-based).
_FREEMIUM = (re.compile(r"freemium|free tier", re.I), "a free tier to start, with limits that move regular use onto a"
             " paid plan")
_COST_RULES = [
    (re.compile(r"open weights|open source|self-host", re.I), "no fee for the tool itself; you pay for the hardware or"
     " hosting it runs on"),
    (re.compile(r"subscription|per seat|per month", re.I), "a recurring fee per seat that grows with the team"),
    (re.compile(r"usage|per token|pay as you go|metered", re.I), "a bill that grows with use, so budget for your"
     " traffic"),
    (re.compile(r"enterprise|contact sales", re.I), "pricing through a sales contract"),
]
_AMOUNT = re.compile(r"[$€£]\s*(\d+(?:[.,]\d+)?)")


def entry_amount(entry: str) -> float | None:
    """The entry price as a number for sorting: Free is 0, "$20 per month" is 20."""
    text = entry.strip().lower()
    if text.startswith("free") or text in ("$0", "0", "none"):
        return 0.0
    match = _AMOUNT.search(entry)
    return float(match.group(1).replace(",", ".")) if match else None


def licence_kind(licence: str) -> tuple[str, str]:
    for pattern, kind, meaning in _LICENCE_KINDS:
        if pattern.search(licence):
            return kind, meaning
    return _CUSTOM_LICENCE


def pricing_read(pricing: dict, licence: str) -> PricingRead:
    kind, licence_meaning = licence_kind(licence)
    described = pricing["model"]
    if _FREEMIUM[0].search(described):
        costs = [_FREEMIUM[1]]
    else:
        costs = [text for pattern, text in _COST_RULES if pattern.search(described)][:2]
    cost = " or ".join(costs) if costs else "a pricing model the vendor's own page has to explain"
    meaning = f"{cost[0].upper()}{cost[1:]}. {licence_meaning}."
    return PricingRead(
        model=pricing["model"], entry=pricing["entry"], entry_amount=entry_amount(pricing["entry"]),
        notes=pricing.get("notes"), licence=licence, licence_kind=kind, meaning=meaning,
    )
