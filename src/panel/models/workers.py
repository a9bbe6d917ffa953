"""Worker processes for a batch's calls through litellm (`--workers N`).

litellm spends several milliseconds of CPU on every call (building the request, parsing and
pricing the reply, its logging object). From one event loop that caps a batch at a few hundred
calls a second, and when a window of replies lands at once, the next window waits while the
loop works through them. So a batch's litellm calls (Anthropic, Gemini, Bedrock... any provider
litellm serves) can be spread over worker processes, each with its own event loop and its own
`ModelSeam`. Calls to OpenAI-compatible endpoints go through the openai SDK in this process
(panel.models.openai_sdk), which keeps up alone: measured at 5,000 calls and 200 in flight, the
workers still take litellm's path from 1.39 × to 1.13 × the ideal wall time, while the SDK path
needs none (bench/bench_batch.py, docs/scale.md).

The workers are forked once litellm is imported, so none pays the import again. The main
process keeps everything else: the plan, the cache, the store (its only writer: a verdict's
rows are small and written in one transaction), the budget and the one cap on calls in flight
(`ModelSeam._gated`), the progress display and the run record. A call crosses to a worker as
(settings, messages, answer type) and comes back as the `CallOutcome` the worker's seam made,
over a pipe: a length-prefixed pickle each way, read and written by each side's event loop, so
neither side ever blocks on a full pipe. Pickle is safe here: both ends are this program.

Calls to the embedded model, the scripted test model, a `--router` and OpenAI-compatible endpoints
stay in the main process: the first two live in the process, the Router's rpm counts must be one
count, and the openai SDK needs no help (each backend's record in panel.models.backends says which
stay). Forking needs Linux; elsewhere
every call stays in process.

This module sits above the seam: a worker runs a `ModelSeam`, and the seam only calls its pool's
`review`, which never raises (a call whose worker died comes back as an error outcome).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .providers import get_litellm
from .seam import CallOutcome, ModelSeam

if TYPE_CHECKING:  # multiprocessing itself (~70 ms) is imported only by a batch that wants workers
    import multiprocessing

_LENGTH = struct.Struct("!I")


def available() -> bool:
    """Workers are forked (they inherit the imported litellm); only Linux forks safely here."""
    if not sys.platform.startswith("linux"):
        return False
    import multiprocessing  # ~70 ms: only for a batch big enough to want workers

    return "fork" in multiprocessing.get_all_start_methods()


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def workers_to_start(requested: int | None, remote_calls: int, concurrency: int) -> int:
    """How many workers a batch starts: one per core by default (or `requested`), but never more
    than the batch has full windows of remote calls (`--concurrency` each). A batch smaller than
    one window is a single round of calls, and runs in this process: a worker would buy nothing."""
    wanted = default_workers() if requested is None else requested
    size = min(wanted, remote_calls // max(1, concurrency))
    return size if size > 0 and available() else 0


# --- the main process's side ----------------------------------------------------------------------


@dataclass
class _Worker:
    process: multiprocessing.Process
    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    pending: dict[int, asyncio.Future] = field(default_factory=dict)
    listener: asyncio.Task | None = None
    stopped: str | None = None  # why it stopped answering, once it has


class WorkerPool:
    """N forked workers; each call goes to the one with the fewest calls in flight."""

    def __init__(self, size: int, concurrency: int, modes: dict | None = None):
        self.size = size
        self.concurrency = concurrency
        self.modes = dict(modes or {})
        self._workers: list[_Worker] = []
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._workers)

    async def start(self) -> None:
        """Fork the workers and connect their pipes. On failure (no processes or file descriptors left)
        nothing is left behind: every pipe end is closed and every started worker killed."""
        import multiprocessing

        get_litellm()  # imported before the fork, so every worker inherits it instead of importing it again
        opened: list[int] = []  # every pipe end, in order: calls_r, calls_w, replies_r, replies_w per worker
        processes = []
        try:
            for _ in range(2 * self.size):
                opened.extend(os.pipe())
            ends = [tuple(opened[i:i + 4]) for i in range(0, len(opened), 4)]
            context = multiprocessing.get_context("fork")
            for index, (calls_r, calls_w, replies_r, replies_w) in enumerate(ends):
                # A worker keeps only its own two ends: another worker's pipe end held open there would
                # keep that worker from seeing the end of its calls when the main process closes it.
                others = [fd for k, fds in enumerate(ends) if k != index for fd in fds]
                process = context.Process(target=_serve, name=f"panel-worker-{index + 1}", daemon=True,
                                          args=(calls_r, replies_w, [calls_w, replies_r, *others],
                                                self.concurrency, self.modes))
                process.start()
                processes.append(process)
        except OSError:
            for process in processes:
                process.kill()
                process.join()
            for fd in opened:
                os.close(fd)
            raise
        for process, (calls_r, calls_w, replies_r, replies_w) in zip(processes, ends):
            os.close(calls_r)
            os.close(replies_w)
            reader, writer = await _open_streams(replies_r, calls_w)
            worker = _Worker(process, writer, reader)
            worker.listener = asyncio.create_task(self._listen(worker))
            self._workers.append(worker)

    async def review(self, settings, persona: str, version: str, messages: list[dict], answer):
        """The worker's CallOutcome for one call, and whether its error means the model's key is bad.
        A call no worker could answer (it died, or none is left) is an error outcome, never lost."""
        try:
            return await self._ask(settings, persona, version, messages, answer)
        except WorkerError as exc:
            return CallOutcome(persona=persona, persona_version=version, model=settings.model, status="error",
                               error=str(exc)), False

    async def _ask(self, settings, persona: str, version: str, messages: list[dict], answer):
        worker = min((w for w in self._workers if w.stopped is None), key=lambda w: len(w.pending), default=None)
        if worker is None:
            raise WorkerError(self._workers[0].stopped if self._workers else "no worker was started")
        self._next_id += 1
        call_id = self._next_id
        future = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = future
        _write(worker.writer, (call_id, settings, persona, version, messages, answer))
        return await future

    async def _listen(self, worker: _Worker) -> None:
        """Hand each reply to the call waiting for it; when the worker stops, fail its calls in flight."""
        try:
            while True:
                call_id, outcome, fatal = await _read(worker.reader)
                future = worker.pending.pop(call_id, None)
                if future is not None and not future.done():
                    future.set_result((outcome, fatal))
        except Exception as exc:  # noqa: BLE001 - whatever ends the replies, the calls waiting must not hang
            worker.stopped = f"panel's worker process stopped ({type(exc).__name__})"  # no new calls go to it
        code = await _exit_code(worker.process.pid)
        if code is not None:
            worker.stopped = f"panel's worker process stopped (exit code {code})"
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerError(worker.stopped))
        worker.pending.clear()

    async def close(self) -> None:
        """End of the batch: closing a worker's pipe tells it to stop; one that does not is killed."""
        for worker in self._workers:
            worker.writer.close()
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            if worker.listener is not None:
                worker.listener.cancel()


async def _exit_code(pid: int) -> int | None:
    """A stopped worker's exit code (minus the signal that killed it), read without reaping it:
    `close()` reaps it, and two waits on one child race. None if it has not exited within a second."""
    for _ in range(20):
        try:
            # WNOHANG: a look, never a wait, so it cannot block the event loop.
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)  # noqa: ASYNC222
        except ChildProcessError:
            return None
        if info is not None:
            return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        await asyncio.sleep(0.05)
    return None


class WorkerError(RuntimeError):
    """A worker process died with calls in flight (they become error outcomes, never lost)."""


async def _open_streams(read_fd: int, write_fd: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", 0))
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


def _write(writer: asyncio.StreamWriter, message) -> None:
    """Queue one message; the event loop writes it out as the pipe takes it (never blocking)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_LENGTH.pack(len(data)) + data)


async def _read(reader: asyncio.StreamReader):
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(length))


# --- a worker's side -------------------------------------------------------------------------------


def _serve(calls_fd: int, replies_fd: int, close_fds: list[int], concurrency: int, modes: dict) -> None:
    """A worker's whole life: answer calls until the main process closes the pipe."""
    for fd in close_fds:
        os.close(fd)
    # Ctrl-C reaches the whole process group: the main process decides, and closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)  # the inherited one belongs to the main process's event loop
    # A worker says everything through its replies. It writes nothing to the terminal: not into the
    # progress display, and not through a stream whose lock another thread of the main process (the
    # progress display's) may have held at the fork, which would hang the worker on its first write.
    sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the worker's life
    logging.disable(logging.CRITICAL)
    asyncio.run(_answer_calls(calls_fd, replies_fd, concurrency, modes))


async def _answer_calls(calls_fd: int, replies_fd: int, concurrency: int, modes: dict) -> None:
    seam = ModelSeam(concurrency=concurrency, modes=modes)
    reader, writer = await _open_streams(calls_fd, replies_fd)
    running: set[asyncio.Task] = set()
    while True:
        try:
            call = await _read(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            break  # the main process is done with this worker
        task = asyncio.create_task(_answer(seam, writer, *call))
        running.add(task)
        task.add_done_callback(running.discard)
    for task in running:
        task.cancel()


async def _answer(seam, writer, call_id, settings, persona, version, messages, answer) -> None:
    """One call through this worker's seam; its outcome (an error outcome if anything went wrong
    here) goes back with whether the model's key turned out to be bad."""
    try:
        outcome = await seam.review(settings, persona, version, messages, answer)
        _write(writer, (call_id, outcome, seam.failed_for_good(settings.model)))
    except Exception as exc:  # noqa: BLE001 - the main process is waiting for an answer to this call
        failed = CallOutcome(persona=persona, persona_version=version, model=settings.model, status="error",
                             error=f"panel's worker process could not answer: {type(exc).__name__}: {exc}")
        _write(writer, (call_id, failed, False))
