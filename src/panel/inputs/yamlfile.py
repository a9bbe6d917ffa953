"""Loading a user-edited YAML file into a pydantic model with one-line, file-named errors."""

from __future__ import annotations

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
    elif first["type"] == "string_pattern_mismatch":
        if first.get("ctx", {}).get("pattern") == SLUG_PATTERN:
            msg = describe_bad_slug(first["input"])
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}"


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
        raise error(f"{path}: {describe_validation_error(exc)}") from None
