from pathlib import Path

import pytest

from panel.core.brief import ToolBrief
from panel.inputs.briefs import brief_files, load_brief
from panel.core.errors import BriefError

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
slug: {slug}
name: Widget
tagline: Makes widgets
category: Developer Tools
vendor: Widget Co
description: A tool that makes widgets for developers.
pricing:
  model: subscription
  entry: $10 per month
licence: Proprietary
links:
  homepage: https://widget.example
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_briefs_all_load():
    briefs = [load_brief(p) for p in brief_files(REPO / "tool_briefs")]
    assert len(briefs) >= 10
    by_slug = {b.slug: b for b in briefs}
    assert by_slug["smollm3"].panel == ["builder", "skeptic", "futurist", "business"]
    assert by_slug["mistral-small-3-1"].panel == ["builder", "skeptic", "futurist", "creative"]


def test_good_brief_and_slug_defaults_to_file_name(tmp_path):
    text = GOOD.format(slug="widget").replace("slug: widget\n", "")
    brief = load_brief(write(tmp_path, "widget.yaml", text))
    assert brief.slug == "widget"
    assert brief.pricing.entry == "$10 per month"


def test_content_hash_ignores_formatting_but_not_meaning(tmp_path):
    a = load_brief(write(tmp_path, "widget.yaml", GOOD.format(slug="widget")))
    reflowed = GOOD.format(slug="widget").replace("description: A tool", "description:   A tool")
    b = load_brief(write(tmp_path, "widget.yaml", reflowed))
    assert a.content_hash() == b.content_hash()
    changed = load_brief(write(tmp_path, "widget.yaml", GOOD.format(slug="widget").replace("$10", "$12")))
    assert changed.content_hash() != a.content_hash()


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda t: t.replace("tagline: Makes widgets\n", ""), "tagline: required field is missing"),
        (lambda t: t + "colour: blue\n", "colour: unknown field"),
        (lambda t: t.replace("entry: $10 per month", "entry: [1, 2]"), "pricing.entry:"),
        (lambda t: t.replace("https://widget.example", "javascript:alert(1)"), "links.homepage:"),
        (lambda t: t.replace("slug: widget", "slug: other"), "does not match the file name"),
        (lambda t: t + "panel: builder\n", "panel:"),
        (lambda t: "name: [unclosed\n", "invalid YAML"),
        (lambda t: "- just\n- a list\n", "expected a mapping"),
        (lambda t: t.replace("Makes widgets", "Makes\x07widgets"), "control character U+0007 on line 3"),
    ],
)
def test_bad_brief_one_line_error_names_file_and_field(tmp_path, mutate, expected):
    path = write(tmp_path, "widget.yaml", mutate(GOOD.format(slug="widget")))
    with pytest.raises(BriefError) as info:
        load_brief(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_unreadable_inputs(tmp_path):
    cases = {
        "empty.yaml": b"",
        "binary.yaml": b"\x00\x01\x02GGUF",
        "latin1.yaml": GOOD.format(slug="latin1").replace("Widget Co", "Caf\xe9").encode("latin-1"),
    }
    expected = {"empty.yaml": "empty", "binary.yaml": "binary", "latin1.yaml": "not valid UTF-8"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(BriefError, match=expected[name]):
            load_brief(path)
    with pytest.raises(BriefError, match="no such file"):
        load_brief(tmp_path / "missing.yaml")


def test_oversized_file_rejected_before_parsing(tmp_path):
    path = write(tmp_path, "huge.yaml", GOOD.format(slug="huge") + "# " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(BriefError, match="limit is"):
        load_brief(path)


def test_to_yaml_round_trips(tmp_path):
    brief = load_brief(write(tmp_path, "widget.yaml", GOOD.format(slug="widget")))
    again = ToolBrief.model_validate(__import__("yaml").safe_load(brief.to_yaml()))
    assert again == brief
