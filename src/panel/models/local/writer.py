"""The verdict writer: one verdict JSON object, its keys typed by panel and its values written by
the model, driven step by step by the BatchEngine. Sampling settings and token budgets live here.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, replace

from . import calibrate, fields
from .engine import VERDICT_CTX


@dataclass(frozen=True)
class Sampling:
    """Sampling settings for free text, chosen against looping (sweep in docs/benchmarks-local.md).

    Left alone, SmolLM2-135M repeats whole clauses ("AI can make you happy, AI can make you
    happy, ..."); at the llama-cpp-python chat default (temperature 0.2, no penalty) only 27% of a
    rationale's word trigrams are distinct. A repeat penalty of 1.15 over the last 128 tokens took
    that to 100% in two sweeps of 30 rationales (worst case 98-100%), and the model closed its
    strings by itself. 1.05 still looped; 1.3 makes sentences odder and shorter; DRY or a frequency penalty alone
    still looped; below temperature 0.5 loops come back, above 0.7 the text wanders.
    """

    temperature: float = 0.6
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.15
    penalty_last_n: int = 128
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    dry_multiplier: float = 0.0  # off: no measurable gain on top of the repeat penalty
    dry_base: float = 1.75
    dry_allowed_length: int = 2


DEFAULT_SAMPLING = Sampling()


@dataclass(frozen=True)
class Budget:
    """Token budget per verdict field. The rationale gets most; the rest are short by nature."""

    rationale_min_words: int = 55  # the panel wants >= 50 words; a margin for trimming
    rationale_max_tokens: int = 150
    headline_max_tokens: int = 20
    item_max_tokens: int = 12
    max_items: int = 2  # per list; the schema allows 8, but past two a 135M model mostly repeats itself

    def max_reply_tokens(self) -> int:
        """Sampled values plus what this module types around them (keys, quotes, commas)."""
        items = 3 * self.max_items * (self.item_max_tokens + 3)
        return self.rationale_max_tokens + self.headline_max_tokens + items + 64


DEFAULT_BUDGET = Budget()
DEFAULT_MAX_TOKENS = 512  # for plain (non-verdict) completions


@dataclass
class LocalCompletion:
    """Usage in llama.cpp's own tokens: the prompt as the chat template renders it, and the reply
    text. A verdict's reply is partly typed by this module (keys, punctuation) and partly
    sampled; `sampled_tokens` counts what the model chose (each a forward pass)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    sampled_tokens: int = 0


def _seed_for(messages: list[dict]) -> int:
    """Same prompt, same settings -> same answer: a re-run after a prompt edit shows what the edit
    changed, not sampling noise."""
    return zlib.crc32(json.dumps(messages, sort_keys=True).encode())


def _budget_for(max_tokens: int | None) -> Budget:
    """A persona's max_tokens caps the whole verdict; the rationale gets what the tail leaves."""
    if max_tokens is None:
        return DEFAULT_BUDGET
    tail = DEFAULT_BUDGET.headline_max_tokens + 3 * DEFAULT_BUDGET.item_max_tokens
    rationale = max(32, min(DEFAULT_BUDGET.rationale_max_tokens, max_tokens - tail))
    return replace(DEFAULT_BUDGET, rationale_max_tokens=rationale)




class VerdictWriter:
    """Writes one verdict JSON object: this code types the keys, the model writes the values.

    `run()` is a generator driven by the BatchEngine: it yields the token list it wants the
    context to hold and receives the `Logits` of the last token.
    """

    def __init__(self, model, messages: list[dict], sampling: Sampling, budget: Budget, seed: int | None = None):
        self.m = model
        self.sampling = sampling
        self.budget = budget
        self.seed = _seed_for(messages) if seed is None else seed
        self.messages = messages
        self.prompt = model.prompt_tokens(messages)
        room = VERDICT_CTX - len(self.prompt)
        if room < budget.max_reply_tokens():
            raise ValueError(
                f"prompt too long for the local model: {len(self.prompt)} tokens leave {room} of "
                f"{VERDICT_CTX} for a verdict that needs up to {budget.max_reply_tokens()}"
            )
        self.tokens = list(self.prompt)  # everything in the reply so far, typed or sampled
        self.logits = None  # the engine's Logits for exactly self.tokens, while they are current
        self.generated = 0  # the model's own choices: sampled tokens and decisions
        self.written: list[int] = []  # the tokens it sampled so far, over all fields
        self.values: set[str] = set()  # list items so far, to drop repeats across lists

    def max_reply_tokens(self) -> int:
        return self.budget.max_reply_tokens()

    def run(self):
        b = self.budget
        verdict, confidence = yield from self.decide()
        # The decision was made first (panel.models.local.calibrate) and is typed before the
        # rationale, so the rationale argues for it rather than for whatever the model drifts to.
        # The confidence is not shown to the model: it does not help it write.
        self.say(f'{{"verdict": "{verdict}", "rationale": "')
        rationale = yield from self.rationale()
        self.say('", "headline": "')
        headline = (yield from self.text(2, b.headline_max_tokens, sentences=True)) or "(no headline)"
        self.say('", "strengths": ["')
        strengths = yield from self.items(b.max_items)
        self.say(', "risks": ["')
        risks = yield from self.items(b.max_items)
        self.say(', "competitors":')
        competitors = yield from self.items(b.max_items, may_be_empty=True)
        block = fields.brief_text(self.messages)
        text = json.dumps(
            {
                "rationale": rationale,
                "verdict": verdict,
                "confidence": confidence,
                "headline": fields.headline(headline, rationale, self.messages[0]["content"],
                                            fields.brief_field(block, "name")),
                "strengths": fields.items(strengths, block=block, grounded=False),
                "risks": fields.items(risks, block=block, grounded=False),
                "competitors": fields.items(competitors, block=block, grounded=True),
            },
            ensure_ascii=False,
        )
        return LocalCompletion(
            text=text,
            prompt_tokens=len(self.prompt),
            completion_tokens=len(self.m.tokenize(text)),
            sampled_tokens=self.generated,
        )

    def rationale(self):
        """The rationale; written again (once, with another seed) if it came out short of its
        minimum, which happens when the model degenerates into a run of letters without spaces."""
        b = self.budget
        start, written, seed = len(self.tokens), len(self.written), self.seed
        text = yield from self.text(b.rationale_min_words, b.rationale_max_tokens, sentences=True)
        if len(text.split()) < b.rationale_min_words:
            del self.tokens[start:], self.written[written:]
            self.logits, self.seed = None, seed + 1
            text = yield from self.text(b.rationale_min_words, b.rationale_max_tokens, sentences=True)
        return text

    def say(self, text: str) -> None:
        """Type text into the reply (JSON punctuation and keys): evaluated, never sampled."""
        self.tokens += self.m.tokenize(text)
        self.logits = None

    def evaluate(self):
        """Have the engine evaluate self.tokens (unless the logits on hand already belong to them)."""
        if self.logits is None:
            self.logits = yield self.tokens
        return self.logits

    def text(self, min_words: int, max_tokens: int, *, sentences: bool = False):
        """Sample the inside of a JSON string, unconstrained, and return its value.

        It ends when the model closes the string (a token containing a quote), at the first sentence
        end past `min_words` if `sentences`, or at the budget. Closing tokens are banned until
        `min_words`. Afterwards self.tokens holds the value without its closing quote.
        """
        m = self.m
        chain = m.sampler(self.sampling, self.seed + len(self.tokens))
        for token in self.written[-self.sampling.penalty_last_n :]:
            chain.accept(token)  # the repeat penalty remembers earlier fields: no item echoing the last
        start = len(self.tokens)
        raw, tail = b"", b""  # tail: the part of a closing token before its quote, e.g. "." of '."'
        closed = False
        while len(self.tokens) - start < max_tokens:
            logits = yield from self.evaluate()
            values = logits.values()
            values[m.controls] = -float("inf")
            if len(raw.split()) < min_words:
                values[m.closers] = -float("inf")
            token = logits.sample(chain)
            self.generated += 1
            if token in m.eog or token in m.quote:
                tail = m.pieces[token].split(b'"', 1)[0] if token in m.quote else b""
                closed = True
                break
            self.tokens.append(token)
            self.written.append(token)
            self.logits = None
            raw += m.pieces[token]
            if sentences and _ends_sentence(raw, min_words):
                break
        if not closed and sentences and not _ends_sentence(raw, min_words):
            raw = self._trim_to_sentence(start, min_words)
        if tail:
            self.say(tail.decode("utf-8", "ignore"))
            raw += tail
        return _decode_value(raw)

    def _trim_to_sentence(self, start: int, min_words: int) -> bytes:
        """Out of budget mid-sentence: cut back to the last full sentence if that keeps enough words."""
        pieces = [self.m.pieces[t] for t in self.tokens[start:]]
        for k in range(len(pieces), 0, -1):
            head = b"".join(pieces[:k])
            if len(head.split()) < min_words:
                break
            if _ends_sentence(head, min_words):
                del self.tokens[start + k :]
                self.logits = None
                return head
        return b"".join(pieces)

    def choose(self, options: list[tuple[str, ...]]):
        """Pick between continuations by the logits of their first tokens: one forward pass at most,
        none when the logits on hand belong to this position (e.g. right after an item). Each
        option may be spelt several ways (`"]` and `"],` both end a list); its probability is the
        sum over its spellings, relative to all the spellings compared."""
        import numpy as np

        logits = (yield from self.evaluate()).values()
        ids = [[self.m.tokenize(spelling)[0] for spelling in option] for option in options]
        flat = np.array([logits[i] for group in ids for i in group], dtype=np.float64)
        weights = np.exp(flat - flat.max())
        weights /= weights.sum()
        probs, at = [], 0
        for group in ids:
            probs.append(float(weights[at : at + len(group)].sum()))
            at += len(group)
        self.generated += 1
        return int(np.argmax(probs)), probs

    def decide(self):
        """`ship` or `skip` from the calibrated likelihood of "This is a good tool." against "This is
        a bad tool." as the start of the answer (panel.models.local.calibrate); the confidence is
        that calibrated probability. Read before the rationale is written, at the prompt's end."""
        raw = yield from self.log_odds_good()
        offset = self.m.calibration_for(self.messages).offset
        p_good = calibrate.sigmoid(raw - offset)
        verdict = "ship" if p_good >= 0.5 else "skip"
        return verdict, round(max(p_good, 1 - p_good), 2)

    def log_odds_good(self):
        """log P(GOOD) - log P(BAD) right after the prompt, token by token on the batch engine."""
        total = 0.0
        for cont, sign, shared in calibrate.continuations(self.m.tokenize):
            for i, token in enumerate(cont[shared:], start=shared):
                self.tokens, self.logits = self.prompt + cont[:i], None
                total += sign * calibrate.log_prob((yield from self.evaluate()).values(), token)
        self.tokens, self.logits = list(self.prompt), None
        return total

    def items(self, max_items: int, *, may_be_empty: bool = False):
        """A list of short strings. After each item the model chooses `",` (another) or `"]` (done)."""
        items: list[str] = []
        if may_be_empty:
            if (yield from self.choose([(' ["',), (" []",)]))[0] == 1:
                self.say(" []")
                return items
            self.say(' ["')
        while True:
            value = (yield from self.text(1, self.budget.item_max_tokens)).strip().rstrip(",;").strip()
            if not value or value.casefold() in self.values:  # empty, or repeats this list or an earlier one
                break
            items.append(value[:300])
            self.values.add(value.casefold())
            if len(items) >= max_items or (yield from self.choose([('",',), ('"]', '"],')]))[0] == 1:
                break
            self.say('", "')
        self.say('"]')
        return items



class JudgmentWriter(VerdictWriter):
    """Writes one head-to-head judgment: a rationale, then `first`, `second` or `tie` read off the
    logits (its probability is the confidence), then a headline."""

    def run(self):
        b = self.budget
        self.say('{"rationale": "')
        rationale = yield from self.rationale()
        self.say('", "pick": "')
        options = ["first", "second", "tie"]
        best, probs = yield from self.choose([(o,) for o in options])
        pick = options[best]
        self.say(f'{pick}", "confidence": {probs[best]:.2f}, "headline": "')
        headline = (yield from self.text(2, b.headline_max_tokens, sentences=True)) or ""
        text = json.dumps({"rationale": rationale, "pick": pick, "confidence": round(probs[best], 2),
                           "headline": fields.headline(headline, rationale, self.messages[0]["content"],
                                                       fields.brief_field(fields.brief_text(self.messages), "name"))},
                          ensure_ascii=False)
        return LocalCompletion(text=text, prompt_tokens=len(self.prompt),
                               completion_tokens=len(self.m.tokenize(text)), sampled_tokens=self.generated)


_SENTENCE_END = re.compile(rb"[a-zA-Z0-9)\]%][.!?][\"')]?$")


def _ends_sentence(raw: bytes, min_words: int) -> bool:
    return len(raw.split()) >= min_words and bool(_SENTENCE_END.search(raw.rstrip()))


def _decode_value(raw: bytes) -> str:
    """The model wrote the inside of a JSON string; honour its escapes (\\n, \\u00e9) if they parse."""
    text = raw.decode("utf-8", "ignore")
    try:
        value = json.loads(f'"{text}"')
    except json.JSONDecodeError:
        value = text
    return value.strip()
