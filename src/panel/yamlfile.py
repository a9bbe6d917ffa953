"""Loading a user-edited YAML file into a pydantic model with one-line, file-named errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import PanelError
from .textcheck import find_control_char, read_text_file

M = TypeVar("M", bound=BaseModel)


def describe_validation_error(exc: ValidationError) -> str:
    """First error as `field.path: message`, plus a count of the rest, on one line."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    elif first["type"] == "missing":
        msg = "required field is missing"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}"


def load_yaml_mapping(path: Path, error: type[PanelError]) -> dict:
    """Parse a YAML file that must hold a mapping; reject control characters."""
    text = read_text_file(path, error)
    bad = find_control_char(text)
    if bad:
        raise error(f"{path}: {bad}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}:{where} invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise error(f"{path}: expected a mapping of fields, found {kind}")
    return data


def load_model(path: Path, model: type[M], error: type[PanelError], defaults: dict | None = None) -> M:
    data = load_yaml_mapping(path, error)
    for key, value in (defaults or {}).items():
        data.setdefault(key, value)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{path}: {describe_validation_error(exc)}") from None
