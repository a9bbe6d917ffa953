"""The first review in a new workspace on the embedded default: with the calibrations panel ships
for its default personas (panel.models.local.shipped) against measuring them, as `make demo` does.

Each run is a fresh `panel init` workspace and the whole `panel review smollm3 mistral-small-3-1`
process; the two kinds alternate (the machine is shared). The "measured" runs hide the shipped
file from the process they run in, nothing else. The offsets a measured run stores must be the
shipped ones, number for number.

    python bench/bench_first_review.py [--rounds 2]

Writes docs/benchmarks-first-review.md (bench/run_all.py copies it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

DOC = common.REPO / "docs" / "benchmarks-first-review.md"
BRIEFS = ["smollm3", "mistral-small-3-1"]
HIDE_SHIPPED = "import panel.models.local.shipped as s; s.lookup = lambda *a: None; "


def one_run(kind: str, root: Path) -> dict:
    home = root / f"{kind}-{len(list(root.iterdir()))}"
    common.run_child([common.panel_exe(), "init", str(home)])
    prelude = HIDE_SHIPPED if kind == "measured" else ""
    out = common.run_child([sys.executable, "-c", prelude + "from panel.cli import main; main()", "review", *BRIEFS],
                           env=common.panel_env(home), cwd=home)
    with sqlite3.connect(home / "outputs" / "panel.db") as conn:
        verdicts = conn.execute("SELECT slug, persona, verdict FROM verdicts ORDER BY slug, persona").fetchall()
        offsets = dict(conn.execute("SELECT key, offset FROM calibrations").fetchall())
    return {"wall": out["wall"], "cpu": out["cpu"], "verdicts": verdicts, "offsets": offsets}


def shipped_offsets() -> dict[str, float]:
    from panel.models.local import shipped

    return {key: entry["offset"] for key, entry in json.loads(shipped.SHIPPED.read_text())["calibrations"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"shipped": [], "measured": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for kind in ("measured", "shipped"):
                runs[kind].append(one_run(kind, Path(tmp)))
                print(f"{kind}: {runs[kind][-1]['wall']:.1f} s", flush=True)
    wall = {kind: common.median([r["wall"] for r in found]) for kind, found in runs.items()}
    cpu = {kind: common.median([r["cpu"] for r in found]) for kind, found in runs.items()}
    shipped = shipped_offsets()
    same_offsets = all(r["offsets"] and all(shipped.get(k) == v for k, v in r["offsets"].items())
                       for r in runs["measured"])
    every = [r["verdicts"] for found in runs.values() for r in found]
    seats = len(every[0])
    steady = sum(len({tuple(v[i]) for v in every}) == 1 for i in range(seats))
    rows = [[f"calibrations {kind}", common.fmt_s(wall[kind]), common.fmt_s(cpu[kind])]
            for kind in ("measured", "shipped")]
    saved = wall["measured"] - wall["shipped"]
    markdown = "\n".join([
        f"_Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `python bench/bench_first_review.py"
        f" --rounds {args.rounds}`; {common.machine()['nproc']} cores; load average at the end"
        f" {common.machine()['load']}._",
        "",
        f"`panel review {' '.join(BRIEFS)}` in a new workspace on the embedded default (8 persona verdicts), the"
        " whole process; medians of the alternating runs:",
        "",
        common.table(["first review", "wall (median)", "CPU"], rows),
        "",
        f"- Shipping the default personas' calibrations saves {saved:.1f} s"
        f" ({100 * saved / wall['measured']:.0f}%) of the first review (target: at least 20 s off `make demo`'s"
        f" review) — {common.verdict_status(saved >= 20)}.",
        f"- The offsets each measured run stored equal the shipped ones, number for number:"
        f" {'yes' if same_offsets else '**no**'}.",
        f"- Seats whose ship/skip call was the same in all {len(every)} runs: {steady} of {seats}. The embedded"
        " path decodes several seats in one batch, and the batch's make-up moves a seat's log-odds a little from"
        " run to run (two runs with the very same calibrations differ as much), so a call near even can flip.",
        "",
    ])
    DOC.write_text("# The first review on the embedded default\n\n" + markdown, encoding="utf-8")
    common.report("first_review", "The first review on the embedded default", markdown,
                  {"wall": wall, "cpu": cpu, "same_offsets": same_offsets, "steady_seats": steady, "seats": seats})


if __name__ == "__main__":
    main()
