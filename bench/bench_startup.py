"""Startup: `panel --help` and `panel personas list` as fresh processes, beside `import litellm`.

Wall time of the whole process, median of several runs each, interleaved. `import litellm` runs
with LITELLM_LOCAL_MODEL_COST_MAP=True, as panel imports it (otherwise, offline, litellm also
spends seconds retrying a download of its cost map).

    python bench/bench_startup.py [--repeats 9] [--litellm-repeats 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TARGET_S = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--litellm-repeats", type=int, default=3)
    args = parser.parse_args()
    env = common.panel_env(common.REPO, LITELLM_LOCAL_MODEL_COST_MAP="True")
    commands = {
        "`python -c pass` (the interpreter alone)": [sys.executable, "-c", "pass"],
        "`panel --help`": [common.panel_exe(), "--help"],
        "`panel personas list`": [common.panel_exe(), "personas", "list"],
        "`panel review --help`": [common.panel_exe(), "review", "--help"],
    }
    litellm_cmd = [sys.executable, "-c", "import litellm"]
    lit = "`python -c \"import litellm\"`"
    runs: dict[str, list[dict]] = {name: [] for name in [*commands, lit]}
    for i in range(args.repeats):
        for name, cmd in commands.items():
            runs[name].append(common.run_child(cmd, env=env, cwd=common.REPO, check=True))
        if i < args.litellm_repeats:
            runs[lit].append(common.run_child(litellm_cmd, env=env))
    litellm_s = common.median([r["wall"] for r in runs[lit]])
    rows, results = [], {}
    for name, values in runs.items():
        walls = [r["wall"] for r in values]
        med, cpu = common.median(walls), common.median([r["cpu"] for r in values])
        results[name] = {"median_s": med, "runs": walls, "cpu_median_s": cpu}
        target = name in ("`panel --help`", "`panel personas list`")
        rows.append([name, common.fmt_s(med), common.fmt_s(min(walls)), common.fmt_s(cpu),
                     f"{med / litellm_s:.2f}", f"≤ {TARGET_S} s" if target else "—",
                     common.verdict_status(med <= TARGET_S) if target else "—"])
    ok = all(results[k]["median_s"] <= TARGET_S for k in ("`panel --help`", "`panel personas list`"))
    text = (
        f"Whole-process wall time, medians of {args.repeats} interleaved runs ({args.litellm_repeats} for "
        f"`import litellm`).\n\n"
        + common.table(["command", "wall (median)", "wall (best)", "CPU (median)", "÷ import litellm", "target",
                        "status"], rows)
    )
    common.report("startup", "Startup", text, {"results": results, "ok": ok})


if __name__ == "__main__":
    main()
