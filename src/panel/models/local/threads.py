"""How many threads llama.cpp may use: every core while the machine is otherwise idle, one when
another process wants a core (see ThreadGovernor), or a number pinned by PANEL_LOCAL_THREADS."""

from __future__ import annotations

import os
import time

from ...core.errors import ModelConfigError

# One thread per core, capped (a 135M model gains nothing past a few). PANEL_LOCAL_THREADS pins
# a number and turns off the fallback to one thread under contention (see ThreadGovernor).
THREADS_ENV = "PANEL_LOCAL_THREADS"


def default_threads() -> tuple[int, bool]:
    """(threads, adaptive): a pinned number, or one per core (at most 4) that the governor may lower."""
    pinned = _pinned_threads()
    return (pinned, False) if pinned else (max(1, min(os.cpu_count() or 1, 4)), True)


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
