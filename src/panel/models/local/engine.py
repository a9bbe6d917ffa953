"""The batch engine: every verdict in flight is decoded together in one llama.cpp context, one
llama_decode per step for all of them, with prompt prefixes shared between sequences.

All of it runs on one thread per model (a llama.cpp context is not re-entrant); callers get
futures.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from ...core.errors import ModelConfigError
from .threads import ThreadGovernor

# The verdict context holds the sequences decoded together: a brief's shared prefix once, plus
# each persona's own part and reply (~3.3k tokens for five personas), ~95 MB of keys/values.
VERDICT_CTX = 4096
MAX_SEQUENCES = 8
N_BATCH = 512


class Logits:
    """The logits the engine computed for one position, handed to the writer that asked for them."""

    def __init__(self, ctx, index: int, n_vocab: int):
        self.ctx, self.index, self.n_vocab = ctx, index, n_vocab

    def values(self):
        """A writable numpy view (no copy): a writer may mask tokens before sampling."""
        import llama_cpp
        import numpy as np

        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, self.index), shape=(self.n_vocab,))

    def sample(self, chain) -> int:
        """Draw a token with a sampler chain (which sees any masking done through `values`)."""
        import llama_cpp

        return llama_cpp.llama_sampler_sample(chain.sampler, self.ctx, self.index)


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

    writer: object  # a VerdictWriter
    steps: object  # the writer's generator
    future: Future
    sequence: _Sequence
    want: list[int]
    footprint: int  # cells it may occupy that no other sequence shares


class BatchEngine:
    """Decodes every verdict in flight together: one llama_decode per step for all of them.

    Writers are generators. Each yields the full token list it wants its sequence to hold; the
    engine evaluates what is new (after the longest common prefix with what the sequence holds)
    and sends back the `Logits` of the last token, which the writer then samples from or
    compares. Writers can join between any two steps. A writer needs `prompt` (its token list up
    front) and `max_reply_tokens()`, and a `run()` generator.
    """

    def __init__(self, llama_model, threads: int, governor: ThreadGovernor, n_vocab: int, label: str):
        import llama_cpp

        self.governor = governor
        self.n_vocab = n_vocab
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = VERDICT_CTX
        params.n_batch = params.n_ubatch = N_BATCH
        params.n_seq_max = MAX_SEQUENCES
        params.kv_unified = True  # one cell pool: a shared prompt prefix is stored once
        # llama.cpp's default ("auto") turns flash attention on for the CPU, and on this model it made
        # every decode step ~65% slower (25 ms against 15 ms per token on two cores, measured
        # 2026-12-03); the chat context (llama-cpp-python's Llama) has it off too.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(llama_model, params)
        if not self.ctx:
            raise ModelConfigError(f"llama.cpp could not create a context for {label}")
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

    def submit_writer(self, writer) -> Future:
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
                for kind, job, future, footprint in jobs:
                    if kind == "call":
                        _resolve(future, job)
                    else:
                        self._start(job, future, footprint, runs)
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
            footprint = 0
            if kind == "writer":
                shared = self._best_donor(job.prompt)[1]
                pending = max((_common_prefix(p, job.prompt) for p in joining), default=0)
                footprint = len(job.prompt) - shared + job.max_reply_tokens()
                if pending > shared + 64 or free == 0 or ((runs or taken) and used + footprint > VERDICT_CTX - 256):
                    break
                used, free = used + footprint, free - 1
                joining.append(job.prompt)
            self.queue.popleft()
            taken.append((kind, job, future, footprint))
        return taken

    def _best_donor(self, tokens: list[int]) -> tuple[_Sequence | None, int]:
        best, best_len = None, 0
        for seq in self.sequences:
            n = _common_prefix(seq.history, tokens)
            if n > best_len:
                best, best_len = seq, n
        return best, best_len

    def _start(self, writer, future: Future, footprint: int, runs: list[_Run]) -> None:
        try:
            steps = writer.run()
            want = next(steps)
        except Exception as exc:
            future.set_exception(exc)
            return
        seq = self._sequence_for(want)
        run = _Run(writer, steps, future, seq, want, footprint)
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
            self.governor.tick()
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
        """Hand the writer its logits; it samples and says what it wants next."""
        try:
            run.want = run.steps.send(Logits(self.ctx, index, self.n_vocab))
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
