"""What a scripted model reads of a rendered prompt, for tests whose answers depend on the brief."""

from __future__ import annotations

import re

from panel.core.brief import ToolBrief
from panel.inputs.lint import claims_yaml, read_claims


def shown_slug(text: str) -> str:
    """The slug of the brief in a persona prompt, read back from its name: the personas never read a
    slug (panel.inputs.lint.read_claims), and make_brief names a brief after its slug in title case."""
    return re.search(r"^name: (.+)$", text, re.M).group(1).strip().strip("'\"").lower().replace(" ", "-")


def shown_yaml(brief: ToolBrief) -> str:
    """The brief as the personas read it: the YAML between its fence markers."""
    return claims_yaml(read_claims(brief))
