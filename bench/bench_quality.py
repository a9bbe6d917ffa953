"""Is the panel any good on the embedded default, and how biased are its head-to-head picks?

1. `panel eval standard` (evals/standard: 24 clear cases, 4 borderline) with the default model, in a
   fresh workspace: accuracy, balanced accuracy, ship rate on the duds, AUC and Brier per persona and
   for the panel, and the wall time of a five-persona panel.
2. `panel compare A B --blind` for every pair in evals/standard/pairs.csv (a clear ship against a
   clear dud of the same category): how often the panel picks the right tool, position consistency
   and brand effect per persona.

Writes the section "Quality on the embedded default" of docs/benchmarks.md.

    python bench/bench_quality.py [--model local/smollm2] [--pairs N] [--skip-eval] [--skip-pairs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
TITLE = "Quality on the embedded default"


def panel(home: Path, *args: str) -> tuple[dict, float]:
    env = dict(os.environ, PANEL_HOME=str(home))
    env.pop("PANEL_DB", None)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "panel.cli", *args, "--json"], capture_output=True, text=True,
                          env=env, cwd=home)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"panel {' '.join(args)}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), time.perf_counter() - started


def score(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def share(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def eval_section(home: Path, model: str) -> str:
    data, wall = panel(home, "eval", "standard", "--model", model)
    rows = ["| | answered | accuracy | balanced accuracy | ship rate | ships duds | AUC | Brier |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for who, m in data["metrics"].items():
        rows.append(f"| {'**panel**' if who == 'panel' else who} | {m['answered']}/{m['cases']} | "
                    f"{score(m['accuracy'])} "
                    f"| {score(m['balanced_accuracy'])} | {share(m['ship_rate'])} | {share(m['ship_rate_on_skips'])} "
                    f"| {score(m['auc'])} | {score(m['brier'])} |")
    border = data["borderline"]["panel"]
    panels = len({i["slug"] for i in data["items"]}) + border["cases"]
    m = data["metrics"]["panel"]
    worst = max(v["ship_rate_on_skips"] or 0 for k, v in data["metrics"].items() if k != "panel")
    targets = (f"Targets: panel balanced accuracy ≥ 0.8 — **{score(m['balanced_accuracy'])}** "
               f"({'met' if (m['balanced_accuracy'] or 0) >= 0.8 else 'not met'}); no persona ships more than 85% of "
               f"the duds — worst **{share(worst)}** ({'met' if worst <= 0.85 else 'not met'}).")
    return (f"`panel eval standard --model {model}`, fresh store (calibration included), {panels} five-persona "
            f"panels in {wall:.0f} s: {wall / panels:.1f} s per panel on average, the process's start-up and the "
            f"model's load and calibration included.\n\n" + "\n".join(rows) + "\n\n" + targets
            + f"\n\nBorderline cases (scored apart, against their lean): panel accuracy {score(border['accuracy'])}."
            + "\n\n" + raw_section(home, data))


def raw_section(home: Path, data: dict) -> str:
    """The same verdicts read without calibration: each seat's raw P(good) is its calibrated one
    shifted back by the persona's stored content-free offset (confidences are kept to two decimals,
    so this is a close reconstruction, not a second run). Within a persona AUC is unchanged by a
    constant shift; what calibration changes is where the ship/skip line falls."""
    import math
    import sqlite3

    from panel.analysis.metrics import Scored, metrics

    db = sqlite3.connect(home / "outputs" / "panel.db")
    offsets = dict(db.execute("SELECT persona, offset FROM calibrations").fetchall())
    raw: dict[str, list[Scored]] = {}
    for item in data["items"]:
        if item["persona"] == "panel" or item["p_ship"] is None:
            continue
        p = min(max(item["p_ship"], 1e-4), 1 - 1e-4)
        p_raw = 1 / (1 + math.exp(-(math.log(p / (1 - p)) + offsets.get(item["persona"], 0.0))))
        raw.setdefault(item["persona"], []).append(
            Scored(item["slug"], item["expected"], "ship" if p_raw >= 0.5 else "skip", p_raw))
    by_slug: dict[str, list[Scored]] = {}
    for items in raw.values():
        for i in items:
            by_slug.setdefault(i.slug, []).append(i)
    raw["panel"] = [Scored(slug, seats[0].expected,
                           "ship" if sum(s.decision == "ship" for s in seats) * 2 >= len(seats) else "skip",
                           sum(s.p_ship for s in seats) / len(seats)) for slug, seats in by_slug.items()]
    rows = ["| | offset (log-odds) | balanced accuracy raw → calibrated | ship rate raw → calibrated "
            "| ships duds raw → calibrated | AUC raw → calibrated |", "|---|---:|---:|---:|---:|---:|"]
    for who, items in sorted(raw.items(), key=lambda kv: (kv[0] == "panel", kv[0])):
        r, c = metrics(items), data["metrics"][who]
        off = "—" if who == "panel" else f"{offsets.get(who, 0.0):+.2f}"
        rows.append(f"| {'**panel**' if who == 'panel' else who} | {off} "
                    f"| {score(r.balanced_accuracy)} → {score(c['balanced_accuracy'])} "
                    f"| {share(r.ship_rate)} → {share(c['ship_rate'])} "
                    f"| {share(r.ship_rate_on_skips)} → {share(c['ship_rate_on_skips'])} "
                    f"| {score(r.auc)} → {score(c['auc'])} |")
    return ("Raw and calibrated side by side (raw: the same log-odds of \"This is a good tool.\" over \"This is "
            "a bad tool.\" before the persona's content-free offset is taken off):\n\n" + "\n".join(rows))


def pairs_section(home: Path, model: str, limit: int | None) -> str:
    lines = (home / "evals" / "standard" / "pairs.csv").read_text().splitlines()[1:]
    pairs = [line.split(",")[:3] for line in lines if line.strip()][:limit]
    right = ties = 0
    per: dict[str, list[int]] = {}  # persona -> [pairs, consistent, by position, brand-changed, blind-compared]
    started = time.perf_counter()
    for a, b, expected in pairs:
        data, _ = panel(home, "compare", a, b, "--model", model, "--blind")
        h = data["head_to_head"][0]
        right += h["pick"] == expected
        ties += h["pick"] == "tie"
        for seat in h["seats"]:
            t = per.setdefault(seat["persona"], [0, 0, 0, 0, 0])
            if seat["call"] is None:
                continue
            t[0] += 1
            t[1] += seat["consistent"]
            t[2] += seat["followed_position"]
            if seat["blind_call"] is not None:
                t[4] += 1
                t[3] += seat["blind_call"] != seat["call"]
    wall = time.perf_counter() - started
    rows = ["| persona | pairs | position consistency | picked by position | brand effect |",
            "|---|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0, 0]
    for persona, t in sorted(per.items()):
        totals = [x + y for x, y in zip(totals, t)]
        rows.append(f"| {persona} | {t[0]} | {share(t[1] / t[0] if t[0] else None)} | {t[2]} "
                    f"| {share(t[3] / t[4] if t[4] else None)} |")
    rows.append(f"| **all** | {totals[0]} | {share(totals[1] / totals[0] if totals[0] else None)} | {totals[2]} "
                f"| {share(totals[3] / totals[4] if totals[4] else None)} |")
    return (f"`panel compare A B --blind --model {model}` on the {len(pairs)} pairs of evals/standard/pairs.csv (a "
            f"clear "
            f"ship against a clear dud), {wall:.0f} s. The panel picked the right tool in {right} of {len(pairs)}, "
            f"called {ties} a tie, and picked the dud in {len(pairs) - right - ties}.\n\n" + "\n".join(rows)
            + "\n\nPosition consistency: the share of a persona's pairs where it picked the same tool (or a tie) "
            "in both orders. Brand effect: the share where its call changed when names, vendors and links were "
            "masked.")


def write(body: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    when = dt.datetime.now().strftime('%Y-%m-%d %H:%M')
    stamp = f"_Measured {when} with `python bench/bench_quality.py`; {os.cpu_count()} cores, no GPU._\n"
    section = f"## {TITLE}\n\n{stamp}\n{body}\n"
    pattern = re.compile(rf"^## {re.escape(TITLE)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-pairs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="panel-quality-") as folder:
        home = Path(folder)
        shutil.copytree(REPO / "personas", home / "personas")
        shutil.copytree(REPO / "evals", home / "evals")
        (home / "tool_briefs").mkdir()
        parts = []
        if not args.skip_eval:
            parts.append("### Labelled set\n\n" + eval_section(home, args.model))
            print(parts[-1], flush=True)
        if not args.skip_pairs:
            if args.skip_eval:  # the pairs' tools need panels: review the set first
                panel(home, "eval", "standard", "--model", args.model)
            parts.append("### Head-to-head on the labelled pairs\n\n" + pairs_section(home, args.model, args.pairs))
            print(parts[-1], flush=True)
    write("\n\n".join(parts))


if __name__ == "__main__":
    main()
