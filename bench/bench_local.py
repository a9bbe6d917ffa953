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
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from panel.models import local  # noqa: E402
from panel.core.brief import ToolBrief  # noqa: E402
from panel.inputs.briefs import brief_files, load_brief  # noqa: E402
from panel.core.verdict import Verdict, verdict_schema  # noqa: E402

DOC = ROOT / "docs" / "benchmarks-local.md"
RESPONSE_FORMAT = {"type": "json_schema",
                   "json_schema": {"name": "verdict", "schema": verdict_schema(), "strict": True}}
BRIEFS = ["aider", "ollama", "vllm"]  # used when present in tool_briefs/


# --- prompts -------------------------------------------------------------------------------------


def load_panel_prompts(slug: str) -> list[tuple[str, list[dict]]]:
    """(persona, messages) for every persona on one brief; a stand-in if personas/ is not there yet."""
    brief = _brief(slug)
    try:
        from panel.inputs.personas import load_personas, render_messages

        personas = load_personas(ROOT / "personas")
        return [(name, render_messages(p, brief)) for name, p in personas.items()]
    except Exception as exc:  # personas still being written: a stand-in with the same shape
        print(f"(personas unavailable: {exc}; using stand-in prompts)", file=sys.stderr)
        system = "You sit on a review panel. Answer with one JSON verdict object."
        return [
            (name, [{"role": "system", "content": system}, {"role": "user", "content": f"{brief.to_yaml()}\nYou are "
                                                                                       f"the {name}. Judge it."}])
            for name in ("builder", "skeptic", "futurist", "business", "creative")
        ]


def _brief(slug: str) -> ToolBrief:
    path = ROOT / "tool_briefs" / f"{slug}.yaml"
    if path.exists():
        return load_brief(path)
    files = brief_files(ROOT / "tool_briefs")
    if files:
        return load_brief(files[0])
    from panel.inputs.personas import SAMPLE_BRIEF

    return SAMPLE_BRIEF


def bench_briefs() -> list[str]:
    present = [s for s in BRIEFS if (ROOT / "tool_briefs" / f"{s}.yaml").exists()]
    return present or ["sample"]


# --- speed -------------------------------------------------------------------------------------------


class LoadMonitor:
    """Other processes' CPU load (in cores) while a section runs: the machine is shared, and
    llama.cpp's spinning threads slow down a lot when another process takes a core."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last = local._cpu_sample()
        while last and not self._stop.wait(0.5):
            now = local._cpu_sample()
            self.samples.append(max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0]))
            last = now

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.mean(self.samples) if self.samples else float("nan")


def wait_for_quiet(limit_s: float) -> float:
    """Wait (up to limit_s) until other processes use under 0.15 cores over 3 s; return that load."""
    deadline = time.monotonic() + limit_s
    while True:
        first = local._cpu_sample()
        if first is None:
            return float("nan")
        time.sleep(3)
        now = local._cpu_sample()
        others = max(0.0, (now[1] - first[1]) - (now[2] - first[2])) / (now[0] - first[0])
        if others < 0.15 or time.monotonic() > deadline:
            return others
        print(f"  waiting for a quieter machine (other processes: {others:.2f} cores)", file=sys.stderr)


def on_engine_thread(model: local.LocalModel, fn):
    """Run fn on the model's engine thread, as the panel path runs. llama.cpp's OpenMP keeps a
    team of worker threads per calling thread; computing from a second thread would leave two
    teams alive and slow *every* path down by about a quarter (libgomp stops spinning)."""
    return model.engine.submit_call(fn).result()


def run_raw(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int]:
    """Plain create_chat_completion: no grammar, same prompt, same sampling, same max_tokens."""
    s = local.DEFAULT_SAMPLING
    t = time.perf_counter()
    out = on_engine_thread(model, lambda: model.llama.create_chat_completion(
        messages, max_tokens=max_tokens, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
        min_p=s.min_p, repeat_penalty=s.repeat_penalty, seed=1,
    ))
    return time.perf_counter() - t, out["usage"]["completion_tokens"]


def run_panel(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int, int]:
    """(seconds, reply tokens as usage reports them, tokens the model sampled)."""
    t = time.perf_counter()
    out = model.complete(messages, max_tokens=max_tokens, response_format=RESPONSE_FORMAT)
    elapsed = time.perf_counter() - t
    Verdict.model_validate_json(out.text)
    return elapsed, out.completion_tokens, out.sampled_tokens


def run_naive(model: local.LocalModel, messages, max_tokens: int) -> tuple[float, int, bool]:
    """What llama-cpp-python does with the schema alone (string limits dropped, or it crashes)."""
    s = local.DEFAULT_SAMPLING
    t = time.perf_counter()
    out = on_engine_thread(model, lambda: model.llama.create_chat_completion(
        local.ensure_system(messages), max_tokens=max_tokens, temperature=s.temperature, top_k=s.top_k,
        top_p=s.top_p, min_p=s.min_p, repeat_penalty=s.repeat_penalty, seed=1,
        response_format={"type": "json_object", "schema": local.grammar_safe_schema(verdict_schema())},
    ))
    elapsed = time.perf_counter() - t
    try:
        Verdict.model_validate_json(out["choices"][0]["message"]["content"])
        valid = True
    except ValueError:
        valid = False
    return elapsed, out["usage"]["completion_tokens"], valid


def median_rate(samples: list[tuple], field: int = 1) -> float:
    return statistics.median(x[field] / x[0] for x in samples)


def speed(reps: int, max_tokens: int, panel_reps: int, quiet_s: float) -> dict:
    quiet = wait_for_quiet(quiet_s)
    t0 = time.perf_counter()
    model = local.get_model(local.DEFAULT_NAME)  # as production loads it
    load_s = time.perf_counter() - t0
    # One model and one engine thread for everything (a second would mean a second OpenMP team).
    # The side-by-side paths run with the thread count pinned, so all run alike.
    governor = model.threads
    threads, adaptive = governor.full, governor.adaptive
    governor.adaptive = False
    if governor.ctxs:
        on_engine_thread(model, lambda: governor._set(threads))
    slug = bench_briefs()[0]
    persona, messages = load_panel_prompts(slug)[0]
    prompt_tokens = len(model.prompt_tokens(local.ensure_system(messages)))
    paths = {"raw": run_raw, "panel": run_panel, "naive": run_naive}
    results = {"cold": {k: [] for k in paths}, "warm": {k: [] for k in paths}}
    naive_valid = []
    with LoadMonitor() as side_load:
        # Warm: every path's prompt is cached first; then the paths take turns, call by call, so a
        # machine that speeds up or slows down (it does, by up to 1.7x within seconds) hits all alike.
        for name, fn in paths.items():
            fn(model, messages, 8)
        for mode in ("warm", "cold"):
            for rep in range(reps):
                order = list(paths)[rep % 3 :] + list(paths)[: rep % 3]  # rotate who goes first
                for name in order:
                    if name == "naive" and rep % 2:  # the naive path is slow; half the repetitions suffice
                        continue
                    if mode == "cold":
                        model.forget()  # nothing cached: the whole prompt is evaluated
                    sample = paths[name](model, messages, max_tokens)
                    results[mode][name].append(sample)
                    if name == "naive":
                        naive_valid.append(sample[2])
            print(f"  {mode} runs done", file=sys.stderr)

    governor.adaptive = adaptive  # the panels run with the default, adaptive threads
    panels = []
    with LoadMonitor() as panel_load:
        for rep in range(panel_reps):
            for slug_i in bench_briefs():
                panels.append(five_persona_panel(model, slug_i))
                panels.append(five_persona_panel(model, slug_i, together=False))
            print(f"  panel rep {rep + 1}/{panel_reps} done", file=sys.stderr)
    return {
        "load_s": load_s,
        "threads": threads,
        "quiet": quiet,
        "side_load": side_load.mean,
        "panel_load": panel_load.mean,
        "persona": persona,
        "brief": slug,
        "prompt_tokens": prompt_tokens,
        "max_tokens": max_tokens,
        "reps": reps,
        "rates": {m: {k: median_rate(v) for k, v in r.items() if v} for m, r in results.items()},
        "sampled_rates": {m: median_rate(r["panel"], 2) for m, r in results.items()},
        "tokens": {m: {k: statistics.median(x[1] for x in v) for k, v in r.items() if v} for m, r in results.items()},
        "naive_valid": f"{sum(naive_valid)}/{len(naive_valid)}",
        "panels": panels,
    }


def five_persona_panel(model: local.LocalModel, slug: str, together: bool = True) -> dict:
    """Every persona on one brief from an empty cache: fanned out at once as the graph does
    (decoded together), or, for reference, one call after another."""
    prompts = load_panel_prompts(slug)
    model.forget()

    async def fan_out():
        return await asyncio.gather(
            *(local.acomplete(local.DEFAULT_NAME, m, response_format=RESPONSE_FORMAT) for _, m in prompts)
        )

    t = time.perf_counter()
    if together:
        outs = asyncio.run(fan_out())
    else:
        outs = [model.complete(m, response_format=RESPONSE_FORMAT) for _, m in prompts]
    wall = time.perf_counter() - t
    verdicts = [Verdict.model_validate_json(o.text) for o in outs]
    return {
        "brief": slug,
        "together": together,
        "personas": len(prompts),
        "wall_s": wall,
        "min_words": min(len(v.rationale.split()) for v in verdicts),
        "sampled": sum(o.sampled_tokens for o in outs),
        "reply": sum(o.completion_tokens for o in outs),
        "ships": sum(v.verdict == "ship" for v in verdicts),
    }


def speed_report(r: dict) -> str:
    c, w = r["rates"]["cold"], r["rates"]["warm"]
    together = [p for p in r["panels"] if p["together"]]
    walls = [p["wall_s"] for p in together]
    lines = [
        f"Prompt: persona `{r['persona']}` on brief `{r['brief']}`, {r['prompt_tokens']} prompt tokens, "
        f"max_tokens {r['max_tokens']} for every path; {r['reps']} interleaved repetitions, medians; "
        f"all paths pinned to {r['threads']} threads. Other processes' load: {r['quiet']:.2f} cores at the "
        f"start, {r['side_load']:.2f} on average during this table. Model load: {r['load_s']:.2f} s.",
        "",
        "tokens/s = completion tokens (as usage reports them) / wall time of the call. For the panel path "
        "the reply includes JSON keys and punctuation this module types instead of sampling; counting "
        "only the tokens the model sampled, its rate is "
        f"{r['sampled_rates']['warm']:.1f} warm / {r['sampled_rates']['cold']:.1f} cold. *Warm*: the "
        "prompt is already cached (as for personas 2-5 on a brief); *cold*: nothing cached, so the call "
        "includes evaluating the whole prompt, and the rate depends on how many tokens follow it.",
        "",
        "| path | warm tok/s | × raw | cold tok/s | × raw | completion tokens |",
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
        "Five-persona panel from an empty cache, default settings (adaptive threads). *Together*: "
        "the five calls fanned out at once through `acomplete`, as the graph does; *in turn*: one "
        f"`complete` after another, for reference. Other processes' load meanwhile: {r['panel_load']:.2f} cores.",
        "",
        "| brief | calls | wall s | min rationale words | sampled tokens | reply tokens | ships |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in r["panels"]:
        lines.append(
            f"| {p['brief']} | {'together' if p['together'] else 'in turn'} | {p['wall_s']:.2f} | {p['min_words']} "
            f"| {p['sampled']} | {p['reply']} | {p['ships']}/{p['personas']} |"
        )
    min_words = min(p["min_words"] for p in together)
    lines += [
        "",
        f"Panel wall (together): median {statistics.median(walls):.2f} s, max {max(walls):.2f} s; "
        f"min rationale words over all runs: {min(p['min_words'] for p in r['panels'])}.",
        "",
        f"Targets: local path ≥ 0.9 × raw tokens/s (warm): {w['panel'] / w['raw']:.2f} "
        f"({r['sampled_rates']['warm'] / w['raw']:.2f} counting sampled tokens only); five-persona panel "
        f"≤ 12 s with every rationale ≥ 50 words: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s, "
        f"shortest rationale {min_words} words.",
    ]
    return "\n".join(lines)


# --- sampling sweep --------------------------------------------------------------------------------

_BASE = replace(local.DEFAULT_SAMPLING, temperature=0.7, top_p=0.9, repeat_penalty=1.0, frequency_penalty=0.0,
                presence_penalty=0.0, dry_multiplier=0.0)
SETTINGS = {
    "T0.2, no penalty (llama-cpp-python chat default)": replace(_BASE, temperature=0.2, top_p=0.95),
    "T0.7, no penalty": _BASE,
    "T0.7, frequency 0.5": replace(_BASE, frequency_penalty=0.5),
    "T0.7, DRY 0.8": replace(_BASE, dry_multiplier=0.8),
    "T0.7, repeat 1.1 + DRY 0.8": replace(_BASE, repeat_penalty=1.1, dry_multiplier=0.8),
    "T0.7, repeat 1.3": replace(_BASE, repeat_penalty=1.3),
    "T0.7, repeat 1.1": replace(_BASE, repeat_penalty=1.1),
    "T0.6, repeat 1.1": replace(_BASE, temperature=0.6, repeat_penalty=1.1),
    "T0.5, repeat 1.1": replace(_BASE, temperature=0.5, repeat_penalty=1.1),
    "T0.4, repeat 1.1": replace(_BASE, temperature=0.4, repeat_penalty=1.1),
    "T0.6, repeat 1.05": replace(_BASE, temperature=0.6, repeat_penalty=1.05),
    "T0.6, repeat 1.15": replace(_BASE, temperature=0.6, repeat_penalty=1.15),
}
SWEEP_BRIEFS = ["aider", "ollama", "vllm", "langgraph", "qwen3", "github-copilot"]

WORD = re.compile(r"[\w'-]+")


def ngrams(words: list[str], n: int) -> list[tuple]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def loop_metrics(text: str, prompt: str, brief: ToolBrief) -> dict:
    words = [w.lower() for w in WORD.findall(text)]
    brief_words = {w.lower() for w in WORD.findall(brief.to_yaml())}
    content = [w for w in words if len(w) > 3]
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
        "grounded": sum(w in brief_words for w in content) / len(content) if content else 0.0,
        "named": float(brief.name.lower() in text.lower()),
        "words": len(words),
    }


class RationaleOnly(local.VerdictWriter):
    """Writes only the rationale, with no early stop at a sentence end, so loops have room to show."""

    def __init__(self, *args, tokens: int):
        super().__init__(*args)
        self.rationale_tokens = tokens

    def run(self):
        self.say('{"rationale": "')
        text = yield from self.text(self.budget.rationale_min_words, self.rationale_tokens)
        return text, self.generated < self.rationale_tokens  # (text, the model ended it itself)


def sweep(rationale_tokens: int) -> dict:
    """Each setting writes every persona's rationale on each brief with the same budget and no early
    stop at a sentence end, so loops have room to show; the model may still close the string."""
    model = local.get_model(local.DEFAULT_NAME)
    slugs = [s for s in SWEEP_BRIEFS if (ROOT / "tool_briefs" / f"{s}.yaml").exists()] or bench_briefs()
    prompts = [(slug, name, msgs) for slug in slugs for name, msgs in load_panel_prompts(slug)]
    briefs = {slug: _brief(slug) for slug in slugs}
    rows = {}
    for label, sampling in SETTINGS.items():
        t = time.perf_counter()
        writers = [
            (slug, name, msgs, RationaleOnly(model, msgs, sampling, local.DEFAULT_BUDGET, tokens=rationale_tokens))
            for slug, name, msgs in ((slug, name, local.ensure_system(msgs)) for slug, name, msgs in prompts)
        ]
        futures = [model.engine.submit_writer(w) for *_, w in writers]
        metrics, samples = [], []
        for (slug, name, msgs, _), future in zip(writers, futures):
            text, closed = future.result()
            metrics.append(loop_metrics(text, msgs[0]["content"] + msgs[1]["content"], briefs[slug]))
            metrics[-1]["closed"] = float(closed)
            samples.append((slug, name, text))
        rows[label] = {
            "sampling": asdict(sampling),
            "seconds": time.perf_counter() - t,
            **{k: statistics.mean(m[k] for m in metrics) for k in metrics[0]},
            "worst_distinct3": min(m["distinct3"] for m in metrics),
            "example": samples[0],
        }
        print(f"  {label}: distinct3 {rows[label]['distinct3']:.3f}", file=sys.stderr)
    return {"rows": rows, "n": len(prompts), "briefs": slugs, "rationale_tokens": rationale_tokens}


def sweep_report(r: dict) -> str:
    lines = [
        f"{r['n']} rationales per setting (every persona × {', '.join(r['briefs'])}), each written to "
        f"up to {r['rationale_tokens']} tokens (at least {local.DEFAULT_BUDGET.rationale_min_words} words; no stop at "
        f"a "
        "sentence end). distinct-3 = unique word trigrams / trigrams (1 = no repetition), mean and worst; "
        "repeat-4 = share of word 4-grams seen earlier in the same rationale; copied-4 = share of 4-grams "
        "lifted from the prompt; grounded = share of content words (4+ letters) that occur in the brief; "
        "named = rationales that name the tool; closed = rationales the model ended itself before the budget.",
        "",
        "| setting | distinct-3 | worst | repeat-4 | copied-4 | grounded | named | closed | words |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in r["rows"].items():
        lines.append(
            f"| {label} | {row['distinct3']:.3f} | {row['worst_distinct3']:.3f} | {row['repeat4']:.3f} "
            f"| {row['copied4']:.3f} | {row['grounded']:.2f} | {row['named']:.0%} | {row['closed']:.0%} | "
            f"{row['words']:.0f} |"
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
        f"{' --sweep' if 'Sampling' in title else ''}`; {os.cpu_count()} cores, no GPU._\n"
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
    ap.add_argument("--quiet-wait", type=float, default=300, help="seconds to wait for other processes to go quiet")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = ap.parse_args()
    if args.sweep:
        body = sweep_report(sweep(local.DEFAULT_BUDGET.rationale_max_tokens))
        title = "Sampling settings against looping"
    else:
        body = speed_report(speed(args.reps, args.max_tokens, args.panel_reps, args.quiet_wait))
        title = "Speed: local path vs raw llama.cpp"
    print(body)
    if not args.no_write:
        write_section(title, body)
        print(f"\nwritten to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
