"""Which vendor makes a model, so a seat judging that vendor's own tool can be flagged (or recused).

A model string names its family: `mistral/mistral-small`, `openai/mistral-small` served elsewhere
and `ollama/mistral` are all Mistral AI's; the provider prefix alone says little (`openai/` is any
OpenAI-compatible server), except for providers that serve only their own models.
"""

from __future__ import annotations

import re

# (pattern on the model string, vendor); the first match wins. Provider prefixes that serve only
# their own models come first, then model families wherever they are served.
FAMILIES = [
    (r"^anthropic/|claude", "Anthropic"),
    (r"^mistral/|mistral|mixtral|codestral|ministral|magistral|pixtral|devstral", "Mistral AI"),
    (r"^gemini/|^vertex_ai/|gemini|gemma", "Google"),
    (r"^cohere/|command-r|command-a", "Cohere"),
    (r"^xai/|grok", "xAI"),
    (r"^deepseek/|deepseek", "DeepSeek"),
    (r"qwen|qwq", "Alibaba Cloud (Qwen)"),
    (r"(^|[^o])llama|^meta", "Meta"),  # not the "llama" in "ollama/", which serves every family
    (r"phi-?\d", "Microsoft"),
    (r"smollm|^local/smollm2$", "Hugging Face"),
    (r"^openai/(gpt|o\d|chatgpt)|^(gpt-|o\d-|o\d$|chatgpt)|gpt-4|gpt-5|gpt-oss", "OpenAI"),
]
_SUFFIXES = re.compile(r"\b(ai|inc|ltd|llc|corp(oration)?|labs?|technologies|gmbh|sas|co)\b\.?", re.I)


def model_vendor(model: str) -> str | None:
    text = model.lower()
    for pattern, vendor in FAMILIES:
        if re.search(pattern, text):
            return vendor
    return None


def _norm(name: str) -> str:
    return " ".join(_SUFFIXES.sub(" ", re.sub(r"[^\w\s]", " ", name.lower())).split())


def conflict(model: str, brief_vendor: str) -> str | None:
    """The model's vendor when it is also the tool's vendor (a conflict of interest); else None."""
    vendor = model_vendor(model)
    if vendor is None:
        return None
    ours = _norm(vendor)
    # "GitHub (Microsoft)": the vendor as written, and each name in brackets, are compared.
    for theirs in [_norm(brief_vendor), *(_norm(x) for x in re.findall(r"\(([^)]*)\)", brief_vendor))]:
        if ours and theirs and (ours == theirs or ours.split()[0] == theirs.split()[0]):
            return vendor
    return None
