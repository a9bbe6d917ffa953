"""The embedded model's calibration (panel.models.local.calibrate), without the model: the persona
prompt with its brief swapped for content-free ones, the key that ties a calibration to a prompt,
and the offset computed from a scripted score."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from panel.inputs.briefs import load_brief
from panel.inputs.personas import load_personas, render_messages
from panel.models.local import calibrate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def personas():
    return load_personas(REPO / "personas")


@pytest.fixture(scope="module")
def briefs():
    return [load_brief(REPO / "evals" / "standard" / f"{slug}.yaml") for slug in ("ripgrep", "yieldmancer")]


def test_the_key_is_the_prompt_without_its_brief(personas, briefs):
    good, dud = (render_messages(personas["skeptic"], b) for b in briefs)
    assert good != dud
    assert calibrate.skeleton(good) == calibrate.skeleton(dud)  # same persona prompt, other brief
    other = render_messages(personas["builder"], briefs[0])
    assert calibrate.skeleton(other) != calibrate.skeleton(good)  # another persona is another key
    assert calibrate.skeleton([{"role": "user", "content": "no brief here"}]) is None


def test_content_free_prompts_keep_the_persona_and_drop_every_word_of_the_brief(personas, briefs):
    messages = render_messages(personas["skeptic"], briefs[0])
    variants = [calibrate.with_brief(messages, b) for b in calibrate.content_free_briefs()]
    assert len(variants) == 4
    for variant in variants:
        text = "\n".join(m["content"] for m in variant)
        assert "ripgrep" not in text.lower() and "BurntSushi" not in text
        assert calibrate.skeleton(variant) == calibrate.skeleton(messages)  # the same prompt around it
        # the persona's own words are all still there
        assert variant[0]["content"] == messages[0]["content"] or "<<<" in messages[0]["content"]
    assert "N/A" in variants[0][1]["content"] and "[MASK]" in variants[1][1]["content"]


def test_offset_is_the_log_odds_of_the_mean_content_free_probability(personas, briefs):
    messages = render_messages(personas["business"], briefs[1])
    scores = {"N/A": 2.0, "[MASK]": 1.0, "...": 0.0}

    def score(variant):  # a scripted model: a fixed log-odds per content-free brief, -1 for the empty one
        text = variant[-1]["content"]
        return next((v for k, v in scores.items() if f"name: {k}" in text or f"name: '{k}'" in text), -1.0)

    found = calibrate.calibrate(score, messages)
    expected = [1 / (1 + math.exp(-x)) for x in (2.0, 1.0, 0.0, -1.0)]
    assert found.content_free == pytest.approx(expected)
    mean = sum(expected) / 4  # 0.5976...
    assert found.offset == pytest.approx(math.log(mean / (1 - mean)))
    assert found.to_json()["offset"] == round(found.offset, 4)


def test_a_prompt_biased_towards_good_needs_more_than_its_bias_to_ship():
    # The decision rule in the writer: ship when sigmoid(raw - offset) >= 0.5.
    offset = calibrate.logit(0.9)  # the persona says "good" to an empty brief 9 times in 10
    assert calibrate.sigmoid(calibrate.logit(0.85) - offset) < 0.5  # raw 0.85 is below its own bias: skip
    assert calibrate.sigmoid(calibrate.logit(0.97) - offset) > 0.5  # clearly above it: ship
    assert calibrate.logit(0.0) < -10 and calibrate.logit(1.0) > 10  # clamped, never infinite


def test_the_words_good_and_bad_share_are_not_scored():
    # "This is a" is the same in both answers: its log-probabilities cancel in the log-odds.
    words = {}

    def tokenize(text):
        return [words.setdefault(w, len(words)) for w in text.split()]

    (good, plus, shared), (bad, minus, shared_too) = calibrate.continuations(tokenize)
    assert (plus, minus) == (1.0, -1.0) and shared == shared_too == 3
    assert good[:3] == bad[:3] and good[3] != bad[3]


def test_panel_ships_a_calibration_for_every_default_persona_as_it_stands(personas, briefs):
    """The shipped file (panel.models.local.shipped) must match today's persona prompts: after
    editing a shipped persona, `make calibrations` measures it again (else its first review would
    quietly measure it, and this test says why)."""
    import json

    from panel.models.local import shipped
    from panel.models.local.files import resolve_gguf

    data = json.loads(shipped.SHIPPED.read_text())
    gguf = resolve_gguf("smollm2")
    assert (data["gguf"], data["bytes"]) == (gguf.name, gguf.stat().st_size)
    for name, persona in personas.items():
        key = calibrate.file_key(gguf.name, render_messages(persona, briefs[0]))
        found = shipped.lookup(gguf, key)
        assert found is not None, f"no shipped calibration for {name}'s prompt: run `make calibrations`"
        assert data["calibrations"][key]["persona_version"] == persona.version
        assert found.offset == data["calibrations"][key]["offset"] and len(found.content_free) == 4
    from dataclasses import replace

    edited = replace(personas["skeptic"], prompt_source=personas["skeptic"].prompt_source + " Be brief.")
    assert shipped.lookup(gguf, calibrate.file_key(gguf.name, render_messages(edited, briefs[0]))) is None
    other = gguf.with_name("another-model.gguf")
    assert shipped.lookup(other, next(iter(data["calibrations"]))) is None  # another file: measured as before
