"""The pages in a real browser: headless Chromium renders them, and we read back the DOM it built.

`--dump-dom` prints the document after the browser has parsed it and run whatever scripts it
would run, so a hostile brief that managed to execute would show up there (a changed title, an
injected element). A control page proves the harness does notice a script that runs.
Screenshots go to outputs/screenshots/ when run locally (a temp folder in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from panel.models import scripted
from test_compare import CALLS, reviewer, write_catalogue, write_hostile

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; CI has it)"),
]


def chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(page: Path) -> str:
    return chromium("--dump-dom", page.resolve().as_uri())


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    chromium(f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri())
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    return out


class DomReader(HTMLParser):
    """The rendered DOM: its title, visible text, element names and ids."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.text: list[str] = []
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(v for k, v in attrs if k == "id")
        if tag in ("title", "style", "svg"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self._in == ["title"]:  # the page's title, not an SVG bar's tooltip
            self.title += data
        elif "style" not in self._in and "svg" not in self._in:
            self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def read_dom(page: Path) -> DomReader:
    reader = DomReader()
    reader.feed(dump_dom(page))
    return reader


@pytest.fixture
def shots(tmp_path) -> Path:
    return tmp_path / "screenshots" if os.environ.get("CI") else REPO / "outputs" / "screenshots"


@pytest.fixture
def pages(workspace, run_cli, make_brief) -> Path:
    """Two reviewed tools (alpha-lm and beta-lm: four seats each, 3 of 4 ship) and a hostile one,
    their comparisons, votes and the site."""
    write_catalogue(make_brief)
    write_hostile(workspace)
    scripted.script("panel", reviewer(CALLS))
    assert run_cli("review", "alpha-lm", "beta-lm", "evil-tool", "--model", "scripted/panel").exit_code == 0
    assert run_cli("publish", "alpha-lm", "beta-lm", "evil-tool").exit_code == 0
    for voter, choice in (("a", "ship"), ("b", "ship"), ("c", "skip"), ("d", "ship")):
        assert run_cli("vote", "alpha-lm", choice, "--voter", voter).exit_code == 0
    assert run_cli("compare", "alpha-lm", "beta-lm").exit_code == 0
    assert run_cli("compare", "evil-tool", "alpha-lm").exit_code == 0
    assert run_cli("site").exit_code == 0
    return workspace / "outputs"


def test_harness_detects_a_script_that_runs(tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<!doctype html><title>safe</title><body><script>document.title='PWNED';"
                       "document.body.insertAdjacentHTML('beforeend','<p id=pwned>x</p>')</script></body>")
    dom = read_dom(control)
    assert dom.title == "PWNED" and "pwned" in dom.ids


def test_comparison_page_renders_both_tools_and_every_persona(pages, shots):
    page = pages / "compare" / "alpha-lm-vs-beta-lm.html"
    dom = read_dom(page)
    assert dom.title == "Alpha LM vs Beta LM"
    text = dom.words
    for expected in ("Alpha LM vs Beta LM", "Which one should you ship with?", "Open Models",
                     "75% Panel ship 4/4 reported", "75% Community 4 votes", "— Community no votes yet",
                     "Free Entry Apache-2.0", "Pricing read", "Reviewer split", "Reviewer scorecard",
                     "Community vote comparison", "The panel rates Alpha LM and Beta LM level at 75% ship"):
        assert expected in text, expected
    for title in ("Builder", "Skeptic", "Futurist", "Business Analyst", "Creative Technologist"):
        assert f"{title} says" in text, title  # each seated persona's headline is on the page
    assert dom.tags.count("svg") >= 4  # a panel and a community bar per tool
    screenshot(page, shots / "compare-laptop.png", 1366, 3000)
    screenshot(page, shots / "compare-phone.png", 390, 7000)


def test_hostile_brief_runs_no_script(pages, shots):
    page = pages / "compare" / "alpha-lm-vs-evil-tool.html"
    dom = read_dom(page)
    assert dom.title == "Alpha LM vs Evil <b>Tool</b>"
    assert "pwned" not in dom.ids
    assert "script" not in dom.tags and "img" not in dom.tags and "b" not in dom.tags
    assert "<script>document.title='PWNED'" in dom.words  # shown to the reader as text
    assert "<img src=x onerror=\"document.title='PWNED'\">" in dom.words
    site_page = read_dom(pages / "site" / "tools" / "evil-tool.html")
    assert site_page.title.startswith("Evil <b>Tool</b>") and "pwned" not in site_page.ids
    screenshot(page, shots / "hostile-compare.png", 1366, 1600)


def test_site_index_renders_every_tool(pages, shots):
    page = pages / "site" / "index.html"
    dom = read_dom(page)
    assert dom.title == "Tools by panel ship % · Panel verdicts"
    text = dom.words
    for name in ("Alpha LM", "Beta LM", "Evil <b>Tool</b>"):
        assert name in text
    assert "75% 4/4 75% 4 votes Free" in text  # Alpha LM's row: panel, community, entry
    assert "75% 4/4 — no votes Free" in text  # Beta LM's row
    assert "Sort by: Panel ship % Community % Entry price Name" in text
    assert "Alpha LM vs Beta LM" in text and "pwned" not in dom.ids
    screenshot(page, shots / "site-index-laptop.png", 1366, 1000)
    screenshot(page, shots / "site-index-phone.png", 390, 1800)


def test_page_wording_reads_as_a_reader_expects(workspace, run_cli, make_brief, shots):
    """Issue 22's page wording, read off the rendered pages: no "Proprietary (proprietary)", no
    "starts at Free", the closing paragraph does not repeat the answer word for word, a long entry
    price gets a smaller tile font, and the site's list of comparisons says who was picked."""
    write_catalogue(make_brief)
    make_brief("vault", name="Vault Box", licence="Proprietary", panel=["builder", "skeptic", "futurist"],
               pricing={"model": "hardware", "entry": "$9,999 non-refundable deposit"})
    scripted.script("panel", reviewer(CALLS))
    assert run_cli("review", "alpha-lm", "vault", "epsilon", "--model", "scripted/panel").exit_code == 0
    assert run_cli("publish", "alpha-lm", "vault", "epsilon").exit_code == 0
    assert run_cli("compare", "alpha-lm", "vault").exit_code == 0
    assert run_cli("compare", "alpha-lm", "epsilon").exit_code == 0
    assert run_cli("site").exit_code == 0
    page = workspace / "outputs" / "compare" / "alpha-lm-vs-vault.html"
    text = read_dom(page).words
    assert "Proprietary (proprietary)" not in text and "Apache-2.0 (permissive open source)" in text
    assert "starts at Free" not in text and "Alpha LM is free and Vault Box starts at $9,999" in text
    answer = read_dom(workspace / "outputs" / "compare" / "alpha-lm-vs-epsilon.html").words
    assert answer.count("It is a tie: of the") == 1 and "Head to head: tie." in answer
    assert 'class="big long">$9,999 non-refundable deposit' in page.read_text()
    index = read_dom(workspace / "outputs" / "site" / "index.html").words
    assert "pick tie · position consistency" in index
    tool = read_dom(workspace / "outputs" / "site" / "tools" / "vault.html").words
    assert "licence Proprietary" in tool and "(proprietary)" not in tool
    screenshot(page, shots / "compare-long-price.png", 1366, 1400)


def test_a_correction_a_stale_comparison_and_the_digest_read_as_a_reader_expects(workspace, run_cli, make_brief,
                                                                                  shots):
    """Issue 21's pages in Chromium: a tool page with a dated correction, a comparison whose
    head-to-head predates that correction, and the email digest of the week."""
    write_catalogue(make_brief)
    scripted.script("panel", reviewer(CALLS))
    assert run_cli("review", "alpha-lm", "beta-lm", "--model", "scripted/panel").exit_code == 0
    assert run_cli("publish", "alpha-lm", "beta-lm").exit_code == 0
    assert run_cli("compare", "alpha-lm", "beta-lm").exit_code == 0
    scripted.script("panel", reviewer({**CALLS, ("Alpha LM", "Skeptic"): "skip", ("Alpha LM", "Futurist"): "skip"}))
    assert run_cli("review", "alpha-lm", "--model", "scripted/panel", "--fresh").exit_code == 0
    assert run_cli("publish", "alpha-lm", "--note", "The vendor's benchmark could not be reproduced").exit_code == 0
    assert run_cli("site").exit_code == 0
    digest = run_cli("digest", "--since", "7d")
    assert digest.exit_code == 0
    site = workspace / "outputs" / "site"

    tool = read_dom(site / "tools" / "alpha-lm.html")
    assert "Updated" in tool.words and "What changed" in tool.words
    assert "The panel's call: ship → skip." in tool.words
    assert "Calls changed: skeptic ship → skip; futurist ship → skip." in tool.words
    assert "Panel ship 75% → 25%." in tool.words and "The vendor's benchmark could not be reproduced" in tool.words
    assert "#" not in tool.words.split("How this panel was judged")[1].split("Each seated")[0]  # no verdict ids
    screenshot(site / "tools" / "alpha-lm.html", shots / "site-tool-correction.png", 1366, 2400)

    pair = read_dom(site / "compare" / "alpha-lm-vs-beta-lm.html")
    assert "since then the panel of Alpha LM has changed. The pick may not hold for the panels shown." in pair.words
    assert "25% Panel ship" in pair.words and "panel compare" not in pair.words  # no commands for readers
    screenshot(site / "compare" / "alpha-lm-vs-beta-lm.html", shots / "site-compare-stale.png", 1366, 1600)

    mail = read_dom(Path(digest.stdout.strip()).with_suffix(".html"))
    assert mail.title.startswith("Panel verdicts: what was published since")
    assert "Verdict: Alpha LM — 25% ship" in mail.words and "Verdict: Beta LM — 75% ship" in mail.words
    assert "script" not in mail.tags and "img" not in mail.tags
    screenshot(Path(digest.stdout.strip()).with_suffix(".html"), shots / "digest.png", 700, 1400)
