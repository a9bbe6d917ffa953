"""The embedded offline model: `local/smollm2` and `local/<path-to-file.gguf>`, run in-process by llama.cpp.

The model seam (panel.models.providers) registers these names as a litellm provider and calls `acomplete`;
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

The parts: files (finding the GGUF), formats (messages and response formats), threads (how many
llama.cpp may use), engine (decoding verdicts together), writer (one verdict, key by key); this
module loads a model and is the entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from ...core.errors import ModelConfigError
from . import calibrate, shipped
from .engine import N_BATCH, BatchEngine, _common_prefix
from .files import DEFAULT_NAME, resolve_gguf
from .formats import (
    CHATML_TEMPLATE,
    DEFAULT_SYSTEM,
    ensure_system,
    grammar_for,
    grammar_safe_schema,
    is_judgment_schema,
    is_verdict_schema,
    translate_response_format,
)
from .threads import ThreadGovernor, _cpu_sample, default_threads
from .writer import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_TOKENS,
    DEFAULT_SAMPLING,
    Budget,
    JudgmentWriter,
    LocalCompletion,
    Sampling,
    VerdictWriter,
    _budget_for,
    _seed_for,
)

__all__ = [
    "DEFAULT_BUDGET", "DEFAULT_NAME", "DEFAULT_SAMPLING", "DEFAULT_SYSTEM", "Budget", "LocalCompletion", "LocalModel",
    "Sampling", "VerdictWriter", "acomplete", "ensure_system", "get_model", "grammar_safe_schema",
    "is_verdict_schema", "resolve_gguf", "translate_response_format", "_budget_for", "_cpu_sample",
]

# The chat context (plain completions) holds one conversation: 2048 tokens is plenty and ~50 MB.
CHAT_CTX = 2048


class LocalModel:
    """One GGUF file: the llama-cpp-python object (tokenizer, chat template, plain completions)
    and a batch engine with its own context for verdicts. All llama.cpp work runs on the
    engine's thread."""

    def __init__(self, path: Path):
        self.path = path
        threads, adaptive = default_threads()
        # created first, so its first look at other processes' load spans the loading time
        self.threads = ThreadGovernor(threads, adaptive=adaptive)
        self.llama = _load_llama(path, threads)
        self._init_vocab()
        self._init_template()
        self._chains: dict[Sampling, object] = {}
        self.engine = BatchEngine(self.llama._model.model, threads, self.threads, self.n_vocab, str(path))
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
        seed: int | None = None,
    ) -> Future:
        """`seed` picks another draw for the same prompt (--samples); without it the same prompt
        always gets the same answer."""
        messages = ensure_system(messages)
        translated = translate_response_format(response_format)
        sampling = DEFAULT_SAMPLING if temperature is None else replace(DEFAULT_SAMPLING, temperature=temperature)
        draw = _seed_for(messages) + 7919 * (seed or 0)
        schema = translated.get("schema") if translated else None
        if is_verdict_schema(schema) or is_judgment_schema(schema):
            kind = VerdictWriter if is_verdict_schema(schema) else JudgmentWriter
            return self.engine.submit_writer(kind(self, messages, sampling, _budget_for(max_tokens), draw))
        limit = max_tokens or DEFAULT_MAX_TOKENS
        return self.engine.submit_call(lambda: self._chat(messages, sampling, limit, translated, draw))

    def calibration_for(self, messages: list[dict]) -> calibrate.Calibration:
        """This persona prompt's content-free bias (engine thread only): known, or measured now on the
        chat context, once per prompt."""
        key = calibrate.file_key(self.path.name, messages)
        found = calibrate.known(key) if key else calibrate.Calibration(0.0, [])  # no brief: nothing to calibrate
        if found is None:
            found = shipped.lookup(self.path, key)  # a default persona: measured when panel was built
            if found is not None:
                calibrate.remember(key, found)
        if found is None:
            found = calibrate.calibrate(self._log_odds_now, messages)
            calibrate.remember(key, found)
        return found

    def _log_odds_now(self, messages: list[dict]) -> float:
        """log P(GOOD) - log P(BAD) after these messages, on the chat context, reusing its prefix."""
        import numpy as np

        llama, prompt, total = self.llama, self.prompt_tokens(ensure_system(messages)), 0.0
        for cont, sign, shared in calibrate.continuations(self.tokenize):
            for i, token in enumerate(cont[shared:], start=shared):
                tokens = prompt + cont[:i]
                keep = min(_common_prefix(list(llama.input_ids[: llama.n_tokens]), tokens), len(tokens) - 1)
                llama.n_tokens = keep
                llama.eval(tokens[keep:])
                logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(self.n_vocab,))
                total += sign * calibrate.log_prob(logits, token)
        return total

    def complete(self, messages: list[dict], **kwargs) -> LocalCompletion:
        """Blocking form of `submit`, for scripts and benchmarks."""
        return self.submit(messages, **kwargs).result()

    def forget(self) -> None:
        """Drop every cached prompt prefix (benchmarks use it to measure from cold)."""
        self.engine.submit_call(self._forget).result()

    def _forget(self) -> None:
        self.llama.reset()
        self.engine.clear()

    def _chat(self, messages, s: Sampling, max_tokens: int, response_format: dict | None, seed: int) -> LocalCompletion:
        """Anything but a verdict: llama-cpp-python's chat completion, with a schema grammar if asked."""
        schema = response_format.get("schema") if response_format is not None else None
        grammar = grammar_for(self.llama._model.vocab, schema) if response_format is not None else None
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
            seed=seed,
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
        with _no_extra_buffers():
            return Llama(model_path=str(path), n_ctx=CHAT_CTX, n_batch=N_BATCH, n_threads=threads,
                         n_threads_batch=threads, verbose=False)
    except Exception as exc:  # llama.cpp reports a bad file as a bare ValueError/RuntimeError
        raise ModelConfigError(f"llama.cpp could not load {path} (corrupt or unsupported GGUF file): {exc}") from None


_LOAD_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_extra_buffers():
    """On a llama.cpp built with AMX, load the weights without its "extra" buffer types.

    On a CPU with AMX (Intel Sapphire Rapids and later) a native build repacks the weights for
    ggml's AMX matrix kernel, and that kernel crashed the process (SIGSEGV in
    ggml_backend_amx_mul_mat) on batched decodes. `make install` builds without AMX; this covers a
    wheel built elsewhere. Other builds keep the extra buffers: their repacked weights make the
    CPU kernels about a quarter faster. `Llama()` has no switch for this, so its default model
    parameters are wrapped for the duration of the load."""
    import llama_cpp.llama_cpp as low

    if b"AMX_INT8 = 1" not in low.llama_print_system_info():
        yield
        return
    original = low.llama_model_default_params

    def without_extra():
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        low.llama_model_default_params = without_extra
        try:
            yield
        finally:
            low.llama_model_default_params = original


def _token_piece(vocab, token: int) -> bytes:
    import ctypes

    import llama_cpp

    buf = ctypes.create_string_buffer(64)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
    return buf.raw[: max(n, 0)]


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


def tokens_processed() -> int:
    """Tokens run through every loaded local model so far (prompts, typed and sampled): a progress
    counter that moves while a verdict is being written."""
    with _registry_lock:
        loaded = {id(m): m for m in _models.values()}
    return sum(m.engine.evaluated for m in loaded.values())


async def acomplete(
    name: str,
    messages: list[dict],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_format: dict | None = None,
    seed: int | None = None,
) -> LocalCompletion:
    """One chat completion from the local model `name` (what follows `local/`)."""
    model = await asyncio.to_thread(get_model, name)  # the first load takes a moment: off the loop
    future = model.submit(messages, temperature=temperature, max_tokens=max_tokens, response_format=response_format,
                          seed=seed)
    return await asyncio.wrap_future(future)
