"""Benchmark the embedded model path (panel.local) against raw llama.cpp, side by side in one run.

    python bench/bench_local.py            # speed: raw vs panel vs naive grammar, five-persona panel
    python bench/bench_local.py --sweep    # sampling settings against looping (slower, ~5 min)

Both write their results (with the date) to docs/benchmarks-local.md, each into its own section.
All paths share one loaded model; measurements are interleaved across repetitions, so a noisy
neighbour slows every path alike, and medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from panel import local  # noqa: E402
from panel.briefs import ToolBrief, brief_files, load_brief  # noqa: E402
from panel.verdict import Verdict, verdict_schema  # noqa: E402

DOC = ROOT / "docs" / "benchmarks-local.md"
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": verdict_schema(), "strict": True}}
BRIEFS = ["aider", "ollama", "vllm"]  # used when present in tool_briefs/


# --- prompts -------------------------------------------------------------------------------------


def load_panel_prompts(slug: str) -> list[tuple[str, list[dict]]]:
    """(persona, messages) for every persona on one brief; a stand-in if personas/ is not there yet."""
    brief = _brief(slug)
    try:
        from panel.personas import load_personas, render_messages

        personas = load_personas(ROOT / "personas")
        return [(name, render_messages(p, brief)) for name, p in personas.items()]
    except Exception as exc:  # personas still being written: a stand-in with the same shape
        print(f"(personas unavailable: {exc}; using stand-in prompts)", file=sys.stderr)
        system = "You sit on a review panel. Answer with one JSON verdict object."
        return [
            (name, [{"role": "system", "content": system}, {"role": "user", "content": f"{brief.to_yaml()}\nYou are the {name}. Judge it."}])
            for name in ("builder", "skeptic", "futurist", "business", "creative")
        ]


def _brief(slug: str) -> ToolBrief:
    path = ROOT / "tool_briefs" / f"{slug}.yaml"
    if path.exists():
        return load_brief(path)
    files = brief_files(ROOT / "tool_briefs")
    if files:
        return load_brief(files[0])
    from panel.personas import SAMPLE_BRIEF

    return SAMPLE_BRIEF


def bench_briefs() -> list[str]:
    present = [s for s in BRIEFS if (ROOT / "tool_briefs" / f"{s}.yaml").exists()]
    return present or ["sample"]


# --- speed -------------------------------------------------------------------------------------------


def run_raw(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int]:
    s = local.DEFAULT_SAMPLING
    t = time.perf_counter()
    out = model.llama.create_chat_completion(
        messages, max_tokens=max_tokens, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
        min_p=s.min_p, repeat_penalty=s.repeat_penalty, seed=1,
    )
    return time.perf_counter() - t, out["usage"]["completion_tokens"]


def run_panel(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int, int]:
    """(seconds, sampled tokens, reply tokens): only the sampled ones count for tokens/s here."""
    t = time.perf_counter()
    out = model.complete(messages, max_tokens=max_tokens, response_format=RESPONSE_FORMAT)
    elapsed = time.perf_counter() - t
    Verdict.model_validate_json(out.text)
    return elapsed, out.sampled_tokens, out.completion_tokens


def run_naive(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int, bool]:
    """What llama-cpp-python does with the schema alone (string limits dropped, or it crashes)."""
    s = local.DEFAULT_SAMPLING
    t = time.perf_counter()
    out = model.llama.create_chat_completion(
        local.ensure_system(messages), max_tokens=max_tokens, temperature=s.temperature, top_k=s.top_k,
        top_p=s.top_p, min_p=s.min_p, repeat_penalty=s.repeat_penalty, seed=1,
        response_format={"type": "json_object", "schema": local.grammar_safe_schema(verdict_schema())},
    )
    elapsed = time.perf_counter() - t
    try:
        Verdict.model_validate_json(out["choices"][0]["message"]["content"])
        valid = True
    except ValueError:
        valid = False
    return elapsed, out["usage"]["completion_tokens"], valid


def rate(samples: list[tuple]) -> float:
    return statistics.median(n / t for t, n, *_ in samples)


def speed(reps: int, max_tokens: int, panel_reps: int) -> dict:
    t0 = time.perf_counter()
    panel_model = local.get_model(local.DEFAULT_NAME)  # as production loads it: adaptive threads
    load_s = time.perf_counter() - t0
    # The side-by-side paths share one model with the thread count pinned, so all run alike.
    threads = panel_model.threads.full
    os.environ[local.THREADS_ENV] = str(threads)
    try:
        model = local.LocalModel(local.resolve_gguf(local.DEFAULT_NAME))
    finally:
        del os.environ[local.THREADS_ENV]
    slug = bench_briefs()[0]
    persona, messages = load_panel_prompts(slug)[0]
    prompt_tokens = len(model.prompt_tokens(local.ensure_system(messages)))
    paths = {"raw": run_raw, "panel": run_panel, "naive": run_naive}
    results = {"cold": {k: [] for k in paths}, "warm": {k: [] for k in paths}}
    naive_valid = []
    for rep in range(reps):
        order = list(paths)[rep % 3 :] + list(paths)[: rep % 3]  # rotate who goes first
        for name in order:
            if name == "naive" and rep % 2:  # the naive path is slow; half the repetitions suffice
                continue
            for mode in ("cold", "warm"):
                if mode == "cold":
                    model.llama.reset()  # nothing cached: the whole prompt is evaluated
                else:
                    paths[name](model, messages, 8)  # the prompt is now in the KV cache
                sample = paths[name](model, messages, max_tokens)
                results[mode][name].append(sample)
                if name == "naive":
                    naive_valid.append(sample[2])
        print(f"  speed rep {rep + 1}/{reps} done", file=sys.stderr)

    reply_rates = [n_reply / t for t, _, n_reply in results["warm"]["panel"]]
    del model
    panels = []
    for rep in range(panel_reps):
        for slug_i in bench_briefs():
            panels.append(five_persona_panel(panel_model, slug_i))
        print(f"  panel rep {rep + 1}/{panel_reps} done", file=sys.stderr)
    return {
        "load_s": load_s,
        "threads": threads,
        "governor": dict(panel_model.threads.estimate),
        "reply_rate": statistics.median(reply_rates),
        "persona": persona,
        "brief": slug,
        "prompt_tokens": prompt_tokens,
        "max_tokens": max_tokens,
        "reps": reps,
        "rates": {m: {k: rate(v) for k, v in r.items() if v} for m, r in results.items()},
        "tokens": {m: {k: statistics.median(n for _, n, *_ in v) for k, v in r.items() if v} for m, r in results.items()},
        "naive_valid": f"{sum(naive_valid)}/{len(naive_valid)}",
        "panels": panels,
    }


def five_persona_panel(model: local.LocalModel, slug: str) -> dict:
    """All personas on one brief, fanned out at once as the graph does, from an empty KV cache."""
    prompts = load_panel_prompts(slug)
    model.llama.reset()

    async def run():
        return await asyncio.gather(
            *(local.acomplete(local.DEFAULT_NAME, messages, response_format=RESPONSE_FORMAT) for _, messages in prompts)
        )

    t = time.perf_counter()
    outs = asyncio.run(run())
    wall = time.perf_counter() - t
    verdicts = [Verdict.model_validate_json(o.text) for o in outs]
    return {
        "brief": slug,
        "personas": len(prompts),
        "wall_s": wall,
        "min_words": min(len(v.rationale.split()) for v in verdicts),
        "generated": sum(o.sampled_tokens for o in outs),
        "ships": sum(v.verdict == "ship" for v in verdicts),
    }


def speed_report(r: dict) -> str:
    c, w = r["rates"]["cold"], r["rates"]["warm"]
    walls = [p["wall_s"] for p in r["panels"]]
    lines = [
        f"Prompt: persona `{r['persona']}` on brief `{r['brief']}`, {r['prompt_tokens']} prompt tokens, "
        f"max_tokens {r['max_tokens']} for every path; {r['reps']} interleaved repetitions, medians. "
        f"Model load (vocabulary tables and thread calibration included): {r['load_s']:.2f} s. "
        f"Side-by-side paths pinned to {r['threads']} threads; the panel runs use the adaptive default "
        f"(last decode-step medians by thread count: "
        + ", ".join(f"{n}: {1000 * v:.1f} ms" for n, v in sorted(r["governor"].items())) + ").",
        "",
        "tokens/s = sampled tokens / wall time of the call: for the panel path only tokens the model chose "
        "(each a forward pass), not the JSON keys and punctuation it is handed "
        f"(counting those, its warm rate is {r['reply_rate']:.1f} reply tokens/s). *Warm*: the prompt is "
        "already in the KV cache (as for personas 2-5 on a brief); *cold*: the cache was reset, so the "
        "call includes evaluating the whole prompt.",
        "",
        "| path | warm tok/s | × raw | cold tok/s | × raw | generated tokens |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("raw", "raw llama.cpp, no grammar"), ("panel", "panel local path (verdict JSON)"),
                        ("naive", f"naive json_object + schema grammar (valid {r['naive_valid']})")):
        lines.append(
            f"| {label} | {w[name]:.1f} | {w[name] / w['raw']:.2f} | {c[name]:.1f} | {c[name] / c['raw']:.2f} "
            f"| {r['tokens']['warm'][name]:.0f} |"
        )
    lines += [
        "",
        "Five-persona panel (all five calls fanned out at once through `acomplete`, empty KV cache at start):",
        "",
        "| brief | wall s | min rationale words | sampled tokens | ships |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in r["panels"]:
        lines.append(f"| {p['brief']} | {p['wall_s']:.2f} | {p['min_words']} | {p['generated']} | {p['ships']}/{p['personas']} |")
    lines += [
        "",
        f"Panel wall: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s; "
        f"min rationale words over all runs: {min(p['min_words'] for p in r['panels'])}.",
    ]
    return "\n".join(lines)


# --- sampling sweep --------------------------------------------------------------------------------

SETTINGS = {
    "llama-cpp-python chat defaults (T0.2, no penalty)": replace(local.DEFAULT_SAMPLING, temperature=0.2, repeat_penalty=1.0, dry_multiplier=0, top_p=0.95),
    "T0.7, no penalty": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.0, dry_multiplier=0),
    "T0.7, repeat 1.1": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.1, dry_multiplier=0),
    "T0.7, repeat 1.3": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.3, dry_multiplier=0),
    "T0.7, frequency 0.5": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.0, frequency_penalty=0.5, dry_multiplier=0),
    "T0.7, DRY 0.8": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.0, dry_multiplier=0.8),
    "T0.7, repeat 1.1 + DRY 0.8": replace(local.DEFAULT_SAMPLING, repeat_penalty=1.1, dry_multiplier=0.8),
    "T0.5, repeat 1.1 + DRY 0.8": replace(local.DEFAULT_SAMPLING, temperature=0.5, repeat_penalty=1.1, dry_multiplier=0.8),
    "T1.0, repeat 1.1 + DRY 0.8": replace(local.DEFAULT_SAMPLING, temperature=1.0, repeat_penalty=1.1, dry_multiplier=0.8),
}

WORD = re.compile(r"[\w'-]+")


def ngrams(words: list[str], n: int) -> list[tuple]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def loop_metrics(text: str, prompt: str) -> dict:
    words = [w.lower() for w in WORD.findall(text)]
    tri = ngrams(words, 3)
    four = ngrams(words, 4)
    prompt_four = set(ngrams([w.lower() for w in WORD.findall(prompt)], 4))
    seen, repeats = set(), 0
    for g in four:
        repeats += g in seen
        seen.add(g)
    return {
        "distinct3": len(set(tri)) / len(tri) if tri else 1.0,
        "repeat4": repeats / len(four) if four else 0.0,
        "copied4": sum(g in prompt_four for g in four) / len(four) if four else 0.0,
        "words": len(words),
    }


def sweep(rationale_tokens: int) -> dict:
    """Each setting writes every persona's rationale on each brief to a fixed token budget (no early
    stop at a sentence end, so loops have room to show)."""
    model = local.get_model(local.DEFAULT_NAME)
    prompts = [(slug, name, msgs) for slug in bench_briefs() for name, msgs in load_panel_prompts(slug)]
    rows = {}
    for label, sampling in SETTINGS.items():
        metrics, samples = [], []
        t = time.perf_counter()
        for slug, name, msgs in prompts:
            msgs = local.ensure_system(msgs)
            writer = local.VerdictWriter(model, msgs, sampling, local.DEFAULT_BUDGET)
            writer.say('{"rationale": "')
            text = writer.text(local.DEFAULT_BUDGET.rationale_min_words, rationale_tokens)
            metrics.append(loop_metrics(text, msgs[0]["content"] + msgs[1]["content"]))
            samples.append((slug, name, text))
        rows[label] = {
            "sampling": asdict(sampling),
            "seconds": time.perf_counter() - t,
            **{k: statistics.mean(m[k] for m in metrics) for k in metrics[0]},
            "worst_distinct3": min(m["distinct3"] for m in metrics),
            "example": samples[0],
        }
        print(f"  {label}: distinct3 {rows[label]['distinct3']:.3f}", file=sys.stderr)
    return {"rows": rows, "n": len(prompts), "rationale_tokens": rationale_tokens}


def sweep_report(r: dict) -> str:
    lines = [
        f"{r['n']} rationales per setting (every persona × {', '.join(bench_briefs())}), each written to "
        f"{r['rationale_tokens']} tokens. distinct-3 = unique word trigrams / trigrams (1 = no repetition), "
        "mean and worst; repeat-4 = share of word 4-grams seen earlier in the same rationale; copied-4 = "
        "share of 4-grams lifted from the prompt (the brief or the persona text).",
        "",
        "| setting | distinct-3 | worst | repeat-4 | copied-4 | words |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, row in r["rows"].items():
        lines.append(
            f"| {label} | {row['distinct3']:.3f} | {row['worst_distinct3']:.3f} | {row['repeat4']:.3f} "
            f"| {row['copied4']:.3f} | {row['words']:.0f} |"
        )
    lines.append("")
    lines.append("First sample of each setting:")
    lines.append("")
    for label, row in r["rows"].items():
        slug, name, text = row["example"]
        lines.append(f"- **{label}** ({name} on {slug}): {text}")
    return "\n".join(lines)


# --- the results file ----------------------------------------------------------------------------------


def write_section(title: str, body: str) -> None:
    """Replace (or add) one `## title` section of docs/benchmarks-local.md, keeping the other."""
    header = "# Benchmarks: the embedded model (panel.local)\n"
    text = DOC.read_text() if DOC.exists() else header
    stamp = (
        f"_Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with `python bench/bench_local.py"
        f"{' --sweep' if 'Sampling' in title else ''}`; {os.cpu_count()} cores, no GPU; "
        f"load average {os.getloadavg()[0]:.2f} at the end._\n"
    )
    section = f"## {title}\n\n{stamp}\n{body}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="compare sampling settings against looping")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of the side-by-side speed runs")
    ap.add_argument("--panel-reps", type=int, default=2, help="repetitions of the five-persona panel per brief")
    ap.add_argument("--max-tokens", type=int, default=256, help="token budget given to every path")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = ap.parse_args()
    if args.sweep:
        body = sweep_report(sweep(local.DEFAULT_BUDGET.rationale_max_tokens))
        title = "Sampling settings against looping"
    else:
        body = speed_report(speed(args.reps, args.max_tokens, args.panel_reps))
        title = "Speed: local path vs raw llama.cpp"
    print(body)
    if not args.no_write:
        write_section(title, body)
        print(f"\nwritten to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
