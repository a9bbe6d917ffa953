"""Never paying twice: re-running 200 briefs through the real CLI, as subprocesses.

1. `panel review <200 briefs>` once (1,000 calls) against a fast fake server (L = 0.05 s);
2. the same command again, nothing changed: 0 model calls, wall time (median of several runs),
   and which heavy modules the process imported (litellm must not be one of them);
3. one persona file edited, then `panel review` again: exactly 200 calls (that persona only);
4. another persona edited, then `panel rerun --changed` (when the command exists): exactly 200;
5. `panel rerun --changed` with nothing changed: 0 calls.
Model calls are counted by the server.

    python bench/bench_rerun.py [--briefs 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

HEAVY = ("litellm", "langgraph", "langchain_core", "openai", "tenacity", "llama_cpp")

# Runs the CLI in this interpreter and reports, on stderr, which heavy modules it imported.
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(m for m in heavy if m in sys.modules)) + "\\n"))
from panel.cli import main
sys.argv = ["panel"] + {args!r}
main()
"""


def edit_persona(home: Path, name: str, question: str) -> None:
    """A real prompt edit: one more question, so the persona's version hash changes."""
    path = home / "personas" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "questions:\n"
    assert marker in text, path
    path.write_text(text.replace(marker, f"{marker}  - {question}\n", 1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    n = args.briefs
    steps = []
    with common.workspace(n) as home, common.FakeServer(args.latency) as server:
        env = common.panel_env(home)
        model = ["--model", common.FAKE_MODEL, "--api-base", server.url, "--concurrency", "50", "--json"]
        review = [common.panel_exe(), "review", str(home / "briefs"), *model]

        def run(cmd: list[str]) -> dict:
            before = server.requests()
            out = common.run_child(cmd, env=env, cwd=home)
            out["calls"] = server.requests() - before
            return out

        first = run(review)
        steps.append(("first `panel review` of the batch", first, n * 5))
        print(f"  first review: {first['calls']} calls, {first['wall']:.1f} s", flush=True)

        cached = [run(review) for _ in range(args.repeats)]
        cached_wall = common.median([c["wall"] for c in cached])
        cached_calls = max(c["calls"] for c in cached)
        reused = json.loads(cached[-1]["stdout"])["calls_reused"]
        probe = common.run_child([sys.executable, "-c", PROBE.format(heavy=HEAVY, args=review[1:])], env=env, cwd=home)
        line = [x for x in probe["stderr"].splitlines() if x.startswith("MODULES ")]
        imported = json.loads(line[-1].split(" ", 1)[1]) if line else ["(probe failed)"]
        print(f"  nothing changed: {cached_calls} calls, {cached_wall:.2f} s, imported {imported}", flush=True)

        edit_persona(home, "skeptic", "What would a sceptical buyer ask first?")
        edited = run(review)
        steps.append(("`panel review` after editing one persona (skeptic)", edited, n))
        print(f"  after editing skeptic: {edited['calls']} calls, {edited['wall']:.1f} s", flush=True)

        has_rerun = "rerun" in common.run_child([common.panel_exe(), "--help"], env=env, cwd=home)["stdout"]
        if has_rerun:
            edit_persona(home, "builder", "How long until a first useful result?")
            rerun = [common.panel_exe(), "rerun", "--changed", *model]
            changed = run(rerun)
            steps.append(("`panel rerun --changed` after editing another persona (builder)", changed, n))
            print(f"  rerun --changed: {changed['calls']} calls, {changed['wall']:.1f} s", flush=True)
            again = run(rerun)
            steps.append(("`panel rerun --changed` again, nothing changed", again, 0))
            print(f"  rerun --changed again: {again['calls']} calls, {again['wall']:.2f} s", flush=True)

    cached_ok = cached_calls == 0 and cached_wall <= 2.0
    rows = [[label, out["calls"], expected, common.fmt_s(out["wall"]),
             common.verdict_status(out["calls"] == expected)] for label, out, expected in steps[:1]]
    rows.append([f"`panel review` again, nothing changed (median of {args.repeats})", cached_calls, "0 calls, ≤ 2 s",
                 common.fmt_s(cached_wall), common.verdict_status(cached_ok)])
    rows += [[label, out["calls"], expected, common.fmt_s(out["wall"]),
              common.verdict_status(out["calls"] == expected)] for label, out, expected in steps[1:]]
    text = (
        f"{n} briefs x 5 personas, real CLI subprocesses against the fake server (L = {args.latency:g} s, "
        f"--concurrency 50); model calls counted by the server.\n\n"
        + common.table(["step", "model calls", "target", "wall", "status"], rows)
        + f"\n\n- The cached re-run reused {reused} stored verdicts; heavy modules it imported: "
        f"{', '.join(imported) if imported else 'none'} (checked: {', '.join(HEAVY)})."
        + ("" if has_rerun else "\n- `panel rerun` does not exist in this build; only `panel review` was measured.")
    )
    summary = {
        "cached_wall": cached_wall, "cached_calls": cached_calls, "cached_imports": imported, "cached_ok": cached_ok,
        "steps": [{"step": label, "calls": out["calls"], "expected": expected, "wall": out["wall"]}
                  for label, out, expected in steps],
    }
    summary["edit_ok"] = all(s["calls"] == s["expected"] for s in summary["steps"])
    common.report("rerun", "Re-runs: only what changed is paid for", text, summary)


if __name__ == "__main__":
    main()
