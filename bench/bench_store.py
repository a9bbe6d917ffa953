"""The store: writing verdicts one transaction each (as a batch does), and the audit's full-text
search and history over 100,000 stored verdicts.

    python bench/bench_store.py [--verdicts 100000] [--writes 1000] [--repeats 20]

Writes go through Store.record_call, one transaction per verdict, WAL + synchronous=NORMAL: what
crash safety needs, so a killed batch loses at most the call in flight. The 100k-verdict store
is filled with direct inserts in one transaction (its FTS triggers included), then queried with
panel.audit.search_verdicts and panel.audit.verdict_history, the functions behind
`panel audit search` and `panel audit history`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

WORDS = (
    "pricing licence vendor lock-in benchmark latency throughput onboarding setup docs community "
    "plugin editor terminal agent context window tokens cost usage seat enterprise open weights "
    "privacy telemetry offline local inference quantised model accuracy hallucination review "
    "refactor tests coverage integration api sdk migration roadmap competitor incumbent niche "
    "workflow team startup budget support release stability security sandbox permissions audit "
    "compliance export import format schema database query index cache cluster deploy cloud "
    "self-hosted pricing-page trial freemium subscription margin moat distribution adoption hype"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def fill(store, n_verdicts: int, seed: int = 7) -> dict:
    """n_verdicts verdicts: n/10 tools x 5 personas x 2 runs, with panels for the second run."""
    from panel.store.db import now

    rng = random.Random(seed)
    n_tools = max(1, n_verdicts // 10)
    stamp = now()
    db = store.db
    started = time.perf_counter()
    with db.atomic():
        conn = db.conn
        for version, persona in enumerate(common.PERSONAS):
            conn.execute("INSERT INTO persona_versions VALUES (?, ?, ?, ?, ?, ?)",
                         [f"v{version}", persona, "name: x", "s", "p", stamp])
        run_ids = []
        for _ in range(2):
            cur = conn.execute(
                "INSERT INTO runs (started_at, finished_at, command, model, concurrency, briefs, status, calls_made,"
                " calls_reused, prompt_tokens, completion_tokens, cost) VALUES (?, ?, 'review', 'openai/fake', 50,"
                " '[]', 'complete', 0, 0, 0, 0, 0)", [stamp, stamp])
            run_ids.append(cur.lastrowid)
        conn.executemany("INSERT INTO briefs (hash, slug, name, json, first_seen) VALUES (?, ?, ?, '{}', ?)",
                         [(f"h{t}", f"tool-{t:05d}", f"Tool {t}", stamp) for t in range(n_tools)])
        verdict_id = 0
        for run_no, run_id in enumerate(run_ids):
            for t in range(n_tools):
                members = []
                for version, persona in enumerate(common.PERSONAS):
                    verdict_id += 1
                    decision = rng.choice(("ship", "skip"))
                    conn.execute(
                        "INSERT INTO calls (id, run_id, slug, brief_hash, persona, persona_version, model, params,"
                        " request, response, attempts, latency, prompt_tokens, completion_tokens, cost, outcome,"
                        " error, created_at) VALUES (?, ?, ?, ?, ?, ?, 'openai/fake', '{}', '[]', '', 1, 1.0,"
                        " 500, 200, 0, 'ok', NULL, ?)",
                        [verdict_id, run_id, f"tool-{t:05d}", f"h{t}", persona, f"v{version}", stamp])
                    conn.execute(
                        "INSERT INTO verdicts (id, call_id, run_id, slug, brief_hash, persona, persona_version, model,"
                        " params, cache_key, status, verdict, confidence, headline, rationale, strengths, risks,"
                        " competitors, raw, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'openai/fake', '{}', ?,"
                        " 'ok', ?, 0.7, ?, ?, '[]', '[]', '[]', '', NULL, ?)",
                        [verdict_id, verdict_id, run_id, f"tool-{t:05d}", f"h{t}", persona, f"v{version}",
                         f"k{verdict_id}", decision, sentence(rng, 8), sentence(rng, 90), stamp])
                    members.append((persona, verdict_id))
                if run_no == len(run_ids) - 1:
                    cur = conn.execute(
                        "INSERT INTO panels (run_id, slug, brief_hash, seated, reported, ships, ship_pct, interval_lo,"
                        " interval_hi, created_at) VALUES (?, ?, ?, 5, 5, 3, 60.0, 23.1, 88.2, ?)",
                        [run_id, f"tool-{t:05d}", f"h{t}", stamp])
                    conn.executemany("INSERT INTO panel_members (panel_id, persona, verdict_id, cached) VALUES (?, ?, "
                                     "?, 0)",
                                     [(cur.lastrowid, p, v) for p, v in members])
    db.execute("ANALYZE")
    return {"verdicts": verdict_id, "tools": n_tools, "fill_seconds": time.perf_counter() - started}


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm the page cache and SQLite's statement cache
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return common.median(times), result


def audit_queries(store, n_tools: int) -> list[tuple[str, object]]:
    from panel.store import audit

    db = store.db
    slug = f"tool-{n_tools // 2:05d}"
    return [
        ("search: common word (`pricing`)", lambda: audit.search_verdicts(db, "pricing")),
        ("search: two words (`vendor lock-in`)", lambda: audit.search_verdicts(db, "vendor lock-in")),
        ("search: prefix (`licen*`)", lambda: audit.search_verdicts(db, "licen*")),
        ("search: phrase, one persona (`\"open weights\"`, skeptic)",
         lambda: audit.search_verdicts(db, '"open weights"', persona="skeptic")),
        ("search: one tool (`--brief`)", lambda: audit.search_verdicts(db, "pricing", slug=slug)),
        ("search: no match (`zzzunseen`)", lambda: audit.search_verdicts(db, "zzzunseen")),
        ("history: one tool, all personas", lambda: audit.verdict_history(db, slug)),
        ("history: one tool, one persona", lambda: audit.verdict_history(db, slug, persona="skeptic")),
    ]


def make_outcomes(n: int) -> list:
    """n realistic CallOutcomes: a real rendered prompt and a verdict-sized reply."""
    sys.path.insert(0, str(common.REPO / "tests"))
    from fake_openai import default_verdict

    from panel.core.brief import ToolBrief
    from panel.models.seam import CallOutcome
    from panel.core.verdict import parse_verdict
    from panel.inputs.personas import load_personas, render_messages

    import yaml

    personas = list(load_personas(common.REPO / "personas").values())
    outcomes = []
    for i in range(n):
        brief = ToolBrief.model_validate(yaml.safe_load(common.brief_yaml(i)))
        persona = personas[i % len(personas)]
        raw = json.dumps(default_verdict("ship" if i % 3 else "skip", str(i)))
        outcomes.append((brief, persona, CallOutcome(
            persona=persona.name, persona_version=persona.version, model=common.FAKE_MODEL, status="ok",
            answer=parse_verdict(raw), raw=raw, request=render_messages(persona, brief), attempts=1, latency=1.0,
            prompt_tokens=600, completion_tokens=250, cost=0.0)))
    return outcomes


def measure_writes(n: int, repeats: int) -> list[float]:
    from panel.store.store import Store
    from panel.models.seam import ModelSettings
    from panel.review.plan import make_job

    outcomes = make_outcomes(n)
    totals = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="panel-bench-store-") as folder:
            store = Store(Path(folder) / "panel.db")
            hashes = {}
            for brief, persona, _ in outcomes:
                hashes[brief.slug] = store.save_brief(brief)
                store.save_persona_version(persona)
            run_id = store.start_run("bench", common.FAKE_MODEL, list(hashes), 50)
            started = time.perf_counter()
            for brief, persona, call in outcomes:
                job = make_job(persona, brief, hashes[brief.slug], ModelSettings(model=call.model))
                store.record_call(run_id, job, call)
            totals.append(time.perf_counter() - started)
            store.close()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--write-repeats", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    from panel.store.store import Store

    writes = measure_writes(args.writes, args.write_repeats)
    write_median = common.median(writes)
    print(f"  storing {args.writes} verdicts: {write_median:.3f} s (median of {len(writes)})", flush=True)

    with tempfile.TemporaryDirectory(prefix="panel-bench-audit-") as folder:
        store = Store(Path(folder) / "panel.db")
        filled = fill(store, args.verdicts)
        print(f"  filled {filled['verdicts']} verdicts in {filled['fill_seconds']:.1f} s", flush=True)
        size_mb = (Path(folder) / "panel.db").stat().st_size / 2**20
        results = []
        for label, query in audit_queries(store, filled["tools"]):
            seconds, found = timed(query, args.repeats)
            results.append({"query": label, "median_s": seconds, "rows": len(found)})
            print(f"  {label}: {seconds * 1000:.2f} ms, {len(found)} rows", flush=True)
        store.close()

    worst = max(r["median_s"] for r in results)
    rows = [[f"storing {args.writes} verdicts via Store.record_call (one transaction each)",
             f"{write_median:.3f} s ({1000 * write_median / args.writes:.2f} ms each)", "≤ 1 s",
             common.verdict_status(write_median <= 1.0)]]
    rows += [[r["query"], f"{r['median_s'] * 1000:.2f} ms ({r['rows']} rows)", "≤ 50 ms",
              common.verdict_status(r["median_s"] <= 0.05)] for r in results]
    text = (
        f"Writes: median of {len(writes)} runs of {args.writes} verdicts, each on a fresh database, WAL + "
        f"synchronous=NORMAL. Audit: {filled['verdicts']:,} verdicts ({filled['tools']:,} tools x 5 personas x 2 "
        f"runs, {size_mb:.0f} MB database, filled in {filled['fill_seconds']:.1f} s), queried through "
        f"`panel.audit.search_verdicts` / `verdict_history` (the functions behind `panel audit search` and "
        f"`panel audit history`); medians of {args.repeats} runs after one warm-up.\n\n"
        + common.table(["operation", "median", "target", "status"], rows)
    )
    common.report("store", "Storage and audit over 100k verdicts", text,
                  {"writes_s": writes, "audit": results, "filled": filled, "worst_query_s": worst,
                   "writes_ok": write_median <= 1.0, "audit_ok": worst <= 0.05})


if __name__ == "__main__":
    main()
