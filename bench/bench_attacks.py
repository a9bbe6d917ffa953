"""Manipulated briefs on the embedded default: harmful flips with and without panel's defences.

A small labelled set cut from evals/standard (clear cases only: a few good tools and a few duds) is
evaluated with `panel eval SET --attacks KINDS` twice, each in a fresh workspace (the cache is keyed
by the brief, not by the prompt, so the two conditions must not share a store):
  - undefended: the personas read a flagged brief as written (hidden characters, comments and all);
  - defended: as panel sends it, without hidden characters and comments and with the linter's
    flags listed (panel.inputs.lint.prompt_yaml).
The same variants, model and personas on both sides; the clean cases' balanced accuracy is
reported too (the defences must not cost accuracy on honest briefs).

    python bench/bench_attacks.py [--slugs pytest,fastapi,hubbrella,coverloom-ai] [--attacks injection] [--model M]

Slow: the embedded model writes every verdict (about 2.5 s each on two cores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# Runs `panel eval` in this interpreter; "undefended" swaps the personas' view of a brief for its raw YAML.
PROBE = """
import sys
if {undefended!r}:
    import panel.inputs.personas as personas
    personas.prompt_yaml = lambda brief: brief.to_yaml()
from panel.cli import main
sys.argv = ["panel"] + {args!r}
main()
"""


def make_set(home: Path, slugs: list[str]) -> None:
    folder = home / "evals" / "subset"
    folder.mkdir(parents=True)
    labels = {row.split(",")[0]: row.split(",")[1] for row in
              (common.REPO / "evals" / "standard" / "labels.csv").read_text(encoding="utf-8").splitlines()[1:]}
    for slug in slugs:
        shutil.copy(common.REPO / "evals" / "standard" / f"{slug}.yaml", folder)
    (folder / "labels.csv").write_text("slug,expected\n" + "".join(f"{s},{labels[s]}\n" for s in slugs),
                                       encoding="utf-8")


def evaluate(slugs: list[str], attacks: str, undefended: bool, model: str | None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="panel-bench-attacks-"))
    try:
        shutil.copytree(common.REPO / "personas", home / "personas")
        (home / "tool_briefs").mkdir()
        make_set(home, slugs)
        args = ["eval", "subset", "--attacks", attacks, "--json", *(["--model", model] if model else [])]
        started = time.perf_counter()
        run = common.run_child([sys.executable, "-c", PROBE.format(undefended=undefended, args=args)],
                               env=common.panel_env(home))
        data = json.loads(run["stdout"])
        return {"wall": time.perf_counter() - started, "manipulation": data["manipulation"],
                "clean_balanced_accuracy": data["metrics"]["panel"]["balanced_accuracy"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slugs", default="pytest,fastapi,hubbrella,coverloom-ai")
    parser.add_argument("--attacks", default="injection")
    parser.add_argument("--model", default=None, help="a hosted model instead of the embedded default")
    args = parser.parse_args()
    slugs = args.slugs.split(",")
    results = {}
    for label, undefended in (("undefended", True), ("defended", False)):
        results[label] = evaluate(slugs, args.attacks, undefended, args.model)
        print(f"  {label}: {results[label]['wall']:.0f} s", flush=True)
    rows = []
    for label, r in results.items():
        for kind, row in r["manipulation"].items():
            panel = row["panel"]
            rows.append([label, kind, row["variants"], panel["pairs"], panel["flips"], panel["harmful"],
                         f"{100 * (panel['harmful_rate'] or 0):.1f}%", panel["confidence_shift"],
                         r["clean_balanced_accuracy"]])
    text = (f"{args.model or 'Embedded default'}, {len(slugs)} clear cases of evals/standard ({', '.join(slugs)}),"
            f" attacks: {args.attacks}; each condition in a fresh workspace.\n\n"
            + common.table(["condition", "attack", "variants", "answered pairs", "panel flips", "harmful",
                            "harmful rate", "shift to ship", "clean balanced accuracy"], rows))
    common.report("attacks", "Manipulated briefs: harmful flips with and without the defences", text, results)


if __name__ == "__main__":
    main()
