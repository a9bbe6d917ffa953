"""The brief linter: what in a brief looks written to sway the model reviewers rather than inform them.

A brief is a vendor's own words, and a vendor who knows that language models read it may write for
them. The linter flags, with the field and the offending text:
  - text addressed to the reviewers or to models ("note to the evaluating assistant: ...");
  - hidden characters: zero-width characters, bidi overrides and isolates, control characters
    (plain Arabic or Hebrew text needs none of them, and is never flagged);
  - HTML or Markdown comments, which a reader of the page never sees but a model does;
  - links whose text names one address and whose target is another;
  - a density of unsupported superlatives.
Flags are warnings: `panel briefs validate` and every review show them, `panel audit flags` lists
them for the stored briefs, and publishing a flagged tool needs `--ack-flags`, which is recorded.
The rules live here and nowhere else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import yaml

from ..core.brief import ToolBrief

ADDRESSED = "addressed to reviewers"
HIDDEN = "hidden characters"
COMMENT = "comment"
LINK = "link text and target disagree"
SUPERLATIVES = "superlatives"
KINDS = (ADDRESSED, HIDDEN, COMMENT, LINK, SUPERLATIVES)


@dataclass(frozen=True)
class Flag:
    field: str  # "description", "pricing.notes", "links.<text>"...
    kind: str  # one of KINDS
    text: str  # the offending text, hidden characters shown as <U+200B>

    def line(self) -> str:
        return f"{self.field}: {self.kind}: {self.text}"

    def to_json(self) -> dict:
        return {"field": self.field, "kind": self.kind, "text": self.text}


# --- text addressed to the reviewers ---------------------------------------------------------------

_READER = (r"(?:review(?:er|ers|ing)?|evaluat(?:or|ors|ing)|judg(?:e|es|ing)|grader|assistant|language model|llm|"
           r"(?:ai|a\.i\.)(?: model| system| agent)?|chatbot|model|persona|panel(?:ist)?s?|bot)")
# Each pattern needs a reader or an instruction to one; ordinary product prose has neither. A gap
# (<within>) stays inside one sentence: "...ignore binary files. Previous versions..." is two claims.
_ADDRESSED = [
    re.compile(p.replace("<within>", r"[^.!?\n]"), re.IGNORECASE) for p in (
        r"\b(?:ignore|disregard|forget|override|bypass)\b<within>{0,40}\b(?:instructions?|prompts?|rules|guidelines|"
        r"criteria|rubrics?|directions|above|previous|prior|everything)\b",
        rf"\b{_READER}\s*[,:;!]\s*(?:please\s+)?(?:ignore|disregard|ship|approve|rate|vote|give|recommend|mark|"
        r"score)\b",
        r"\b(?:previous|prior|earlier|above)\s+(?:instructions?|prompts?|rules)\b",
        rf"\b(?:note|message|memo|instructions?|reminder|notice|attention|dear|hey|hello)\b\s*(?:to|for)?\s*(?:the|all|any|"
        rf"every)?\s*{_READER}\b",
        rf"\b{_READER}\s*(?:s)?\s*(?:must|should|shall|are (?:told|asked|instructed|required)|need to|have to)\s+"
        r"(?:rate|recommend|vote|approve|ship|give|score|mark|say|answer|output|respond|conclude|return)\b",
        r"\b(?:you|u)\s+(?:must|should|shall|will|need to|have to|are (?:required|instructed) to)\s+(?:rate|recommend|"
        r"vote|approve|give|score|mark|answer|output|respond|return|conclude)\b",
        r"\b(?:as an ai|you are (?:now )?an? (?:ai (?:assistant|model|reviewer|judge)|assistant|language model|"
        r"reviewer|evaluator|judge|helpful assistant))\b",
        r"\b(?:system|developer|admin(?:istrator)?)\s*(?:note|message|override|mode)\b\s*(?:to|for|:|—|-)",
        r"\b(?:verdict|rating|recommendation|decision|score)\s*(?:[:=]|should be|must be|will be)\s*[\"'“]?"
        r"(?:ship|approve|10|five|5|100|perfect|yes)\b",
        r"\b(?:respond|reply|answer|output|return)\s+(?:only\s+)?(?:with|in)\b<within>{0,30}\b(?:ship|json|verdict|yes)\b",
        r"\b(?:rate|score)\s+(?:this|it|the tool|this tool)\b<within>{0,20}\b(?:10|ten|five|5|stars?|highly|perfect)\b",
        r"\b(?:already|previously)\s+(?:been\s+)?(?:approved|vetted|endorsed|cleared)\s+by\s+(?:the|this)?\s*"
        + _READER,
        r"\b(?:pretend|imagine|role-?play|act as)\b<within>{0,40}\b(?:you|reviewer|evaluator|judge|assistant|model)\b",
        r"\b(?:developer|god|jailbreak|unrestricted)\s+mode\b",
        r"\b(?:reply|respond|answer|output|say|print)\s*:?\s*[\"'“]?(?:ship|approve)[\"'”]?(?:\W|$)",
    )
]


def _addressed_span(text: str) -> tuple[int, int] | None:
    """Where the first text addressed to reviewers starts, and where the match that starts there ends."""
    found = [m for m in (pattern.search(text) for pattern in _ADDRESSED) if m]
    first = min(found, key=lambda m: (m.start(), -m.end()), default=None)
    return (first.start(), first.end()) if first else None


def addressed_text(text: str) -> str | None:
    """The excerpt of `text` that addresses reviewers or models, or None."""
    plain = _without_hidden(text)
    span = _addressed_span(plain)
    return _excerpt(plain, *span) if span else None


# --- hidden characters -----------------------------------------------------------------------------

_ALWAYS_HIDDEN = {0x200B, 0x2060, 0xFEFF, 0x180E, 0x2061, 0x2062, 0x2063, 0x2064}  # zero-width space, joiners...
_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))  # embeddings, overrides, isolates
_JOINERS = {0x200C, 0x200D}  # legitimate in Persian, Indic scripts and emoji; hidden between Latin letters


def _hidden_at(text: str, i: int) -> bool:
    code = ord(text[i])
    if code in _ALWAYS_HIDDEN or code in _BIDI_CONTROLS:
        return True
    if code in _JOINERS:
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        return before.isascii() and after.isascii() and (before + after).strip() != ""
    return unicodedata.category(text[i]) == "Cc" and text[i] not in "\n\t\r"


def _hidden(text: str) -> str | None:
    where = [i for i in range(len(text)) if _hidden_at(text, i)]
    if not where:
        return None
    return _excerpt(text, where[0], where[-1] + 1, limit=80)


# A bidi override and the text it turns around: up to its end (PDF), the end of an isolate or the line.
_OVERRIDDEN = re.compile("[\u202d\u202e][^\u202c\u2069\n]*\u202c?")


def _without_hidden(text: str) -> str:
    """Text without hidden characters. Text under a bidi override goes too: a reader sees it
    turned around, a model reads it as stored, and plain right-to-left text needs no override."""
    text = _OVERRIDDEN.sub("", text)
    return "".join(c for i, c in enumerate(text) if not _hidden_at(text, i))


def shown(text: str) -> str:
    """Text as a flag shows it: every invisible or control character spelled out as <U+XXXX>."""
    return "".join(f"<U+{ord(c):04X}>" if _hidden_at(text, i) else c for i, c in enumerate(text))


# --- comments --------------------------------------------------------------------------------------

_COMMENTS = [re.compile(r"<!--.*?(?:-->|$)", re.DOTALL), re.compile(r"^\s*\[[^\]\n]*\]:\s*#\s*[(\"'].*$", re.M),
             re.compile(r"\{#.*?#\}", re.DOTALL)]


def _comment(text: str) -> str | None:
    for pattern in _COMMENTS:
        found = pattern.search(text)
        if found:
            return _excerpt(text, found.start(), found.end())
    return None


# --- links -----------------------------------------------------------------------------------------

_ADDRESS = re.compile(r"^(?:https?://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/:?#].*)?$", re.IGNORECASE)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _url_text(url: str) -> str:
    """A link's target as words: its escapes decoded, its separators read as spaces."""
    return re.sub(r"[/#?&=+_]", " ", unquote(url))


def _link_disagrees(text: str, url: str) -> bool:
    """Link text that reads as an address ("github.com/acme") but leads somewhere else."""
    named = _ADDRESS.match(text.strip())
    if not named:
        return False
    claimed = named.group(1).lower().removeprefix("www.")
    target = _host(url)
    return not (target == claimed or target.endswith("." + claimed) or claimed.endswith("." + target))


# --- superlatives ----------------------------------------------------------------------------------

_SUPERLATIVE = re.compile(
    r"\b(?:best(?:-in-class)?|greatest|fastest|most (?:powerful|advanced|innovative|accurate|trusted|loved)|"
    r"revolutionary|unmatched|unparalleled|unrivall?ed|unbeatable|world-?class|world'?s (?:first|best|leading)|"
    r"game-?chang(?:ing|er)|groundbreaking|ground-breaking|ultimate|incredible|amazing|unprecedented|"
    r"industry-leading|cutting-edge|next-gen(?:eration)?|state-of-the-art|mind-?blowing|flawless|perfect|"
    r"number one|#1|breakthrough|magical|10x)\b", re.IGNORECASE)
MIN_SUPERLATIVES = 4  # at least this many ...
MAX_WORDS_PER_SUPERLATIVE = 25  # ... and at least one for every this many words


def _superlatives(text: str) -> str | None:
    found = _SUPERLATIVE.findall(text)
    words = len(text.split())
    if len(found) >= MIN_SUPERLATIVES and words / len(found) <= MAX_WORDS_PER_SUPERLATIVE:
        return f"{len(found)} in {words} words: " + ", ".join(dict.fromkeys(w.lower() for w in found))
    return None


# --- the brief -------------------------------------------------------------------------------------


def _excerpt(text: str, start: int, end: int, limit: int = 120) -> str:
    """The matched text with a few words around it, cut at word boundaries."""
    before = text.rfind(" ", 0, max(0, start - 12)) + 1
    after = text.find(" ", min(len(text), end + 12))
    piece = text[before : after if after != -1 else len(text)]
    piece = " ".join(shown(piece).split())
    return piece if len(piece) <= limit else piece[: limit - 1] + "…"


def slug_addresses_reviewers(slug: str) -> bool:
    """A slug read as words addresses the reviewers ("reviewers-must-ship-this")."""
    return addressed_text(slug.replace("-", " ")) is not None


def text_fields(brief: ToolBrief) -> list[tuple[str, str]]:
    """Every piece of text in a brief, with the name a flag gives it."""
    fields = [("slug", brief.slug.replace("-", " "))]  # a vendor names its own file: "reviewers-must-ship-this"
    fields += [(name, getattr(brief, name)) for name in ("name", "tagline", "category", "vendor", "description",
                                                          "licence")]
    fields += [("pricing.model", brief.pricing.model), ("pricing.entry", brief.pricing.entry)]
    if brief.pricing.notes:
        fields.append(("pricing.notes", brief.pricing.notes))
    for text in brief.links:
        fields.append((f"links.{shown(text)}", text))
    # Evidence is panel's own, but a brief file is editable: an instruction planted there is flagged too.
    for i, fact in enumerate(brief.evidence or []):
        fields.append((f"evidence.{i}", f"{fact.fact}: {fact.value} ({fact.source})"))
    return fields


def lint(brief: ToolBrief) -> list[Flag]:
    """Every flag on a brief, field by field, in a stable order."""
    flags = []
    for field, text in text_fields(brief):
        for kind, check in ((ADDRESSED, addressed_text), (HIDDEN, _hidden), (COMMENT, _comment)):
            found = check(text)
            if found:
                flags.append(Flag(field, kind, found))
    for text, url in brief.links.items():
        if _hidden(url):
            flags.append(Flag(f"links.{shown(text)} (target)", HIDDEN, _hidden(url)))
        if addressed_text(_url_text(url)):  # "https://x.example/#Note to the reviewers: ..."
            flags.append(Flag(f"links.{shown(text)} (target)", ADDRESSED, addressed_text(_url_text(url))))
        if _link_disagrees(_without_hidden(text), url):
            flags.append(Flag(f"links.{shown(text)}", LINK, f"{shown(text)} -> {url}"))
    prose = f"{brief.tagline}\n{brief.description}"
    found = _superlatives(prose)
    if found:
        flags.append(Flag("description", SUPERLATIVES, found))
    return flags


# --- what the personas read ------------------------------------------------------------------------

REMOVED = "[removed by panel]"  # what a field reads as when nothing of it is left
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def _without_addressed(text: str) -> str:
    """Text up to the sentence where it first addresses the reviewers. Everything from there on
    goes: where an instruction ends is the vendor's to choose ("e.g.", a stray full stop, fifty more
    of them), where it starts is not, and honest prose rarely follows an instruction to the judges."""
    span = _addressed_span(text)
    if span is None:
        return text
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, span[0])), default=0)
    return text[:start].rstrip()


def _scrubbed(text: str) -> str:
    """Text as the personas read it: without hidden characters and comments (a reader of the page
    never sees them) and without text addressed to the reviewers (an instruction, not a claim)."""
    for pattern in _COMMENTS:
        text = pattern.sub(" ", text)
    return _without_addressed(_without_hidden(text).strip()) or REMOVED


def read_claims(brief: ToolBrief) -> dict:
    """The brief's claims as the personas read them. Not its slug: an identifier says nothing about
    the tool, and a name that differs only there (an attack variant, a re-slugged draft) would still
    change the prompt. A flagged brief comes without what the linter caught (_withheld), so a caught
    manipulation reads exactly as the brief would without it. The flags are the editor's to weigh (a
    review's warnings, `panel audit flags`, `panel publish --ack-flags`): on the embedded default,
    listing them to the personas, with a marker where text was taken out, left the harmful flips
    where the injection put them (docs/benchmarks.md). Panel's own evidence is not the vendor's and
    is shown apart (panel.inputs.personas.evidence_block)."""
    data = brief.claims()
    del data["slug"]
    return _withheld(data) if lint(brief) else data


def claims_yaml(claims: dict) -> str:
    """Claims as the YAML between a brief's fence markers."""
    return yaml.safe_dump(claims, sort_keys=False, allow_unicode=True, width=88)


def _withheld(data: dict) -> dict:
    """The claims without hidden characters, comments, text under a bidi override and text addressed
    to the reviewers; pricing notes or a link whose text was nothing else, and a link leading to an
    instruction, are left out (as in a brief that never had them)."""
    for key in ("name", "tagline", "category", "vendor", "description", "licence"):
        data[key] = _scrubbed(data[key])
    data["pricing"] = {key: _scrubbed(value) for key, value in data["pricing"].items()}
    if data["pricing"].get("notes") == REMOVED:
        del data["pricing"]["notes"]
    links: dict[str, str] = {}
    for text, url in data.get("links", {}).items():
        text = _scrubbed(text)
        if text == REMOVED or addressed_text(_url_text(url)):
            continue  # a link that was nothing but an instruction, or leads to one
        while text in links:  # two texts alike once scrubbed stay two links
            text += " (another)"
        links[text] = url
    if "links" in data:
        data["links"] = links
    return data
