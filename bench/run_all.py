"""Run every benchmark in bench/ and write docs/benchmarks.md (`make bench`; under ten minutes).

Each benchmark runs as its own process (`python bench/bench_x.py`), saves its table to a temp
folder (BENCH_RESULTS), and this script assembles them, with the date and the machine, into
docs/benchmarks.md. bench/bench_local.py (the embedded model) writes docs/benchmarks-local.md
itself; its figures are copied into docs/benchmarks.md too.

    python bench/run_all.py [--quick] [--skip NAME ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

BENCH = Path(__file__).resolve().parent
DOC = common.REPO / "docs" / "benchmarks.md"
LOCAL_DOC = common.REPO / "docs" / "benchmarks-local.md"

# name -> (script, normal arguments, --quick arguments, timeout in seconds)
PLAN = {
    "startup": ("bench_startup.py", [], ["--repeats", "5", "--litellm-repeats", "1"], 120),
    "panel": ("bench_panel.py", [], ["--repeats", "3"], 120),
    "store": ("bench_store.py", [], ["--verdicts", "20000", "--repeats", "5"], 180),
    "rerun": ("bench_rerun.py", [], ["--repeats", "3"], 180),
    "strict": ("bench_strict.py", [], ["--briefs", "10"], 120),
    "batch": ("bench_batch.py", ["--repeats", "1"], ["--repeats", "1", "--latency", "0.2", "--big-briefs", "200"], 420),
    # The embedded model generates real tokens on 2 cores: one repetition already takes ~3.5 min.
    "local": ("bench_local.py", ["--reps", "1", "--panel-reps", "1"], ["--reps", "1", "--panel-reps", "1"], 280),
}


def run(name: str, quick: bool, results: Path) -> tuple[bool, float]:
    script, normal, fast, timeout = PLAN[name]
    path = BENCH / script
    if not path.exists():
        print(f"== {name}: {script} not found, skipped", flush=True)
        return False, 0.0
    env = dict(os.environ, BENCH_RESULTS=str(results), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, str(path), *(fast if quick else normal)]
    if name == "local" and "--quiet-wait" in path.read_text(encoding="utf-8"):
        # bench_local waits for other processes to go quiet; keep that wait inside the ten minutes.
        cmd += ["--quiet-wait", "20"]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, timeout=timeout, cwd=common.REPO)
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        print(f"== {name}: stopped after {timeout} s", flush=True)
        ok = False
    spent = time.perf_counter() - started
    print(f"== {name}: {'done' if ok else 'FAILED'} in {spent:.0f} s", flush=True)
    return ok, spent


def load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def summary_rows(r: dict) -> list[list[str]]:
    """The issue's table: measure, baseline beside it, target, result, status."""
    rows = []
    if r.get("panel"):
        d = r["panel"]["data"]
        L, panel, serial = d["latency"], d["panel_median"], d["serial_median"]
        rows.append([f"one five-persona panel, L = {L:g} s", f"5 calls one after another: {serial:.2f} s "
                     f"({serial / L:.2f} L)", "wall ≤ 1.1 × L", f"{panel:.3f} s = {panel / L:.2f} × L",
                     common.verdict_status(d["ok"])])
    if r.get("batch"):
        rows += batch_rows(r["batch"]["data"])
    if r.get("strict"):
        d = r["strict"]["data"]
        rows.append(["re-asks per seat, OpenAI's own API (scripted: every third unconstrained answer misfits)",
                     f"not strict: {100 * d['before']['reask_rate']:.1f}%", "reported",
                     f"strict: {100 * d['after']['reask_rate']:.1f}%", "reported"])
    if r.get("rerun"):
        d = r["rerun"]["data"]
        for step in d["steps"][1:]:
            rows.append([step["step"], "—", f"exactly {step['expected']} model calls", f"{step['calls']} calls",
                         common.verdict_status(step["calls"] == step["expected"])])
        rows.append(["re-run with nothing changed, 200 briefs (`panel review`)", "—", "0 model calls, wall ≤ 2 s",
                     f"{d['cached_calls']} calls, {d['cached_wall']:.2f} s", common.verdict_status(d["cached_ok"])])
    if r.get("startup"):
        res = r["startup"]["data"]["results"]
        lit = res['`python -c "import litellm"`']["median_s"]
        for name in ("`panel --help`", "`panel personas list`"):
            med = res[name]["median_s"]
            rows.append([name, f"`python -c \"import litellm\"`: {lit:.2f} s", "≤ 0.3 s", f"{med:.3f} s",
                         common.verdict_status(med <= 0.3)])
    if r.get("store"):
        d = r["store"]["data"]
        worst = max(d["audit"], key=lambda q: q["median_s"])
        rows.append([f"full-text audit search and history, {d['filled']['verdicts']:,} stored verdicts", "—",
                     "median ≤ 50 ms", f"slowest query {worst['median_s'] * 1000:.1f} ms ({worst['query']})",
                     common.verdict_status(d["audit_ok"])])
        writes = common.median(d["writes_s"])
        rows.append(["storing 1,000 verdicts (one transaction each)", "—", "≤ 1 s", f"{writes:.3f} s",
                     common.verdict_status(d["writes_ok"])])
    return rows


def batch_rows(data: dict) -> list[list[str]]:
    """The SDK issue's targets: panel in process against the bare openai SDK script."""
    s, raw, big_raw = data["summary"], data["raw"], data["raw_big"]
    ideal, panel, sdk, cli, big = s["ideal"], s["panel"], s["sdk"], s["cli"], s["big"]
    bare = f"; bare litellm {s['bare']['wall'] / ideal:.2f} ×" if s.get("bare") else ""
    return [
        [f"{raw['calls']:,} calls, --concurrency {raw['concurrency']}, L = {raw['latency']:g} s",
         f"ideal {ideal:.0f} s; bare SDK script {sdk['wall'] / ideal:.2f} ×{bare}", "≤ 1.05 × ideal",
         f"{panel['wall'] / ideal:.2f} × ideal (in process)", common.verdict_status(s["wall_ok"])],
        [f"CPU per call, {raw['calls']:,}-call batch", f"bare SDK script: {sdk['cpu_ms_per_call']:.2f} ms",
         "≤ 1.3 × the bare SDK script's", f"{panel['cpu_ms_per_call']:.2f} ms = {s['cpu_ratio']:.2f} ×",
         common.verdict_status(s["cpu_ok"])],
        ["`panel review` CLI, whole process, same batch", "—", "≤ 1.1 × ideal",
         f"{cli['wall'] / ideal:.2f} × ideal", common.verdict_status(s["cli_ok"])],
        [f"{big_raw['calls']:,} calls, --concurrency {big_raw['concurrency']}",
         f"ideal {big['ideal']:.0f} s; bare SDK script {big['sdk']['wall'] / big['ideal']:.2f} × ideal",
         "≤ 1.12 × ideal in one process", f"{big['panel']['wall'] / big['ideal']:.2f} × ideal",
         common.verdict_status(s["big_ok"])],
        [f"one brief, five personas, whole CLI process, L = {raw['latency']:g} s", "—", "≤ L + 1.0 s",
         f"L + {s['one_brief']:.2f} s", common.verdict_status(s["one_ok"])],
        [f"litellm's path (custom_openai/), {big_raw['calls']:,} calls: worker processes or not", "—", "reported",
         f"{big['litellm, workers']['wall'] / big['ideal']:.2f} × with {big['litellm, workers']['workers']} workers, "
         f"{big['litellm, in process']['wall'] / big['ideal']:.2f} × in process", "reported"],
    ]


def local_section() -> str:
    """docs/benchmarks-local.md, headings moved one level down, for inclusion here."""
    if not LOCAL_DOC.exists():
        return "_bench/bench_local.py has not written docs/benchmarks-local.md yet._\n"
    text = LOCAL_DOC.read_text(encoding="utf-8")
    text = re.sub(r"^# .*\n+", "", text, count=1)
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)


NOTES = """## What the panel does to stay out of the way

Measured with the benchmarks above. To see where a batch's CPU goes, `python bench/_batch_worker.py MODE
--home WS --url URL [--profile out.prof]` runs one batch in a fresh interpreter, where MODE is `bare`,
`seam` (the model seam alone), `seam+store` (plus one SQLite transaction per verdict) or `panel`
(plus the graph and prompt rendering); WS comes from `bench.common.make_workspace(200)` and URL from
`python tests/fake_openai.py --latency L --port 0`.

- **litellm is configured once, in `panel.models.providers.get_litellm()`**: the cost map is read locally
  (`LITELLM_LOCAL_MODEL_COST_MAP`), litellm's own retries are off, telemetry and debug output are off.
  After every successful call litellm queues a logging coroutine that builds a full payload
  (cost breakdown, redacted deep copies of the messages) for its callbacks; panel registers no
  callback, so while none is registered that coroutine is closed unrun (~0.6 ms of CPU per call).
  `turn_off_message_logging` was measured and left off: it makes litellm *deep-copy* the messages
  to redact them, which costs more. The aiohttp transport (litellm's default) was kept: the httpx
  one measured ~1 ms per call slower.
- **Garbage collection**: importing litellm leaves ~400k long-lived objects; every full
  collection walked them again (~1 ms of CPU per call in the bare script). `get_litellm()` freezes
  them (`gc.freeze()`) and raises the young-generation threshold from 700 to 10,000 allocations.
- **No second pricing**: litellm prices every response itself (`_hidden_params["response_cost"]`);
  the seam no longer calls `completion_cost` again when that price is `None` (a model litellm does
  not know, such as a local server), which repeated a ~2 ms search per call.
- **Prompts**: persona templates are compiled once (they were compiled on every render), the
  verdict JSON schema is generated once, and each brief's fenced YAML block is built once per
  batch instead of twice per persona.
- **Graph**: the routing and aggregate functions are async, so langgraph does not hand each brief
  to a thread pool; at most `--concurrency` briefs are in flight at once (the model semaphore alone
  let all 200 graphs start together, holding every rendered prompt at once).
- **Nothing to do costs almost nothing**: a brief whose every seat has a stored verdict is
  aggregated directly, without running the graph, and langgraph (~1 s to import) and litellm
  (~4 s) are imported only when some model call is about to happen. A re-run of 200 unchanged
  briefs imports neither.

## What limits the numbers

- **Wall time at high concurrency is bounded by CPU, and most of that CPU is litellm's.** In one
  event loop, with 50 calls in flight, each ~5 ms of CPU is time during which no other response is
  processed, so waves of answers queue; at 200 in flight the bare script ends near 1.6 × ideal.
  **Worker processes** (`--workers N`, panel.models.workers) split that work: the main process keeps
  the graph, the store, the budget and the one cap on calls in flight (~1.7 ms of CPU per call),
  and each forked worker runs its own event loop and model seam for the litellm calls. On these two
  cores two workers are the most that helps (three measured the same as two at 5,000 calls); the
  fake server shares the same cores, so the absolute ratios here are worse than on a machine where
  the model runs elsewhere.
- **A leaner call path inside litellm was measured and not taken.** Its per-call work is spread
  over request building, the OpenAI client, response objects and pricing, and the switches it
  offers move little (600 calls, side by side: `turn_off_message_logging` with
  `disable_streaming_logging` −3 %, within the noise; the httpx transport +23 %); registering a
  zero price for a self-hosted model litellm cannot price saves ~10 % but changes litellm's global
  price list and logs a warning per model. Workers cut the wall time by a fifth at 200 in flight;
  none of these would.
- **What the panel adds per call** is about 1–1.5 ms of CPU: langgraph's per-task machinery
  (~0.35 ms per persona, measured with a no-op persona node; routing and aggregation are already
  async), one SQLite transaction per verdict (~0.3 ms, kept for crash safety), rendering the two
  prompt templates and the brief's YAML block (~0.25 ms), parsing and validating the verdict, the
  retry wrapper. The litellm work switched off above (success-logging payloads, collections over
  litellm's own objects) is about 1 ms. The rest of litellm's ~5 ms per call (request building,
  the OpenAI client, response objects, its own pricing of every response, which for a model missing
  from its price list is a ~1 ms search) has no switch. So CPU per call ends near the bare
  script's, not clearly below it: over the side-by-side runs made while this was built, the panel
  took 0.95–1.2 × the bare script's CPU per call, and the two full `make bench` runs (each with
  another job using both cores) gave 1.18 × and 1.13 ×. Run-to-run noise on this shared machine is
  of the same size as the difference, so read the medians and the ratio, not a single run.
- The remaining ways to go lower were judged not worth it: skipping litellm's pricing would lose
  the audit's cost figures; dumping briefs with libyaml's emitter changes the prompt text of briefs
  with emoji; batching verdict writes would let a crash lose finished calls.
- **One transaction per verdict** is kept on purpose: a killed batch loses at most the calls in
  flight. With WAL and synchronous=NORMAL a commit costs ~0.3 ms, well inside the 1 s per 1,000.
- **Startup** is the import time of typer, pydantic, jinja2, PyYAML and rich (~0.2 s here); panel's
  own modules and work add a few tens of milliseconds, and no command imports litellm or langgraph
  before it needs them.
"""


def write_doc(results_dir: Path, spent: dict, started: dt.datetime, quick: bool) -> str:
    r = {name: load(results_dir, name) for name in PLAN}
    m = common.machine()
    try:
        from importlib.metadata import version

        versions = ", ".join(f"{p} {version(p)}" for p in ("litellm", "langgraph", "pydantic", "sqlite-utils"))
    except Exception:  # noqa: BLE001 - versions are a nicety
        versions = "?"
    import sqlite3

    parts = [
        "# Benchmarks",
        "",
        f"_Measured {started:%Y-%m-%d %H:%M} UTC with `make bench` (`python bench/run_all.py"
        f"{' --quick' if quick else ''}`) in {sum(spent.values()):.0f} s; {m['nproc']} cores, "
        f"Python {m['python']}, {m['platform']}, SQLite {sqlite3.sqlite_version}; {versions}; "
        f"load average at the end {m['load']}. The machine is shared and noisy: every figure is a median "
        f"of several runs, and panel and baseline runs alternate so that load hits both alike._",
        "",
        "The model is `tests/fake_openai.py`, a real OpenAI-compatible HTTP server on 127.0.0.1 that answers "
        "every request after exactly L seconds, in its own process (its CPU is not counted), reached as "
        "`openai/fake` with `--api-base` (through the openai SDK, in process), as any OpenAI-compatible server "
        "would be; `custom_openai/fake` reaches the same server through litellm.",
        "",
        "## Results against the targets",
        "",
        common.table(["measure", "baseline beside it", "target", "result", "status"], summary_rows(r)),
        "",
    ]
    for name in ("panel", "batch", "strict", "rerun", "startup", "store"):
        if r.get(name):
            parts += [f"## {r[name]['title']}", "", f"`python bench/bench_{name}.py`", "", r[name]["markdown"], ""]
        else:
            parts += [f"## bench_{name}.py", "", "_Did not finish in this run; see the console output._", ""]
    parts += [NOTES, "## The embedded model (bench/bench_local.py)", "",
              "Copied from docs/benchmarks-local.md, which bench/bench_local.py writes.", "", local_section()]
    first = common.REPO / "docs" / "benchmarks-first-review.md"
    if first.exists():  # bench/bench_first_review.py runs apart (about four minutes): its last result
        body = first.read_text(encoding="utf-8").split("\n", 1)[1]
        parts += ["## The first review on the embedded default (bench/bench_first_review.py)", body]
    text = "\n".join(parts).rstrip() + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, L = 0.2 s batch (a smoke run)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(PLAN), help="benchmarks to leave out")
    args = parser.parse_args()
    started = dt.datetime.now(dt.timezone.utc)
    spent = {}
    with tempfile.TemporaryDirectory(prefix="panel-bench-results-") as folder:
        results = Path(folder)
        for name in PLAN:
            if name in args.skip:
                continue
            _, spent[name] = run(name, args.quick, results)
        text = write_doc(results, spent, started, args.quick)
    print(f"\nWrote {DOC.relative_to(common.REPO)} ({len(text.splitlines())} lines) in {sum(spent.values()):.0f} s.")


if __name__ == "__main__":
    main()
