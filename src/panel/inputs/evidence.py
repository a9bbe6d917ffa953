"""A brief drafted from a tool's own files (`panel briefs draft`): a local repository checkout, or an
installed Python distribution's metadata.

Two kinds of thing come out, kept apart:
- the **claims**: brief fields filled from what the project says about itself (its package metadata's
  name, summary, authors, declared licence and links; its README's first paragraph). Fields the
  source lacks stay empty and are listed; nothing is guessed.
- the **evidence**: facts panel established itself (a licence file and what it reads as, the first
  and latest commit, tags, contributors, whether tests and docs exist), each with where it was read.
  Values are panel's own words: dates, counts, SPDX ids from a fixed table, and metadata values only
  when they match a strict shape (a version, an SPDX expression), so a vendor cannot write evidence.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..core.brief import Fact
from ..core.errors import BriefError
from ..core.slugs import slugify

# Fields a brief needs, in the order a brief file lists them; pricing is never in a project's files.
BRIEF_FIELDS = ("name", "tagline", "category", "vendor", "description", "pricing.model", "pricing.entry", "licence")
README_NAMES = ("README.md", "README.rst", "README.txt", "README", "readme.md")
LICENCE_PREFIXES = ("LICENSE", "LICENCE", "COPYING", "UNLICENSE")
MAX_DESCRIPTION = 1200  # characters of the README's opening taken as the description

# How a licence file reads: phrases each licence's text carries, checked in this order (the
# LGPL and AGPL texts also say "GNU General Public License").
LICENCE_TEXTS = (
    ("AGPL-3.0", ("gnu affero general public license", "version 3")),
    ("LGPL-3.0", ("gnu lesser general public license", "version 3")),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1")),
    ("GPL-3.0", ("gnu general public license", "version 3")),
    ("GPL-2.0", ("gnu general public license", "version 2")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("MPL-2.0", ("mozilla public license", "2.0")),
    ("MIT", ("permission is hereby granted, free of charge", "without restriction")),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("Unlicense", ("free and unencumbered software released into the public domain",)),
)
SPDX_EXPRESSION = re.compile(r"^[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*$")
# Evidence repeats a declared licence only when every id in it is one of these: a vendor cannot
# dress words up as an SPDX-shaped id ("Verified-secure") and have panel state them.
KNOWN_LICENCES = {spdx for spdx, _ in LICENCE_TEXTS} | {
    "BSD", "0BSD", "MIT-0", "CC0-1.0", "CC-BY-4.0", "Zlib", "BSL-1.0", "EPL-2.0", "Python-2.0", "PSF-2.0",
    "Artistic-2.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only",
    "GPL-3.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
    "LLVM-exception", "Classpath-exception-2.0"}
VERSION = re.compile(r"^v?\d+(?:\.\d+){0,3}(?:[.-]?(?:a|b|rc|alpha|beta|dev|post|pre)\.?\d*)?(?:\+[a-z0-9.]{1,20})?$")
PYTHON_RANGE = re.compile(r"^[<>=!~0-9., *]{1,40}$")


@dataclass
class Draft:
    source: str  # what was read: a folder, or "distribution NAME"
    claims: dict = field(default_factory=dict)  # brief fields found, dotted ("pricing.entry") for nested ones
    links: dict = field(default_factory=dict)
    evidence: list[Fact] = field(default_factory=list)
    readme: str | None = None  # the README (or long description) as read, for a model to describe
    described_by: str | None = None  # "MODEL (run N)" when a model wrote the description

    @property
    def slug(self) -> str:
        return slugify(self.claims.get("name") or Path(self.source).resolve().name)

    @property
    def missing(self) -> list[str]:
        return [name for name in BRIEF_FIELDS if not self.claims.get(name)]

    def add(self, fact: str, value: str, source: str) -> None:
        try:
            self.evidence.append(Fact(fact=fact, value=value, source=source))
        except ValidationError:
            pass  # a value panel could not state in its own plain words is not evidence

    def to_yaml(self) -> str:
        """The brief for the editor to finish: every field present, the missing ones empty."""
        data = {"slug": self.slug}
        for name in ("name", "tagline", "category", "vendor", "description"):
            data[name] = self.claims.get(name, "")
        data["pricing"] = {"model": self.claims.get("pricing.model", ""), "entry": self.claims.get("pricing.entry", "")}
        data["licence"] = self.claims.get("licence", "")
        if self.links:
            data["links"] = self.links
        data["evidence"] = [fact.model_dump() for fact in self.evidence]
        missing = ", ".join(self.missing) or "nothing"
        header = (f"# Drafted by `panel briefs draft` from {self.source} on {date.today().isoformat()}.\n"
                  + (f"# The description was written by {self.described_by} from the README.\n"
                     if self.described_by else "")
                  + f"# Fill in: {missing} (the source has none).\n"
                  "# The fields above `evidence` are the project's own words; `evidence` is what panel read\n"
                  "# itself: keep it as it is. Then move this file to tool_briefs/ (`panel briefs validate`).\n")
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=88)


# --- a repository checkout ---------------------------------------------------------------------------


def from_checkout(folder: Path) -> Draft:
    folder = Path(folder)
    if not folder.is_dir():
        raise BriefError(f"{folder}: not a folder (give a repository checkout, or --from-dist NAME)")
    draft = Draft(source=str(folder))
    draft.add("checked on", date.today().isoformat(), "panel briefs draft")
    metadata_from_files(draft, folder)
    readme_claims(draft, folder)
    licence_evidence(draft, folder)
    git_evidence(draft, folder)
    layout_evidence(draft, folder)
    return draft


# A source names where a fact was read in panel's words: a file's own name is the vendor's text.
LICENCE_SOURCE = "the licence file (LICENSE, COPYING ...)"


def own_file(path: Path) -> bool:
    """A regular file of the project itself: a symlink (README.md -> /etc/passwd) is not read."""
    return path.is_file() and not path.is_symlink()


def metadata_from_files(draft: Draft, folder: Path) -> None:
    """Claims from the first package manifest found: pyproject.toml, package.json, Cargo.toml."""
    for name, read in (("pyproject.toml", _pyproject), ("package.json", _package_json), ("Cargo.toml", _cargo)):
        path = folder / name
        if own_file(path):
            try:
                found = read(path)
            except (ValueError, OSError, UnicodeDecodeError, AttributeError, TypeError) as exc:
                # AttributeError, TypeError: a table where a manifest has a string (`project = "x"`)
                raise BriefError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from None
            apply_metadata(draft, found, name)
            return


def apply_metadata(draft: Draft, found: dict, where: str) -> None:
    """found: name, summary, author, licence, version, links, python, from one manifest."""
    for key, claim in (("name", "name"), ("summary", "tagline"), ("author", "vendor")):
        value = _one_line(found.get(key))
        if value and len(value) <= 200:
            draft.claims[claim] = value
    licence = _one_line(found.get("licence"))
    if licence and SPDX_EXPRESSION.match(licence) and len(licence) <= 60:
        draft.claims["licence"] = licence  # the vendor's claim, read between the fence like any claim
        ids = set(licence.split()) - {"AND", "OR", "WITH"}
        draft.add("declared licence", licence if ids <= KNOWN_LICENCES else "given, not a known SPDX id", where)
    elif licence:
        draft.add("declared licence", "given, but not as an SPDX id", where)
    version = _one_line(found.get("version"))
    if version and VERSION.match(version):
        draft.add("version", version, where)
    python = _one_line(found.get("python"))
    if python and PYTHON_RANGE.match(python):
        draft.add("requires Python", python, where)
    for key, url in (found.get("links") or {}).items():
        if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 500:
            draft.links.setdefault(key, url)


def _pyproject(path: Path) -> dict:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    project = data.get("project") or data.get("tool", {}).get("poetry") or {}
    licence = project.get("license")
    if isinstance(licence, dict):
        licence = licence.get("text")
    authors = project.get("authors") or []
    author = authors[0] if isinstance(authors, list) and authors else None
    if isinstance(author, dict):
        author = author.get("name") or author.get("email")
    urls = {k.lower(): v for k, v in (project.get("urls") or {}).items()}
    for key in ("homepage", "repository"):
        if isinstance(project.get(key), str):
            urls.setdefault(key, project[key])
    return {"name": project.get("name"), "summary": project.get("description"), "author": _person(author),
            "licence": licence, "version": project.get("version"), "links": _home_links(urls),
            "python": project.get("requires-python")}


def _package_json(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    author = data.get("author")
    author = author.get("name") if isinstance(author, dict) else author
    repository = data.get("repository")
    repository = repository.get("url") if isinstance(repository, dict) else repository
    if isinstance(repository, str):
        repository = repository.removeprefix("git+")
    return {"name": data.get("name"), "summary": data.get("description"), "author": _person(author),
            "licence": data.get("license"), "version": data.get("version"),
            "links": _home_links({"homepage": data.get("homepage"), "repository": repository})}


def _cargo(path: Path) -> dict:
    package = tomllib.loads(path.read_text(encoding="utf-8")).get("package") or {}
    authors = package.get("authors") or []
    return {"name": package.get("name"), "summary": package.get("description"),
            "author": _person(authors[0] if isinstance(authors, list) and authors else None),
            "licence": package.get("license"),
            "version": package.get("version"),
            "links": _home_links({"homepage": package.get("homepage"), "repository": package.get("repository")})}


def _home_links(urls: dict) -> dict:
    """The tool's homepage and repository (and docs), under the names briefs use."""
    names = {"homepage": "homepage", "home": "homepage", "repository": "repository", "source": "repository",
             "source code": "repository", "code": "repository", "documentation": "docs", "docs": "docs"}
    return {names[key]: url for key, url in urls.items() if key in names and isinstance(url, str)}


def _person(text) -> str | None:
    """"Ann Lee <ann@x.org>" -> "Ann Lee"."""
    if not isinstance(text, str):
        return None
    name = re.sub(r"\s*[<(].*$", "", text).strip()
    return name if name and "@" not in name else None  # a bare e-mail address is not a vendor


def _one_line(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def readme_claims(draft: Draft, folder: Path) -> None:
    readme = next((folder / name for name in README_NAMES if own_file(folder / name)), None)
    if readme is None:
        draft.add("readme", "none found", "repository root")
        return
    text = readme.read_text(encoding="utf-8", errors="replace")
    draft.readme = text
    draft.add("readme", f"{readme.name}, {len(text.split())} words", readme.name)
    opening = first_paragraph(text)
    if opening:
        draft.claims["description"] = opening


def first_paragraph(text: str) -> str | None:
    """The README's first paragraph of prose: no headings, badges, images, HTML or code."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    in_code = False
    for paragraph in paragraphs:
        stripped = paragraph.strip()
        if "```" in stripped or "~~~" in stripped:
            in_code ^= (stripped.count("```") + stripped.count("~~~")) % 2 == 1
            continue
        if in_code or not stripped or stripped.startswith(("#", "![", "[![", "<", "=", "-" * 3, "..", ":", "|")):
            continue
        prose = " ".join(line.strip() for line in stripped.splitlines() if not set(line.strip()) <= set("=-~^*"))
        if len(prose.split()) >= 5:
            return prose[:MAX_DESCRIPTION].rsplit(" ", 1)[0] if len(prose) > MAX_DESCRIPTION else prose
    return None


def licence_evidence(draft: Draft, folder: Path) -> None:
    files = sorted(p for p in folder.iterdir() if own_file(p) and p.name.upper().startswith(LICENCE_PREFIXES))
    if not files:
        draft.add("licence file", "none found", "repository root")
        return
    read_as = licence_of(files[0].read_text(encoding="utf-8", errors="replace"))
    draft.add("licence file", read_as or "found, text not recognised", LICENCE_SOURCE)
    declared = draft.claims.get("licence")
    if read_as and declared and read_as != declared and read_as not in declared.split():
        said = declared if set(declared.split()) - {"AND", "OR", "WITH"} <= KNOWN_LICENCES else "otherwise"
        draft.add("licence check", f"declared {said}, but the file reads as {read_as}", LICENCE_SOURCE)
    elif read_as and not declared:
        draft.claims["licence"] = read_as


def licence_of(text: str) -> str | None:
    """The SPDX id a licence text reads as, from the phrases its text carries; None if none fits."""
    plain = " ".join(text.lower().split())
    for spdx, phrases in LICENCE_TEXTS:
        if all(phrase in plain for phrase in phrases):
            return spdx
    return None


def git(folder: Path, *args: str) -> str | None:
    """A git command's output in `folder`, or None (not a repository, no git, no commits)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_evidence(draft: Draft, folder: Path) -> None:
    if shutil.which("git") is None:
        draft.add("git history", "not read (git is not installed here)", "git")
        return
    top = git(folder, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != folder.resolve():
        draft.add("git history", "none (not the top of a git repository)", "git")
        return
    if git(folder, "rev-parse", "--is-shallow-repository") == "true":  # its few commits are not the history
        draft.add("git history", "not counted (a shallow clone)", "git")
        return
    dates = (git(folder, "log", "--format=%as") or "").split()
    if not dates:
        draft.add("git history", "no commits", "git log")
        return
    draft.add("first commit", dates[-1], "git log")
    draft.add("latest commit", dates[0], "git log")
    draft.add("commits", str(len(dates)), "git log")
    authors = {line.strip().lower() for line in (git(folder, "log", "--format=%aE") or "").splitlines() if line}
    draft.add("contributors", str(len(authors)), "git log (distinct author e-mails)")
    tags = (git(folder, "for-each-ref", "--sort=creatordate", "--format=%(creatordate:short)", "refs/tags") or "")
    tag_dates = tags.split()
    draft.add("releases (tags)", str(len(tag_dates)), "git tags")
    if tag_dates:
        draft.add("first release", tag_dates[0], "git tags")
        draft.add("latest release", tag_dates[-1], "git tags")


def layout_evidence(draft: Draft, folder: Path) -> None:
    tests = [name for name in ("tests", "test", "__tests__", "spec") if (folder / name).is_dir()]
    if tests:
        count = sum(1 for p in (folder / tests[0]).rglob("*") if p.is_file())
        draft.add("tests", f"yes, {_files(count)}", f"{tests[0]}/")
    else:
        draft.add("tests", "none found", "repository root (tests/, test/, __tests__/, spec/)")
    docs = [name for name in ("docs", "doc", "documentation") if (folder / name).is_dir()]
    if docs:
        count = sum(1 for p in (folder / docs[0]).rglob("*") if p.is_file())
        draft.add("docs", f"yes, {_files(count)}", f"{docs[0]}/")
    else:
        draft.add("docs", "none found", "repository root (docs/, doc/)")


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


# --- an installed distribution -----------------------------------------------------------------------


def from_distribution(name: str) -> Draft:
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BriefError(f"--from-dist {name!r}: no such distribution is installed in this environment") from None
    meta = dist.metadata
    where = f"{meta['Name']} {meta['Version']} METADATA"
    draft = Draft(source=f"the installed distribution {meta['Name']} {meta['Version']}")
    draft.add("checked on", date.today().isoformat(), "panel briefs draft")
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    if meta.get("Home-page"):
        urls.setdefault("homepage", meta.get("Home-page"))
    author = meta.get("Author") or _person(meta.get("Author-email")) or meta.get("Maintainer")
    declared = [_one_line(meta.get("License-Expression")), _one_line(meta.get("License")), _classifier_licence(meta)]
    spdx = [text for text in declared if text and SPDX_EXPRESSION.match(text)]
    licence = (spdx or [text for text in declared if text] or [None])[0]
    apply_metadata(draft, {"name": meta.get("Name"), "summary": meta.get("Summary"), "author": _person(author),
                           "licence": licence,
                           "version": meta.get("Version"), "python": meta.get("Requires-Python"),
                           "links": _home_links(urls)}, where)
    draft.readme = meta.get_payload() or meta.get("Description") or None
    opening = first_paragraph(draft.readme or "")
    if opening:
        draft.claims["description"] = opening
    files = [str(f) for f in dist.files or []]
    licences = [f for f in files if Path(f).name.upper().startswith(LICENCE_PREFIXES)]
    if licences:
        text = dist.locate_file(licences[0]).read_text(encoding="utf-8", errors="replace")
        draft.add("licence file", licence_of(text) or "found, text not recognised", LICENCE_SOURCE)
    else:
        draft.add("licence file", "none in the installed files", "RECORD")
    tests = [f for f in files if "/tests/" in f or Path(f).name.startswith("test_")]
    draft.add("tests", f"{_files(len(tests))} of tests installed" if tests else "none installed", "RECORD")
    draft.add("release dates", "not recorded in installed metadata", where)
    return draft


def _classifier_licence(meta) -> str | None:
    """The licence a Trove classifier names, for the common ones."""
    names = {"MIT License": "MIT", "Apache Software License": "Apache-2.0", "BSD License": "BSD",
             "ISC License (ISCL)": "ISC", "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0"}
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            return names.get(classifier.rsplit("::", 1)[-1].strip())
    return None
