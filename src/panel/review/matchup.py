"""Planning head-to-head judgments: for each pair of tools, each persona seated on both panels is
asked to pick one, in both orders (and, with --blind, again with the brands masked). Like a review
pair, each judgment is planned once, with its model settings and cache key.

The cache key covers the persona version, the head-to-head templates, both brief hashes in the
order shown, blind or named, the model and its sampling settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from ..core.brief import ToolBrief
from ..inputs.compare_prompts import masked
from ..inputs.personas import Persona
from ..models.seam import ModelSettings
from .plan import ReviewOptions, cache_key, seated_personas


@dataclass(frozen=True)
class JudgePair:
    """One persona asked to judge one ordering of two tools."""

    persona: Persona
    first: ToolBrief  # as shown (masked when blind)
    second: ToolBrief
    first_slug: str  # the real tools
    second_slug: str
    first_hash: str
    second_hash: str
    blind: bool
    prompt_version: str
    settings: ModelSettings
    key: str
    match: str = ""  # the MatchPlan's slug ("a-vs-b" in the order the user named them), for progress

    @property
    def name(self) -> str:
        return self.persona.name


@dataclass
class MatchPlan:
    """Every judgment of one pair of tools (a, b in the order the user named them)."""

    a: ToolBrief
    b: ToolBrief
    a_hash: str
    b_hash: str
    seated: list[str]
    pairs: list[JudgePair]
    recused: list[str] = field(default_factory=list)  # personas left out for a vendor conflict

    @property
    def slug(self) -> str:
        return f"{self.a.slug}-vs-{self.b.slug}"


def plan_matchups(briefs: list[ToolBrief], personas: dict[str, Persona], options: ReviewOptions,
                  prompt_version: str, *, blind: bool = False, model_for=None) -> list[MatchPlan]:
    """A plan per pair of tools. `model_for(persona, a, b)` may give a persona another model for a
    pair (a vendor conflict with --conflict-model), or None to recuse it."""
    plans = []
    for a, b in combinations(briefs, 2):
        hashes = {a.slug: a.content_hash(), b.slug: b.content_hash()}
        both = set(seated_personas(b, personas, options.only_personas))
        seated = [name for name in seated_personas(a, personas, options.only_personas) if name in both]
        plan = MatchPlan(a=a, b=b, a_hash=hashes[a.slug], b_hash=hashes[b.slug], seated=seated, pairs=[])
        # (first, second, as the first is shown, as the second is shown, masked): both orders, and
        # with --blind both orders again with the brands masked, labelled by position.
        orders = [(a, b, a, b, False), (b, a, b, a, False)]
        if blind:
            orders += [(x, y, masked(x, "A", y), masked(y, "B", x), True) for x, y in ((a, b), (b, a))]
        for name in seated:
            model = model_for(personas[name], a, b) if model_for else options.model_for(personas[name].spec.model)
            if model is None:
                plan.recused.append(name)
                continue
            settings = options.settings_for(personas[name], model)
            for first, second, first_shown, second_shown, masked_run in orders:
                plan.pairs.append(_judge(personas[name], first, second, first_shown, second_shown, hashes,
                                         masked_run, prompt_version, settings, plan.slug))
        plans.append(plan)
    return plans


def _judge(persona, first, second, first_shown, second_shown, hashes, blind, prompt_version, settings,
           match: str) -> JudgePair:
    key = cache_key(f"{persona.version}:{prompt_version}",
                    f"{hashes[first.slug]}|{hashes[second.slug]}|{'blind' if blind else 'named'}",
                    settings.model, settings.params())
    return JudgePair(persona=persona, first=first_shown, second=second_shown, first_slug=first.slug,
                     second_slug=second.slug, first_hash=hashes[first.slug], second_hash=hashes[second.slug],
                     blind=blind, prompt_version=prompt_version, settings=settings, key=key, match=match)
