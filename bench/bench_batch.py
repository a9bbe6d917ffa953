"""Batch throughput against a server that answers in exactly L seconds, side by side in one run.

Two batches: 200 briefs x 5 personas at --concurrency 50 (1,000 calls), and 1,000 briefs x 5 at
--concurrency 200 (5,000 calls). Alternating, each run in a fresh interpreter
(bench/_batch_worker.py), timed after imports and one warm-up call:
  - sdk:     the same requests through the official openai SDK (AsyncOpenAI) under asyncio.gather
             (a semaphore of the same size): the floor for an OpenAI-compatible client;
  - bare:    the same requests through litellm.acompletion the same way, litellm as installed
             (1,000-call batch);
  - panel:   the real review graph, model seam and SQLite store (run_review) with `openai/fake`
             at --api-base, which goes through the openai SDK, in process;
  - litellm, workers / in process: panel with `custom_openai/fake`, which litellm serves, with
             its worker processes (one per core, panel.models.workers) and with --workers 0
             (5,000-call batch): do the workers still earn their keep on litellm's path?
and the limit, ceil(calls / concurrency) x L. Then the 1,000-call batch once through the real CLI
as a subprocess (`panel review <folder> --concurrency 50 --json`), and one brief (five calls)
through the CLI three times, for end-to-end wall time.

The server's structured-output mode is known before the clock starts, as on every run after the
first against a server (the first run spends one extra L finding it; docs/scale.md).

    python bench/bench_batch.py [--latency 1.0] [--repeats 2] [--big-briefs 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

WORKER = Path(__file__).resolve().parent / "_batch_worker.py"
LITELLM_MODEL = "custom_openai/fake"  # served by litellm (the SDK backend does not take custom_openai/)
MODES = {"sdk": ["sdk"], "bare": ["bare"], "panel": ["panel"],
         "litellm, workers": ["panel", "--model", LITELLM_MODEL],
         "litellm, in process": ["panel", "--model", LITELLM_MODEL, "--workers", "0"]}


def measure(latency: float, n_briefs: int, concurrency: int, repeats: int, modes: list[str], cli: bool,
            once: tuple[str, ...] = ()) -> dict:
    """`modes` run `repeats` times, alternating; those also in `once` only in the first round (to keep
    `make bench` under ten minutes)."""
    calls = n_briefs * len(common.PERSONAS)
    ideal = math.ceil(calls / concurrency) * latency
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    data = {"latency": latency, "calls": calls, "concurrency": concurrency, "ideal": ideal, "runs": runs}
    with common.workspace(n_briefs) as home, common.FakeServer(latency) as server:
        for round_ in range(repeats):
            for mode in [m for m in modes if round_ == 0 or m not in once]:  # alternate: drifting load hits all alike
                args = [*MODES[mode], "--home", str(home), "--url", server.url, "--concurrency", str(concurrency)]
                result = common.run_worker(WORKER, args)
                if result["calls"] != calls:
                    raise RuntimeError(f"{mode} made {result['calls']} calls, expected {calls}")
                runs[mode].append(result)
                print(f"  {calls} calls, {mode}: {result['wall']:.2f} s wall ({result['wall'] / ideal:.2f} x ideal), "
                      f"{1000 * result['cpu'] / calls:.2f} ms CPU/call, {result.get('workers', 0)} workers", flush=True)
        if cli:
            data["cli"] = measure_cli(home, server, concurrency)
    return data


def measure_cli(home: Path, server, concurrency: int) -> dict:
    """The whole `panel review` process, after one small run that learns the server's mode: the
    batch once, and one brief (five calls) three times."""
    briefs = home / "briefs"
    first = sorted(briefs.glob("*.yaml"))[0]
    command = [common.panel_exe(), "review", "--model", common.FAKE_MODEL, "--api-base", server.url, "--json"]
    common.run_child([*command, str(first)], env=common.panel_env(home))
    ones = [common.run_child([*command, str(first), "--fresh"], env=common.panel_env(home))["wall"] for _ in range(3)]
    before = server.requests()
    run = common.run_child([*command, str(briefs), "--concurrency", str(concurrency), "--fresh"],
                           env=common.panel_env(home))
    return {"wall": run["wall"], "cpu": run["cpu"], "maxrss_mb": run["maxrss_mb"], "calls": server.requests() - before,
            "returncode": run["returncode"], "one_brief": ones}


def stats_of(runs: list[dict], calls: int) -> dict:
    return {
        "wall": common.median([r["wall"] for r in runs]),
        "cpu_ms_per_call": common.median([1000 * r["cpu"] / calls for r in runs]),
        "main_cpu_ms_per_call": common.median([1000 * r.get("main_cpu", r["cpu"]) / calls for r in runs]),
        "maxrss_mb": common.median([r["maxrss_mb"] for r in runs]),
        "workers": runs[0].get("workers", 0),
    }


LABELS = {"sdk": "bare script: openai SDK (AsyncOpenAI + gather)",
          "bare": "bare script: litellm.acompletion + gather",
          "panel": "panel, openai/ at --api-base (the openai SDK, in process)",
          "litellm, workers": "panel, custom_openai/ (litellm), {w} workers",
          "litellm, in process": "panel, custom_openai/ (litellm), in process (--workers 0)"}


def batch_table(data: dict) -> tuple[str, dict]:
    calls, ideal = data["calls"], data["ideal"]
    stats = {mode: stats_of(runs, calls) for mode, runs in data["runs"].items()}
    rows = [["ideal: ceil(calls / concurrency) x L", common.fmt_s(ideal), "1.00 x", "—", "—", "—"]]
    for mode, st in stats.items():
        cpu = f"{st['cpu_ms_per_call']:.2f} ms"
        if st["workers"]:
            cpu += f" ({st['main_cpu_ms_per_call']:.2f} ms in the main process)"
        rows.append([LABELS[mode].format(w=st["workers"]), common.fmt_s(st["wall"]), f"{st['wall'] / ideal:.2f} x",
                     st["workers"], cpu, f"{st['maxrss_mb']:.0f} MB"])
    cli = data.get("cli")
    if cli:
        rows.append(["`panel review` CLI, whole process (1 run)",
                     common.fmt_s(cli["wall"]), f"{cli['wall'] / ideal:.2f} x", 0,
                     f"{1000 * cli['cpu'] / calls:.2f} ms (incl. imports)", f"{cli['maxrss_mb']:.0f} MB"])
    table = common.table(["", "wall (median)", "÷ ideal", "workers", "CPU per call (all processes)", "peak RSS"],
                         rows)
    head = (f"{calls:,} calls ({calls // len(common.PERSONAS):,} briefs x 5 personas), --concurrency "
            f"{data['concurrency']}, L = {data['latency']:g} s; medians of "
            + ", ".join(f"{len(runs)} {mode}" for mode, runs in data["runs"].items()) + " run(s), alternating")
    return f"{head}\n\n{table}", stats


def summarise(small: dict, big: dict) -> tuple[str, dict]:
    small_text, s = batch_table(small)
    big_text, b = batch_table(big)
    ideal, big_ideal, latency = small["ideal"], big["ideal"], small["latency"]
    panel, sdk, cli = s["panel"], s["sdk"], small["cli"]
    ratio, cli_ratio, big_ratio = panel["wall"] / ideal, cli["wall"] / ideal, b["panel"]["wall"] / big_ideal
    cpu_ratio = panel["cpu_ms_per_call"] / sdk["cpu_ms_per_call"]
    one = common.median(cli["one_brief"]) - latency
    workers, alone = b["litellm, workers"], b["litellm, in process"]
    checks = {
        "wall_ok": ratio <= 1.05,
        "cpu_ok": cpu_ratio <= 1.3,
        "cli_ok": cli_ratio <= 1.1,
        "big_ok": big_ratio <= 1.12,
        "one_ok": one <= 1.0,
        "workers_help": workers["wall"] < alone["wall"],
    }
    text = (
        f"Every run in a fresh interpreter, timed after imports and one warm-up call; CPU per call counts the "
        f"worker processes too.\n\n{small_text}\n\n{big_text}\n\n"
        f"- 1,000 calls: panel ≤ 1.05 x ideal: {ratio:.2f} x — {common.verdict_status(checks['wall_ok'])}\n"
        f"- 1,000 calls: panel's CPU per call ≤ 1.3 x the bare SDK script's: {cpu_ratio:.2f} x — "
        f"{common.verdict_status(checks['cpu_ok'])}\n"
        f"- 1,000 calls: the `panel review` CLI, whole process, ≤ 1.1 x ideal: {cli_ratio:.2f} x — "
        f"{common.verdict_status(checks['cli_ok'])}\n"
        f"- 5,000 calls at --concurrency {big['concurrency']}: panel ≤ 1.12 x ideal in one process: {big_ratio:.2f} x "
        f"(bare SDK script {b['sdk']['wall'] / big_ideal:.2f} x) — {common.verdict_status(checks['big_ok'])}\n"
        f"- one brief, five personas, the whole CLI process ≤ L + 1.0 s: L + {one:.2f} s (median of "
        f"{len(cli['one_brief'])}) — {common.verdict_status(checks['one_ok'])}\n"
        f"- litellm's path at --concurrency {big['concurrency']}: {workers['wall'] / big_ideal:.2f} x ideal with "
        f"{workers['workers']} worker processes, {alone['wall'] / big_ideal:.2f} x in one process: the workers "
        f"{'still earn their keep there' if checks['workers_help'] else 'no longer help'}.\n"
        f"- the CLI run made {cli['calls']} model calls; peak memory of that process {cli['maxrss_mb']:.0f} MB RSS."
    )
    summary = {"ideal": ideal, "panel": panel, "sdk": sdk, "bare": s.get("bare"), "cli": cli, "one_brief": one,
               "cpu_ratio": cpu_ratio, "big": {"ideal": big_ideal, **b}, **checks}
    return text, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--big-briefs", type=int, default=1000)
    parser.add_argument("--big-concurrency", type=int, default=200)
    args = parser.parse_args()
    small = measure(args.latency, args.briefs, args.concurrency, args.repeats, ["sdk", "bare", "panel"],
                    cli=True, once=("bare",))
    big = measure(args.latency, args.big_briefs, args.big_concurrency, 1,
                  ["sdk", "panel", "litellm, workers", "litellm, in process"], cli=False)
    text, summary = summarise(small, big)
    common.report("batch", "Batch throughput: one machine, the openai SDK and litellm's path", text,
                  {"raw": small, "raw_big": big, "summary": summary})


if __name__ == "__main__":
    main()
