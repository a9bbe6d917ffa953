"""Strict structured output on OpenAI's own API: the re-ask rate before and after.

The fake server (tests/fake_openai.py, formats "unconstrained") answers like a model decoding
JSON without constraints unless a json_schema is asked with `"strict": true`: then every answer
fits, as OpenAI's constrained decoding guarantees; otherwise every third verdict leaves out a
required field and panel re-asks. The same briefs are reviewed through the real CLI twice:
  - before: the server at --api-base, where panel does not ask strictly (a self-hosted server
    may not honour `strict`);
  - after: the server as OpenAI's own API (OPENAI_BASE_URL, no --api-base), asked strictly.
The re-ask rate is the requests beyond one per seat, per seat; the server counts requests.

    python bench/bench_strict.py [--briefs 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MODEL = "openai/gpt-4o-mini"  # a model in the price map, so the audit cost is a real figure too


def review(home: Path, server, strict: bool) -> dict:
    command = [common.panel_exe(), "review", str(home / "briefs"), "--model", MODEL, "--fresh", "--json"]
    extra = {"OPENAI_API_KEY": "sk-bench-not-a-real-key"}
    if strict:
        extra["OPENAI_BASE_URL"] = server.url
    else:
        command += ["--api-base", server.url]
    before = server.requests()
    run = common.run_child(command, env=common.panel_env(home, **extra))
    requests = server.requests() - before
    seats = run_seats(home)
    return {"requests": requests, "seats": seats, "reask_rate": (requests - seats) / seats, "wall": run["wall"]}


def run_seats(home: Path) -> int:
    return len(list((home / "briefs").glob("*.yaml"))) * len(common.PERSONAS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=40)
    args = parser.parse_args()
    with common.workspace(args.briefs) as home, common.FakeServer(0.0, formats="unconstrained") as server:
        before = review(home, server, strict=False)
        after = review(home, server, strict=True)
    rows = [[label, r["seats"], r["requests"], f"{100 * r['reask_rate']:.1f}%"]
            for label, r in (("before: not strict (--api-base)", before), ("after: strict (OpenAI's own API)", after))]
    text = (f"{args.briefs} briefs x 5 personas through `panel review`, `{MODEL}`, against the fake server's "
            "\"unconstrained\" personality (every third answer misses a field unless asked strictly).\n\n"
            + common.table(["", "seats", "requests", "re-asks per seat"], rows)
            + f"\n\n- re-ask rate {100 * before['reask_rate']:.1f}% → {100 * after['reask_rate']:.1f}%.")
    common.report("strict", "Strict structured output: re-asks before and after", text,
                  {"before": before, "after": after})


if __name__ == "__main__":
    main()
