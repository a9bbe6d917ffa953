"""A labelled evaluation set: a folder of tool briefs plus `labels.csv` (`slug,expected[,note]`).

`expected` is `ship` or `skip` for clear cases, `borderline-ship` or `borderline-skip` for honest
borderline ones (scored apart from the clear ones). An optional `pairs.csv` (`a,b,expected[,note]`)
names head-to-head pairs with the tool that should win; `panel eval` does not score them (the quality
bench, bench/bench_quality.py, runs them), but checks them with the rest. A set is checked whole
before anything runs: every label names a brief in the folder, every brief has a label, every pair
names two of its briefs.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from ..core.brief import ToolBrief
from ..core.errors import EvalError
from ..core.slugs import is_slug
from .briefs import brief_files, load_brief
from .textcheck import read_text_file

EXPECTED = ("ship", "skip", "borderline-ship", "borderline-skip")
MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Label:
    slug: str
    expected: str  # ship | skip (the lean, for a borderline case)
    borderline: bool
    note: str = ""


@dataclass
class EvalSet:
    name: str
    folder: Path
    briefs: list[ToolBrief]
    labels: dict[str, Label]
    digest: str = ""  # of the labels and every brief: which exact set a stored evaluation used

    def clear(self) -> list[str]:
        return [slug for slug, label in self.labels.items() if not label.borderline]


def resolve_set(arg: str, evals_dir: Path) -> Path:
    """SET is a folder, or the name of one under the workspace's evals/."""
    candidate = Path(arg)
    if candidate.is_dir():
        return candidate
    named = evals_dir / arg
    if is_slug(arg) and named.is_dir():
        return named
    raise EvalError(f"no labelled set '{arg}': not a folder, and {named} does not exist")


def load_eval_set(folder: Path) -> EvalSet:
    folder = Path(folder)
    briefs = {brief.slug: brief for brief in (load_brief(path) for path in brief_files(folder))}
    if not briefs:
        raise EvalError(f"{folder}: no briefs (*.yaml) in the set")
    labels = read_labels(folder / "labels.csv", set(briefs))
    unlabelled = sorted(set(briefs) - set(labels))
    if unlabelled:
        raise EvalError(f"{folder}: briefs without a label in labels.csv: {', '.join(unlabelled)}")
    if (folder / "pairs.csv").exists():
        check_pairs(folder / "pairs.csv", set(briefs))
    digest = hashlib.sha256()
    for slug in sorted(briefs):
        digest.update(f"{slug}:{labels[slug].expected}:{labels[slug].borderline}:{briefs[slug].content_hash()}".encode())
    return EvalSet(name=folder.name, folder=folder, briefs=[briefs[s] for s in sorted(briefs)], labels=labels,
                   digest=digest.hexdigest()[:16])


def _rows(path: Path, header: list[str]) -> list[tuple[int, list[str]]]:
    """(line number, cells) of a small CSV file, the header line checked and left out."""
    reader = csv.reader(io.StringIO(read_text_file(path, EvalError), newline=""))
    rows = [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]
    if not rows or [c.lower() for c in rows[0][1][: len(header)]] != header:
        raise EvalError(f"{path}: the first line must be the header {','.join(header)}[,note]")
    return rows[1:]


def _reject(path: Path, errors: list[str]) -> None:
    if errors:
        more = f"; and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise EvalError(f"{path}: {'; '.join(errors[:MAX_ERRORS_SHOWN])}{more}")


def read_labels(path: Path, known: set[str]) -> dict[str, Label]:
    labels: dict[str, Label] = {}
    errors: list[str] = []
    for line, cells in _rows(path, ["slug", "expected"]):
        slug, expected = cells[0], cells[1].lower() if len(cells) > 1 else ""
        if slug not in known:
            errors.append(f"line {line}: no brief '{slug}' in the set")
        elif slug in labels:
            errors.append(f"line {line}: '{slug}' is labelled twice")
        elif expected not in EXPECTED:
            errors.append(f"line {line}: expected must be one of {', '.join(EXPECTED)}, not '{expected}'")
        else:
            labels[slug] = Label(slug, expected.removeprefix("borderline-"), expected.startswith("borderline-"),
                                 cells[2] if len(cells) > 2 else "")
    _reject(path, errors)
    return labels


def check_pairs(path: Path, known: set[str]) -> None:
    """Each pair names two different briefs of the set and which of them should win."""
    errors: list[str] = []
    for line, cells in _rows(path, ["a", "b", "expected"]):
        a, b, expected = (cells + ["", "", ""])[:3]
        if a not in known or b not in known or a == b:
            errors.append(f"line {line}: a and b must be two different briefs of the set")
        elif expected not in (a, b):
            errors.append(f"line {line}: expected must be a or b, not '{expected}'")
    _reject(path, errors)
