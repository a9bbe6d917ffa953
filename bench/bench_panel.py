"""One five-persona panel against a server that answers in exactly L seconds (default 0.5).

In one process, after imports and one warm-up call, alternating:
  - panel: run_review on one brief (the real graph, model seam and store; --fresh, so every
           persona calls the model);
  - baseline: the same five requests through litellm.acompletion, one after another (~5 L);
  - reference: the same five requests under asyncio.gather, no panel around them.
The limit for the panel is L: the five personas run concurrently.

    python bench/bench_panel.py [--latency 0.5] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


async def measure(url: str, home: Path, repeats: int) -> dict:
    import panel.review.graph  # noqa: F401  (imported lazily by review; not part of what is timed)
    from panel.inputs.briefs import brief_files, load_brief
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.models.providers import get_litellm
    from panel.inputs.personas import load_personas, render_messages
    from panel.review.plan import ReviewOptions
    from panel.review.run import run_review
    from panel.store.store import Store

    brief = load_brief(brief_files(home / "briefs")[0])
    personas = load_personas(home / "personas")
    litellm = get_litellm()
    kwargs = ModelSeam()._call_kwargs(ModelSettings(model=common.FAKE_MODEL, api_base=url))
    requests = [render_messages(p, brief) for p in personas.values()]
    await litellm.acompletion(messages=requests[0], **kwargs)  # warm-up: connection pool, lazy imports
    panel_walls, serial_walls, gather_walls = [], [], []
    with tempfile.TemporaryDirectory(prefix="panel-bench-one-") as folder:
        store = Store(Path(folder) / "panel.db")
        options = ReviewOptions(model=common.FAKE_MODEL, api_base=url, concurrency=8, fresh=True)
        await run_review([brief], personas, store, options)  # warm-up of the graph and store paths
        for _ in range(repeats):
            started = time.perf_counter()
            outcome = await run_review([brief], personas, store, options)
            panel_walls.append(time.perf_counter() - started)
            assert outcome.calls_made == len(personas) and outcome.complete, outcome
            started = time.perf_counter()
            for messages in requests:
                await litellm.acompletion(messages=messages, **kwargs)
            serial_walls.append(time.perf_counter() - started)
            started = time.perf_counter()
            await asyncio.gather(*(litellm.acompletion(messages=m, **kwargs) for m in requests))
            gather_walls.append(time.perf_counter() - started)
        store.close()
    return {"panel": panel_walls, "serial": serial_walls, "gather": gather_walls, "personas": len(personas)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    L = args.latency
    with common.workspace(1) as home, common.FakeServer(L) as server:
        data = asyncio.run(measure(server.url, home, args.repeats))
    panel, serial, gather = (common.median(data[k]) for k in ("panel", "serial", "gather"))
    ok = panel <= 1.1 * L
    rows = [
        ["limit: the slowest single call", common.fmt_s(L), "1.00 x"],
        ["panel: 5 personas through the graph, seam and store", common.fmt_s(panel), f"{panel / L:.2f} x"],
        ["baseline: the 5 calls one after another", common.fmt_s(serial), f"{serial / L:.2f} x"],
        ["reference: the 5 calls under asyncio.gather, no panel", common.fmt_s(gather), f"{gather / L:.2f} x"],
    ]
    text = (
        f"L = {L:g} s; medians of {args.repeats} alternating runs in one process, after imports and warm-up "
        f"(the panel's wall includes storing its five calls, verdicts and the panel).\n\n"
        + common.table(["", "wall (median)", "÷ L"], rows)
        + f"\n\n- panel wall ≤ 1.1 x L: {panel / L:.2f} x — {common.verdict_status(ok)}; "
        f"{serial / panel:.1f} x faster than the calls one after another; the panel's own work (graph, "
        f"validation, storage) adds {1000 * (panel - gather):.0f} ms to litellm's bare concurrent calls."
    )
    common.report("panel", "One five-persona panel", text,
                  {"latency": L, "runs": data, "panel_median": panel, "serial_median": serial,
                   "gather_median": gather, "ok": ok})


if __name__ == "__main__":
    main()
