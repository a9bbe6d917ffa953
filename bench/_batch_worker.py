"""One measured batch in a fresh interpreter: the panel's real review graph, or the bare script.

    python bench/_batch_worker.py panel|bare|sdk|seam|seam+store --home WS --url URL --concurrency 50
        [--briefs N] [--model openai/fake]

Every mode sends the same requests (the panel's rendered messages, the same response_format,
timeout and key) to the same server: `bare` through litellm.acompletion, `sdk` through the
official openai SDK's AsyncOpenAI, both under asyncio.gather. `--model custom_openai/fake` sends
panel's calls through litellm (its OpenAI-compatible provider that the SDK backend does not take),
to measure that path and its worker processes. Imports and one warm-up call happen before the clock
starts; the last line printed is a JSON object with wall, CPU (this process, all threads), calls
and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")

MODEL = "openai/fake"  # --model: panel mode's model string (openai/... goes through the openai SDK)


class GcClock:
    """Seconds spent in the garbage collector (gc.callbacks), to show where CPU goes."""

    def __init__(self):
        import gc

        self.seconds = 0.0
        self.collections = 0
        self.by_generation = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            self.seconds += spent
            self.by_generation[info["generation"]] += spent
            self.collections += 1

    def reset(self):
        self.seconds, self.collections, self.by_generation = 0.0, 0, [0.0, 0.0, 0.0]


GC = GcClock()


class Profile:
    """--profile FILE: cProfile of the measured part only (for finding what to cut)."""

    path: str | None = None
    profiler = None

    def start(self):
        if self.path:
            import cProfile

            self.profiler = cProfile.Profile()
            self.profiler.enable()

    def stop(self):
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.path)


PROFILE = Profile()


def load_inputs(home: Path, n: int | None):
    from panel.inputs.briefs import brief_files, load_brief
    from panel.inputs.personas import load_personas

    briefs = [load_brief(p) for p in brief_files(home / "briefs")]
    return (briefs[:n] if n else briefs), load_personas(home / "personas")


def children_cpu() -> float:
    """CPU of this process's finished children: the worker processes, once a batch has joined them."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_panel(home: Path, url: str, concurrency: int, n: int | None, workers: int | None = None) -> dict:
    from panel.review.graph import batch_graph

    batch_graph()  # langgraph is imported when the graph is first built: before the clock, like the rest
    from panel.models.backends import backend_for
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.models.providers import get_litellm
    from panel.inputs.personas import render_messages
    from panel.review.plan import ReviewOptions
    from panel.review.run import run_review
    from panel.store.store import Store

    briefs, personas = load_inputs(home, n)
    if not backend_for(MODEL, url).in_process:
        get_litellm()  # imported before the fork, as a CLI batch does; the SDK path never imports it
    warm = ModelSeam(concurrency=1)
    persona = next(iter(personas.values()))
    await warm.review(ModelSettings(model=MODEL, api_base=url), persona.name, persona.version,
                      render_messages(persona, briefs[0]))
    assert warm.modes, "the warm-up call failed"
    with tempfile.TemporaryDirectory(prefix="panel-bench-db-") as folder:
        store = Store(Path(folder) / "panel.db")
        # The mode the warm-up call found, stored as any earlier run against this server would have.
        store.save_response_mode(url, MODEL, warm.modes[(url, MODEL)])
        options = ReviewOptions(model=MODEL, api_base=url, concurrency=concurrency, fresh=True, workers=workers)
        GC.reset()
        PROFILE.start()
        cpu0, wall0, children0 = time.process_time(), time.perf_counter(), children_cpu()
        outcome = await run_review(briefs, personas, store, options)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        workers_cpu = children_cpu() - children0
        PROFILE.stop()
        store.close()
    complete = sum(1 for p in outcome.panels if p.complete)
    return {"wall": wall, "cpu": cpu + workers_cpu, "main_cpu": cpu, "calls": outcome.calls_made,
            "complete_panels": complete, "workers": outcome.workers}


async def timed_gather(one, requests: list) -> dict:
    """`one(messages)` for every request under asyncio.gather, timed (a bare script's measured part)."""
    GC.reset()
    PROFILE.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    responses = await asyncio.gather(*(one(m) for m in requests))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    PROFILE.stop()
    return {"wall": wall, "cpu": cpu, "calls": len(responses), "complete_panels": None}


async def run_bare(home: Path, url: str, concurrency: int, n: int | None) -> dict:
    """The same requests through litellm.acompletion under asyncio.gather, litellm as installed."""
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.inputs.personas import render_messages

    briefs, personas = load_inputs(home, n)
    # Exactly the keyword arguments the seam sends, built before the clock starts.
    kwargs = ModelSeam()._call_kwargs(ModelSettings(model=MODEL, api_base=url))
    requests = [render_messages(p, b) for b in briefs for p in personas.values()]
    import litellm

    litellm.num_retries = 0
    await litellm.acompletion(messages=requests[0], **kwargs)
    gate = asyncio.Semaphore(concurrency)

    async def one(messages):
        async with gate:
            return await litellm.acompletion(messages=messages, **kwargs)

    return await timed_gather(one, requests)


async def run_sdk(home: Path, url: str, concurrency: int, n: int | None) -> dict:
    """The same requests through the official openai SDK (AsyncOpenAI, its retries off) under
    asyncio.gather: the floor an OpenAI-compatible client can reach from one process."""
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.inputs.personas import render_messages

    briefs, personas = load_inputs(home, n)
    kwargs = ModelSeam()._call_kwargs(ModelSettings(model="openai/fake", api_base=url))
    requests = [render_messages(p, b) for b in briefs for p in personas.values()]
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key=kwargs["api_key"], max_retries=0)
    create = {"model": "fake", "response_format": kwargs["response_format"], "timeout": kwargs["timeout"]}
    await client.chat.completions.create(messages=requests[0], **create)
    gate = asyncio.Semaphore(concurrency)

    async def one(messages):
        async with gate:
            return await client.chat.completions.create(messages=messages, **create)

    return await timed_gather(one, requests)


async def run_seam(home: Path, url: str, concurrency: int, n: int | None, store_too: bool = False) -> dict:
    """The model seam alone (prompts rendered before the clock starts), optionally with each
    result stored as production does: separates the seam's and the store's cost from the graph's."""
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.models.providers import get_litellm
    from panel.inputs.personas import render_messages
    from panel.store.store import Store
    from panel.review.plan import make_job

    briefs, personas = load_inputs(home, n)
    pairs = [(b, p, render_messages(p, b)) for b in briefs for p in personas.values()]
    get_litellm()
    settings = ModelSettings(model=MODEL, api_base=url)
    seam = ModelSeam(concurrency=concurrency)
    first = pairs[0]
    await ModelSeam(concurrency=1).review(settings, first[1].name, first[1].version, first[2])
    with tempfile.TemporaryDirectory(prefix="panel-bench-db-") as folder:
        store = Store(Path(folder) / "panel.db")
        hashes = {b.slug: store.save_brief(b) for b in briefs}
        for persona in personas.values():
            store.save_persona_version(persona)
        run_id = store.start_run("bench", MODEL, list(hashes), concurrency)

        async def one(brief, persona, messages):
            call = await seam.review(settings, persona.name, persona.version, messages)
            if store_too:
                store.record_call(run_id, make_job(persona, brief, hashes[brief.slug], settings), call)
            return call

        GC.reset()
        PROFILE.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        calls = await asyncio.gather(*(one(*pair) for pair in pairs))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        PROFILE.stop()
        store.close()
    ok = sum(1 for c in calls if c.status == "ok")
    return {"wall": wall, "cpu": cpu, "calls": len(calls), "complete_panels": None, "ok": ok}


async def run_seam_store(home: Path, url: str, concurrency: int, n: int | None) -> dict:
    return await run_seam(home, url, concurrency, n, store_too=True)


RUNNERS = {"panel": run_panel, "bare": run_bare, "sdk": run_sdk, "seam": run_seam, "seam+store": run_seam_store}


def main() -> None:
    if os.environ.get("BENCH_GC_THRESHOLD"):  # experiments only
        import gc

        gc.set_threshold(*map(int, os.environ["BENCH_GC_THRESHOLD"].split(",")))
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=list(RUNNERS))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--briefs", type=int, default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile file of the measured part")
    parser.add_argument("--workers", type=int, default=None, help="panel mode: --workers (default: one per core)")
    parser.add_argument("--model", default=MODEL, help="panel mode: the model string (default openai/fake)")
    args = parser.parse_args()
    globals()["MODEL"] = args.model
    runner = RUNNERS[args.mode]
    PROFILE.path = args.profile
    extra = {"workers": args.workers} if args.mode == "panel" else {}
    result = asyncio.run(runner(args.home, args.url, args.concurrency, args.briefs, **extra))
    result["mode"] = args.mode
    result["gc_seconds"] = GC.seconds
    result["gc_by_generation"] = [round(x, 3) for x in GC.by_generation]
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
