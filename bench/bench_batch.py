"""200 briefs x 5 personas at --concurrency 50 against a server that answers in exactly L seconds.

Side by side, alternating, each in a fresh interpreter (bench/_batch_worker.py):
  - panel: the real review graph, model seam and SQLite store (run_review), timed after imports;
  - bare:  the same 1,000 requests through litellm.acompletion under asyncio.gather (a semaphore
           of 50), litellm as installed;
and the limit, ceil(1000 / 50) x L. Then once through the real CLI as a subprocess
(`panel review <folder> --concurrency 50 --json`), for end-to-end wall time and peak memory.

    python bench/bench_batch.py [--latency 1.0] [--briefs 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

WORKER = Path(__file__).resolve().parent / "_batch_worker.py"


def measure(latency: float, n_briefs: int, concurrency: int, repeats: int) -> dict:
    calls = n_briefs * len(common.PERSONAS)
    ideal = math.ceil(calls / concurrency) * latency
    runs: dict[str, list[dict]] = {"panel": [], "bare": []}
    with common.workspace(n_briefs) as home, common.FakeServer(latency) as server:
        for _ in range(repeats):
            for mode in ("panel", "bare"):  # alternate, so drifting machine load hits both alike
                args = [mode, "--home", str(home), "--url", server.url, "--concurrency", str(concurrency)]
                result = common.run_worker(WORKER, args)
                if result["calls"] != calls:
                    raise RuntimeError(f"{mode} made {result['calls']} calls, expected {calls}")
                runs[mode].append(result)
                print(f"  {mode}: {result['wall']:.2f} s wall, {1000 * result['cpu'] / calls:.2f} ms CPU/call",
                      flush=True)
        before = server.requests()
        cli = common.run_child(
            [common.panel_exe(), "review", str(home / "briefs"), "--model", common.FAKE_MODEL,
             "--api-base", server.url, "--concurrency", str(concurrency), "--json"],
            env=common.panel_env(home),
        )
        cli_calls = server.requests() - before
    return {"latency": latency, "calls": calls, "concurrency": concurrency, "ideal": ideal, "runs": runs,
            "cli": {"wall": cli["wall"], "cpu": cli["cpu"], "maxrss_mb": cli["maxrss_mb"], "calls": cli_calls,
                    "returncode": cli["returncode"]}}


def summarise(data: dict) -> tuple[str, dict]:
    calls, ideal = data["calls"], data["ideal"]
    stats = {}
    for mode, runs in data["runs"].items():
        stats[mode] = {
            "wall": common.median([r["wall"] for r in runs]),
            "cpu_ms_per_call": common.median([1000 * r["cpu"] / calls for r in runs]),
            "gc_ms_per_call": common.median([1000 * r["gc_seconds"] / calls for r in runs]),
            "maxrss_mb": common.median([r["maxrss_mb"] for r in runs]),
        }
    panel, bare = stats["panel"], stats["bare"]
    ratio_cpu = panel["cpu_ms_per_call"] / bare["cpu_ms_per_call"]
    cli = data["cli"]
    rows = [
        ["ideal: ceil(calls / concurrency) x L", common.fmt_s(ideal), "1.00 x", "—", "—", "—"],
        ["bare script (litellm.acompletion + gather)", common.fmt_s(bare["wall"]), f"{bare['wall'] / ideal:.2f} x",
         f"{bare['cpu_ms_per_call']:.2f} ms", f"{bare['gc_ms_per_call']:.2f} ms", f"{bare['maxrss_mb']:.0f} MB"],
        ["panel: review graph + seam + store (in process)", common.fmt_s(panel["wall"]),
         f"{panel['wall'] / ideal:.2f} x", f"{panel['cpu_ms_per_call']:.2f} ms",
         f"{panel['gc_ms_per_call']:.2f} ms", f"{panel['maxrss_mb']:.0f} MB"],
        ["`panel review` CLI, whole process (1 run)", common.fmt_s(cli["wall"]), f"{cli['wall'] / ideal:.2f} x",
         f"{1000 * cli['cpu'] / calls:.2f} ms (incl. imports)", "—", f"{cli['maxrss_mb']:.0f} MB"],
    ]
    table = common.table(["", "wall (median)", "÷ ideal", "CPU per call", "of which GC", "peak RSS"], rows)
    runs = len(data["runs"]["panel"])
    wall_ok = panel["wall"] <= 1.1 * ideal
    cpu_ok = panel["cpu_ms_per_call"] <= bare["cpu_ms_per_call"]
    text = (
        f"{calls} calls ({calls // len(common.PERSONAS)} briefs x 5 personas), --concurrency {data['concurrency']}, "
        f"L = {data['latency']:g} s; medians of {runs} alternating runs of each, every run in a fresh interpreter, "
        f"timed after imports and one warm-up call.\n\n{table}\n\n"
        f"- panel wall ≤ 1.1 x ideal: {panel['wall'] / ideal:.2f} x — {common.verdict_status(wall_ok)}\n"
        f"- panel CPU per call ≤ bare script's: {ratio_cpu:.2f} x the bare script's — "
        f"{common.verdict_status(cpu_ok)}\n"
        f"- peak memory of the 200-brief batch: {cli['maxrss_mb']:.0f} MB RSS for the whole `panel review` process "
        f"({panel['maxrss_mb']:.0f} MB for the in-process run, {bare['maxrss_mb']:.0f} MB for the bare script); "
        f"the CLI run made {cli['calls']} model calls."
    )
    summary = {"ideal": ideal, "panel": panel, "bare": bare, "cpu_ratio": ratio_cpu, "wall_ok": wall_ok,
               "cpu_ok": cpu_ok, "cli": cli}
    return text, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = measure(args.latency, args.briefs, args.concurrency, args.repeats)
    text, summary = summarise(data)
    common.report("batch", "Batch throughput: 200 briefs x 5 personas, --concurrency 50", text,
                  {"raw": data, "summary": summary})


if __name__ == "__main__":
    main()
