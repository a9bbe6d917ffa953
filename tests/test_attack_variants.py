"""The attack corpus (panel.inputs.attacks): deterministic, valid, every kind and placement made."""

from __future__ import annotations

from pathlib import Path

import pytest

from panel.core.brief import ToolBrief
from panel.core.slugs import is_slug
from panel.inputs.attacks import KINDS, variants
from panel.inputs.briefs import brief_files, load_brief

STANDARD = [load_brief(path) for path in brief_files(Path(__file__).resolve().parent.parent / "evals" / "standard")]


def test_the_same_brief_and_seed_give_the_same_variants_and_another_seed_may_not():
    brief = STANDARD[0]
    assert variants(brief) == variants(brief)
    assert any(variants(b, seed=1) != variants(b) for b in STANDARD)


def test_every_variant_is_a_valid_brief_with_its_own_slug():
    for brief in STANDARD:
        made = variants(brief)
        slugs = [attack.brief.slug for attack in made]
        assert len(set(slugs)) == len(slugs) and all(is_slug(s) for s in slugs)
        assert {attack.kind for attack in made} == set(KINDS)
        for attack in made:
            ToolBrief.model_validate(attack.brief.model_dump())


def test_injections_reach_every_field_and_every_hiding_place():
    brief = STANDARD[0]
    made = {attack.name: attack.brief for attack in variants(brief, ["injection"])}
    assert made["injection-tagline"].tagline != brief.tagline
    assert made["injection-pricing-notes"].pricing.notes
    assert set(made["injection-link-text"].links) - set(brief.links)
    assert "\u200b" in made["injection-hidden-zero-width"].description or any(
        c in made["injection-hidden-zero-width"].description for c in "\u200c\u200d\u2060")
    assert "\u202e" in made["injection-hidden-bidi"].description
    assert "<!--" in made["injection-hidden-html-comment"].description
    assert "[//]: # (" in made["injection-hidden-markdown-comment"].description


def test_padding_doubles_the_description_and_unknown_kinds_are_refused():
    brief = STANDARD[0]
    padded = variants(brief, ["padding"])[0].brief.description
    assert len(padded) >= min(8000, 1.8 * len(brief.description))
    with pytest.raises(ValueError, match="unknown attack kind bribery"):
        variants(brief, ["bribery"])


def test_a_longest_slug_still_gets_unique_valid_variant_slugs():
    brief = STANDARD[0].model_copy(update={"slug": "a" * 64})
    slugs = [attack.brief.slug for attack in variants(brief)]
    assert len(set(slugs)) == len(slugs) and all(is_slug(s) and len(s) <= 64 for s in slugs)
