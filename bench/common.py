"""Shared pieces of the benchmarks: the fake model server in its own process, temp workspaces
with many briefs, medians, and the result files that bench/run_all.py turns into
docs/benchmarks.md.

Every benchmark is runnable alone (`python bench/bench_x.py`): it prints its table and, when
BENCH_RESULTS names a folder, also writes `<name>.json` there for run_all.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKE_SERVER = REPO / "tests" / "fake_openai.py"
FAKE_MODEL = "openai/fake"
PERSONAS = ["builder", "skeptic", "futurist", "business", "creative"]

# litellm tries to download its cost map at import; offline that costs seconds of retries.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# An OpenAI-compatible client insists on a key; the fake server ignores it.
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")


# --- the model: a real HTTP server in another process, so its CPU is not charged to us --------


class FakeServer:
    """`python tests/fake_openai.py` as a subprocess; `.url` for --api-base, `.stats()` counts."""

    def __init__(self, latency: float, formats: str = "all"):
        self.latency = latency
        self.formats = formats  # the fake's structured-output personality (tests/fake_openai.py)
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "FakeServer":
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKE_SERVER), "--latency", str(self.latency), "--port", "0",
             "--formats", self.formats],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.url = line.split(" ", 1)[1]
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def _control(self, path: str, method: str = "GET") -> dict:
        import urllib.request

        base = self.url.removesuffix("/v1")
        req = urllib.request.Request(base + path, method=method, data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def requests(self) -> int:
        return int(self._control("/_stats")["requests"])

    def reset(self) -> None:
        self._control("/_reset", "POST")


# --- workspaces ---------------------------------------------------------------------------------


def brief_yaml(i: int) -> str:
    """A valid, distinct brief; the number changes its content hash and so its cache key."""
    return f"""slug: tool-{i:04d}
name: Bench Tool {i}
tagline: A generated tool number {i} for the throughput benchmark
category: Developer Tools
vendor: Bench Labs {i % 17}
description: >-
  Bench Tool {i} is a made-up developer tool used to measure how much work the panel adds
  around its model calls. It claims to index a codebase, answer questions about it and
  suggest refactors, with plugins for common editors. Release {i} adds a command-line mode.
pricing:
  model: freemium
  entry: Free
  notes: Team plan from ${10 + i % 40} per seat per month.
licence: MIT
links:
  homepage: https://example.com/tool-{i}
"""


def make_workspace(n_briefs: int, root: Path | None = None) -> Path:
    """A temp workspace: the repository's personas and n generated briefs in briefs/."""
    home = Path(tempfile.mkdtemp(prefix="panel-bench-", dir=root))
    shutil.copytree(REPO / "personas", home / "personas")
    (home / "tool_briefs").mkdir()
    (home / "outputs").mkdir()
    folder = home / "briefs"
    folder.mkdir()
    for i in range(n_briefs):
        (folder / f"tool-{i:04d}.yaml").write_text(brief_yaml(i), encoding="utf-8")
    return home


@contextlib.contextmanager
def workspace(n_briefs: int):
    home = make_workspace(n_briefs)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def panel_env(home: Path, **extra: str) -> dict:
    env = dict(os.environ)
    for var in ("PANEL_MODEL", "PANEL_DB", "PANEL_API_BASE", "PANEL_CONCURRENCY"):
        env.pop(var, None)
    env["PANEL_HOME"] = str(home)
    env.update(extra)
    return env


def panel_exe() -> str:
    """The installed `panel` script next to this interpreter (what a user runs)."""
    candidate = Path(sys.executable).parent / "panel"
    return str(candidate) if candidate.exists() else shutil.which("panel") or "panel"


def run_child(cmd: list[str], env: dict | None = None, cwd: Path | None = None, check: bool = True) -> dict:
    """Run a command; wall time, its CPU time and its peak RSS (from the children's rusage)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        # ru_maxrss of RUSAGE_CHILDREN is the largest child so far, in KiB on Linux.
        "maxrss_mb": after.ru_maxrss / 1024,
        "returncode": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }


def run_worker(script: Path, args: list[str], env: dict | None = None) -> dict:
    """Run a bench worker in a fresh interpreter; it prints one JSON line last."""
    out = run_child([sys.executable, str(script), *args], env=env)
    lines = [line for line in out["stdout"].splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{script.name} printed no result: {out['stderr'][-2000:]}")
    result = json.loads(lines[-1])
    result.setdefault("maxrss_mb", out["maxrss_mb"])
    return result


# --- numbers and tables -----------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values)


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (also readable on a terminal)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(name: str, title: str, markdown: str, data: dict) -> None:
    """Print the benchmark's table; with BENCH_RESULTS set, save it for run_all.py."""
    print(f"\n## {title}\n\n{markdown}\n", flush=True)
    folder = os.environ.get("BENCH_RESULTS")
    if folder:
        path = Path(folder) / f"{name}.json"
        path.write_text(json.dumps({"title": title, "markdown": markdown, "data": data}, indent=2), encoding="utf-8")


def verdict_status(ok: bool) -> str:
    return "met" if ok else "**not met**"
