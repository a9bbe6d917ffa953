"""The model seam, driven through litellm with the scripted provider."""

import asyncio
import json

import httpx
import pytest

from panel.models import scripted
from panel.models.seam import ModelSeam, ModelSettings
from panel.core.errors import VerdictParseError
from panel.core.verdict import parse_verdict
from panel.models.redact import redact
from panel.models.retry import retry_after_seconds

GOOD = {
    "rationale": "Solid tool with a clear niche.",
    "verdict": "ship",
    "confidence": 0.8,
    "headline": "Worth shipping",
    "strengths": ["fast"],
    "risks": ["young"],
    "competitors": ["Other"],
}
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "review this"}]


def review(model="scripted/t", **kw):
    seam = kw.pop("seam", None) or ModelSeam(concurrency=2)
    return asyncio.run(seam.review(ModelSettings(model=model, **kw), "skeptic", "v1", MESSAGES))


def litellm_error(cls_name, status, headers=None):
    from panel.models.providers import get_litellm

    lt = get_litellm()
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    cls = getattr(lt, cls_name)
    return cls(message=f"{cls_name} from test", llm_provider="openai", model="t", response=response)


def test_parse_verdict_accepts_fences_and_surrounding_prose():
    assert parse_verdict(json.dumps(GOOD)).verdict == "ship"
    assert parse_verdict("```json\n" + json.dumps(GOOD) + "\n```").headline == "Worth shipping"
    assert parse_verdict("Here you go: " + json.dumps(GOOD) + " thanks").confidence == 0.8


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("I like it", "not valid JSON"),
        (json.dumps(GOOD)[:40], "not valid JSON"),
        ("[1, 2]", "one JSON object"),
        (json.dumps({**GOOD, "verdict": "maybe"}), "verdict"),
        (json.dumps({**GOOD, "confidence": 7}), "confidence"),
    ],
)
def test_parse_verdict_rejects(text, message):
    with pytest.raises(VerdictParseError, match=message):
        parse_verdict(text)


def test_valid_answer_is_ok_with_usage_recorded():
    scripted.script("t", [GOOD])
    out = review()
    assert out.status == "ok" and out.answer.verdict == "ship"
    assert out.attempts == 1 and out.prompt_tokens > 0 and out.completion_tokens > 0
    assert out.cost == 0.0 and out.request == MESSAGES
    sent = scripted.calls[0]["params"]["response_format"]
    assert sent["type"] == "json_schema" and "rationale" in sent["json_schema"]["schema"]["properties"]


def test_invalid_answer_is_reasked_with_the_error():
    scripted.script("t", ["not json at all", {**GOOD, "verdict": "maybe"}, GOOD])
    out = review()
    assert out.status == "ok" and out.attempts == 3
    third_request = scripted.calls[2]["messages"]
    assert third_request[-2] == {"role": "assistant", "content": json.dumps({**GOOD, "verdict": "maybe"})}
    assert "verdict" in third_request[-1]["content"] and "could not be used" in third_request[-1]["content"]


def test_unscored_after_two_reasks_keeps_raw_text():
    scripted.script("t", ["nope 1", "nope 2", "nope 3", GOOD])
    out = review()
    assert out.status == "unscored" and out.answer is None
    assert out.raw == "nope 3" and "not valid JSON" in out.error
    assert scripted.call_count() == 3  # the fourth item was never asked for


def test_transient_errors_are_retried_honouring_retry_after():
    scripted.script("t", [litellm_error("RateLimitError", 429, {"retry-after": "0.01"}),
                          litellm_error("ServiceUnavailableError", 503), GOOD])
    out = review()
    assert out.status == "ok" and out.attempts == 3


def test_retries_are_bounded():
    scripted.script("t", [litellm_error("InternalServerError", 500, {"retry-after": "0"}) for _ in range(6)])
    out = review()
    assert out.status == "error" and out.attempts == 4
    assert scripted.call_count() == 4


def test_auth_error_is_not_retried_and_stops_later_calls():
    scripted.script("t", [litellm_error("AuthenticationError", 401), GOOD, GOOD])
    seam = ModelSeam()
    first = review(seam=seam)
    assert first.status == "error" and first.attempts == 1 and "authentication failed" in first.error
    second = review(seam=seam)
    assert second.status == "error" and "not attempted" in second.error
    assert scripted.call_count() == 1


def test_bad_request_is_not_retried():
    scripted.script("t", [litellm_error("BadRequestError", 400), GOOD])
    out = review()
    assert out.status == "error" and out.attempts == 1 and "rejected" in out.error


def test_concurrency_is_capped_by_one_semaphore():
    active = {"now": 0, "peak": 0}

    async def main():
        seam = ModelSeam(concurrency=3)
        from panel.models.providers import get_litellm

        lt = get_litellm()
        real = lt.acompletion

        async def counting(**kwargs):
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
            await asyncio.sleep(0.01)
            try:
                return await real(**kwargs)
            finally:
                active["now"] -= 1

        lt.acompletion = counting
        try:
            outs = await asyncio.gather(*(seam.review(ModelSettings("scripted/c"), "p", "v", MESSAGES)
                                          for _ in range(12)))
        finally:
            lt.acompletion = real
        return outs

    outs = asyncio.run(main())
    assert all(o.status == "ok" for o in outs)
    assert active["peak"] == 3


def test_budget_stops_new_calls():
    seam = ModelSeam(max_cost=0.0)
    seam.spent, seam.calls_started = 0.5, 1
    out = review(seam=seam)
    assert out.status == "error" and "budget" in out.error and scripted.call_count() == 0


def test_redact_removes_keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef123456")
    assert "abcdef123456" not in redact("Incorrect API key provided: sk-test-abcdef123456.")
    assert "sk-proj" not in redact("key sk-proj-XYZ123abc was rejected")
    assert redact("Incorrect key sk-abc*********1234 given") == "Incorrect key [redacted] given"


def test_retry_after_parsing():
    class E:
        def __init__(self, headers):
            self.response = type("R", (), {"headers": headers})()

    assert retry_after_seconds(E({"retry-after": "2"})) == 2.0
    assert retry_after_seconds(E({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(E({})) is None
    assert retry_after_seconds(ValueError()) is None
    later = retry_after_seconds(E({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"}))
    assert later > 1e6
