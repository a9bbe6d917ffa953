"""The embedded model's ship/skip decision, and its calibration.

Measured on the labelled set (docs/benchmarks.md): read the old way, as the next token after a
rationale, SmolLM2 said "ship" to everything (P(ship) 0.8-1.0 for scams and duds alike). What it does
know is how likely it finds "This is a good tool." against "This is a bad tool." as the start of its
answer, once that likelihood is calibrated: the same persona prompt around content-free briefs
("N/A", "[MASK]", "...", empty) gives each persona's own bias, which is subtracted ("calibrate
before use"). The decision is ship when the calibrated probability of "good" is at least one half,
and the confidence is that probability (or its complement).

A calibration belongs to a persona prompt (the messages with the brief taken out) and a model; it is
computed once, on the model's chat context, and kept (the review batch also stores it with the
persona version).
"""

from __future__ import annotations

import hashlib
import math

from ...core.brief import Pricing, ToolBrief
from ...core.fence import LAYOUT, find_fenced, replace_fenced
from ...inputs.personas import fenced_block

GOOD, BAD = "This is a good tool.", "This is a bad tool."
_CACHE: dict[str, "Calibration"] = {}


class Calibration:
    def __init__(self, offset: float, content_free: list[float]):
        self.offset = offset  # log-odds of "good" the persona prompt gives an empty brief
        self.content_free = content_free  # P(good) for each content-free brief

    def to_json(self) -> dict:
        return {"offset": round(self.offset, 4), "content_free": [round(p, 4) for p in self.content_free]}


def content_free_briefs() -> list[ToolBrief]:
    briefs = [ToolBrief(slug=f"cf-{tag}", name=v, tagline=v, category=v, vendor=v, description=v,
                        pricing={"model": v, "entry": v}, licence=v, links={})
              for tag, v in (("na", "N/A"), ("mask", "[MASK]"), ("dots", "..."))]
    empty = ToolBrief.model_construct(slug="cf-empty", name="", tagline="", category="", vendor="", description="",
                                      pricing=Pricing.model_construct(model="", entry="", notes=None), licence="",
                                      links={}, panel=None)
    return [*briefs, empty]


def skeleton(messages: list[dict]) -> str | None:
    """A key for the persona prompt with the brief taken out (None: no fenced brief in it), and how a
    brief is shown in it (LAYOUT: a calibration measured with briefs shown otherwise is not reused)."""
    text = "\x00".join(m.get("content") or "" for m in messages)
    found = find_fenced(text)
    if found is None:
        return None
    blanked = replace_fenced(text, "<<<BRIEF>>>").replace(found.group(1), "FENCE") + LAYOUT
    return hashlib.sha256(blanked.encode()).hexdigest()[:16]


def with_brief(messages: list[dict], brief: ToolBrief) -> list[dict]:
    """The same messages around another brief (its own fence, as panel would render it)."""
    whole = "\x00".join(m.get("content") or "" for m in messages)
    found = find_fenced(whole)
    name, block = fenced_block(brief)
    return [{**m, "content": replace_fenced(m.get("content") or "", lambda _: block).replace(found.group(1), name)}
            for m in messages]


def continuations(tokenize) -> list[tuple[list[int], float, int]]:
    """GOOD and BAD as tokens, each with its sign in the log-odds and how many leading tokens the two
    share ("This is a"): those tokens' log-probabilities cancel, so they are not evaluated."""
    good, bad = tokenize(GOOD), tokenize(BAD)
    shared = 0
    while shared < min(len(good), len(bad)) - 1 and good[shared] == bad[shared]:
        shared += 1
    return [(good, 1.0, shared), (bad, -1.0, shared)]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def key_for(model: str, messages: list[dict]) -> str | None:
    """The cache key of a persona prompt on a local model (`local/<name>`), or None."""
    from .files import resolve_gguf

    return file_key(resolve_gguf(model.removeprefix("local/")).name, messages)


def file_key(gguf_name: str, messages: list[dict]) -> str | None:
    """The cache key of a persona prompt on one GGUF file, or None without a fenced brief."""
    found = skeleton(messages)
    return None if found is None else f"{gguf_name}:{found}"


def log_prob(logits, token: int) -> float:
    """log P(token) from a row of logits (a numpy array), computed stably."""
    import numpy as np

    values = np.asarray(logits, dtype=np.float64)
    top = values.max()
    return float(values[token] - top - np.log(np.exp(values - top).sum()))


def known(key: str) -> Calibration | None:
    return _CACHE.get(key)


def remember(key: str, calibration: Calibration) -> None:
    _CACHE[key] = calibration


def calibrations() -> dict[str, Calibration]:
    """Every calibration this process knows, by key (for the store)."""
    return dict(_CACHE)


def calibrate(score, messages: list[dict]) -> Calibration:
    """`score(messages) -> log-odds of GOOD over BAD` for each content-free variant of the prompt."""
    probabilities = [sigmoid(score(with_brief(messages, brief))) for brief in content_free_briefs()]
    return Calibration(logit(sum(probabilities) / len(probabilities)), probabilities)
