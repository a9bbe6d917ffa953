"""A submission: a brief someone asks the panel to review, with who sent it and how to reach them.

It arrives as data (`{"brief": {...}, "submitter": {"name": ..., "contact": ...}}`) from LangGraph's
server, or from a file given to `panel submit`: one brief or submission (YAML or JSON), a JSON list
of them, or a CSV batch whose columns are the brief's fields (`pricing.entry`, `links.homepage`,
...) and `submitter.name`, `submitter.contact`. Everything here is checked before the queue sees it
(panel.store.queue keeps the queue; panel.review.intake runs the flow).

The contact is private: it is kept for the editors and shown only by `panel submissions show`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ..core.brief import ToolBrief
from ..core.errors import SubmissionError
from .textcheck import find_control_char, read_text_file
from .yamlfile import describe_validation_error, load_yaml_mapping

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
BATCH_FILE_BYTES = 8 * 1024 * 1024


class Submitter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Short
    contact: Short  # an e-mail address, a handle: how an editor reaches them; never published

    @property
    def key(self) -> str:
        """Who counts as the same submitter for the daily limit."""
        return self.contact.casefold()


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: ToolBrief
    submitter: Submitter


def size_of(data) -> int:
    """A submission's size in bytes, as compact JSON: the same measure for every way in."""
    # default=str: a YAML date or binary value is measured as text; the brief's check then refuses it.
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def parse_submission(data, max_bytes: int, where: str = "submission") -> Submission:
    """One submission given as data, or a one-line SubmissionError (with the HTTP status to answer)."""
    if not isinstance(data, dict):
        raise SubmissionError(f"{where}: expected a mapping with `brief` and `submitter`", 400)
    size = size_of(data)
    if size > max_bytes:
        raise SubmissionError(f"{where}: {size:,} bytes; the limit is {max_bytes:,} (submissions.max_bytes)", 413)
    unknown = sorted(set(data) - set(Submission.model_fields))
    if unknown:
        raise SubmissionError(f"{where}: {unknown[0]}: unknown field (a submission has `brief` and `submitter`)")
    if not isinstance(data.get("brief"), dict):
        raise SubmissionError(f"{where}: brief: expected a mapping of fields (slug, name, tagline, ...)")
    bad = next((problem for text in _strings(data) if (problem := find_control_char(text))), None)
    if bad:
        raise SubmissionError(f"{where}: {bad}", 400)
    try:
        brief = ToolBrief.model_validate(data.get("brief"))
    except ValidationError as exc:
        raise SubmissionError(f"{where}: brief: {describe_validation_error(exc, ToolBrief)}") from None
    if brief.evidence is not None:
        raise SubmissionError(f"{where}: brief: evidence: only panel writes evidence (`panel briefs draft`);"
                              " send the brief without it")
    try:
        submitter = Submitter.model_validate(data.get("submitter"))
    except ValidationError as exc:
        raise SubmissionError(f"{where}: submitter: {describe_validation_error(exc, Submitter)}") from None
    return Submission(brief=brief, submitter=submitter)


def _strings(data):
    """Every string in nested data (to refuse control characters wherever they hide)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


# --- files given to `panel submit` ---------------------------------------------------------------


def read_submissions(path: Path, submitter: dict | None) -> list[tuple[str, object]]:
    """The submissions in a file, each as (where, data) for parse_submission. A bare brief (no
    `brief:` key) is sent by `submitter` (the CLI's --name/--contact) unless its row names one.
    A file that cannot be read at all is one SubmissionError; bad entries are found later, one by one."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        items = _csv_rows(read_text_file(path, SubmissionError, BATCH_FILE_BYTES))
    elif suffix == ".json":
        items = _json_items(path)
    elif suffix in (".yaml", ".yml"):
        items = [load_yaml_mapping(path, SubmissionError)]
    else:
        raise SubmissionError(f"{path}: expected a .yaml, .yml, .json or .csv file", 400)
    if not items:
        raise SubmissionError(f"{path}: no submissions in the file", 400)
    where = [f"{path}" if len(items) == 1 else f"{path} #{i}" for i in range(1, len(items) + 1)]
    return [(label, _as_submission(item, submitter)) for label, item in zip(where, items)]


def _json_items(path: Path) -> list:
    text = read_text_file(path, SubmissionError, BATCH_FILE_BYTES)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SubmissionError(f"{path}: invalid JSON: {getattr(exc, 'msg', 'nested too deeply')}", 400) from None
    return data if isinstance(data, list) else [data]


def _csv_rows(text: str) -> list[dict]:
    """Rows as nested mappings: a `pricing.entry` column fills brief["pricing"]["entry"]; empty
    cells are left out (so a missing field is reported as missing, not as empty)."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        item: dict = {}
        for column, value in row.items():
            if column is None or value is None or not value.strip():
                continue  # an extra cell beyond the header, or an empty one
            keys = column.strip().split(".")
            target = item
            for key in keys[:-1]:
                target = target.setdefault(key, {})
                if not isinstance(target, dict):
                    raise SubmissionError(f"CSV column '{column}' clashes with column '{key}'", 400)
            value = value.strip()
            target[keys[-1]] = [p.strip() for p in value.split(",") if p.strip()] if keys == ["panel"] else value
        rows.append(item)
    return rows


def _as_submission(item, submitter: dict | None):
    """A bare brief becomes {"brief": ..., "submitter": ...}; anything else is left for
    parse_submission to judge."""
    if not isinstance(item, dict) or "brief" in item:
        return item
    brief = dict(item)
    own = brief.pop("submitter", None)
    return {"brief": brief, "submitter": own if own is not None else submitter}
