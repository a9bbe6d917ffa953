"""Loading a user-edited YAML file into a pydantic model with one-line, file-named errors."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..core.errors import PanelError
from ..core.slugs import SLUG_PATTERN, describe_bad_slug
from .textcheck import find_control_char, read_text_file

M = TypeVar("M", bound=BaseModel)


class StrictSafeLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error. Plain YAML
    keeps the last value silently, so a careless second `description:` would lose the first."""

    def construct_mapping(self, node, deep=False):
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


MAX_PROBLEMS_SHOWN = 6


def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Every problem as `field.path: message`, on one line; an unknown field that looks like a
    misspelt known one says which (`taglne: unknown field, did you mean 'tagline'?`)."""
    errors = exc.errors()
    known = list(model.model_fields) if model is not None else []
    problems = [_describe(error, known) for error in errors[:MAX_PROBLEMS_SHOWN]]
    more = len(errors) - MAX_PROBLEMS_SHOWN
    if more > 0:
        problems.append(f"and {more} more problem{'s' if more > 1 else ''}")
    return "; ".join(problems)


def _describe(error: dict, known: list[str]) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1) if len(error["loc"]) == 1 else []
        msg = f"unknown field, did you mean '{close[0]}'?" if close else "unknown field (check the spelling)"
    elif error["type"] == "missing":
        msg = "required field is missing"
    elif error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == SLUG_PATTERN:
        msg = describe_bad_slug(error["input"])
    return f"{where}: {msg}"


def load_yaml_mapping(path: Path, error: type[PanelError]) -> dict:
    """Parse a YAML file that must hold a mapping; reject control characters."""
    text = read_text_file(path, error)
    bad = find_control_char(text)
    if bad:
        raise error(f"{path}: {bad}")
    try:
        data = yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        # PyYAML parses nested collections recursively; a few thousand `[` would crash it.
        raise error(f"{path}: invalid YAML: nested too deeply") from None
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
        raise error(f"{path}: {describe_validation_error(exc, model)}") from None
