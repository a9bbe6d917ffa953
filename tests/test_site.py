"""`panel site`: every page is built from the store, links resolve, nothing is fetched from outside."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from panel.models import scripted
from test_compare import CALLS, reviewer, write_catalogue, write_hostile

REPO = Path(__file__).resolve().parents[1]


class PageParser(HTMLParser):
    """Links, ids, headings and resource references in one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs: list[tuple[str, str]] = []  # (tag, href)
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.sources: list[str] = []
        self.attrs: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attrs.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "href" in attrs:
            self.hrefs.append((tag, attrs["href"]))
        for name in ("src", "srcset", "poster", "data", "action", "formaction"):
            if name in attrs:
                self.sources.append(f"{tag}[{name}]={attrs[name]}")

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def build(workspace: Path, run_cli, make_brief) -> Path:
    """alpha-lm and beta-lm seat four (3 of 4 ship each), gamma and epsilon ($20 per month) five
    (all ship); two comparisons; three votes on gamma."""
    write_catalogue(make_brief)
    scripted.script("panel", reviewer(CALLS))
    assert run_cli("review", "alpha-lm", "beta-lm", "gamma", "epsilon", "--model",
                   "scripted/panel").exit_code == 0
    assert run_cli("publish", "alpha-lm", "beta-lm", "gamma", "epsilon").exit_code == 0
    assert run_cli("compare", "alpha-lm", "beta-lm").exit_code == 0
    assert run_cli("compare", "gamma", "epsilon", "alpha-lm").exit_code == 0
    for voter, choice in (("a", "ship"), ("b", "ship"), ("c", "skip")):
        assert run_cli("vote", "gamma", choice, "--voter", voter).exit_code == 0
    res = run_cli("site")
    assert res.exit_code == 0, res.output
    site = workspace / "outputs" / "site"
    assert res.stdout.strip() == str(site / "index.html")
    return site


def check_links(site: Path) -> int:
    """Every relative link in every page points at a file that exists, and at an id in it."""
    checked = 0
    pages = {p: parse(p) for p in site.rglob("*.html")}
    for page, parsed in pages.items():
        for tag, href in parsed.hrefs:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https"):
                assert tag == "a", f"{page}: external {tag} reference {href}"
                continue
            assert not parts.scheme and not parts.netloc, f"{page}: unexpected link {href}"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            assert target.is_file(), f"{page.relative_to(site)}: dead link {href}"
            assert site.resolve() in target.parents, f"{page}: link leaves the site: {href}"
            if parts.fragment:
                assert parts.fragment in pages[target].ids, f"{page.relative_to(site)}: no #{parts.fragment} in {href}"
            checked += 1
    return checked


def test_site_has_every_page_and_no_dead_links(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)
    names = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    assert names == [
        "compare/alpha-lm-vs-beta-lm.html", "compare/alpha-lm-vs-epsilon-vs-gamma.html",
        "index-community.html", "index-name.html", "index-price.html", "index.html", "methodology.html",
        "tools/alpha-lm.html", "tools/beta-lm.html", "tools/epsilon.html", "tools/gamma.html",
    ]
    assert check_links(site) > 40
    method = " ".join(" ".join(parse(site / "methodology.html").text).split())
    assert "have not yet been measured against the editors' own calls" in method and "No ship % is shown from fewer" \
        " than 3 verdicts" in method


def test_pages_are_self_contained(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)
    for page in site.rglob("*.html"):
        text = page.read_text()
        parsed = parse(page)
        assert parsed.sources == [], f"{page}: loads {parsed.sources}"
        assert "script" not in parsed.tags and "iframe" not in parsed.tags
        links = [attrs for tag, attrs in parsed.attrs if tag == "link"]  # the feed's address only: loads nothing
        assert all(a.get("rel") == "alternate" and a.get("type") == "application/atom+xml" for a in links), links
        assert "@import" not in text and "url(" not in text
        assert "script-src" not in text and "default-src 'none'" in text  # the CSP forbids scripts outright


def test_index_is_sorted_and_linkable(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)

    def order(name: str) -> list[str]:
        html = (site / name).read_text()
        return re.findall(r'<tr id="([a-z0-9-]+)">', html)

    # Gamma and Epsilon Pro ship 5/5, Alpha LM and Beta LM 3/4: highest first.
    by_panel = order("index.html")
    assert set(by_panel) == {"alpha-lm", "beta-lm", "gamma", "epsilon"}
    pcts = [float(re.search(rf'<tr id="{s}">.*?<strong>(\d+)%</strong>', (site / "index.html").read_text(), re.S)
                  .group(1)) for s in by_panel]
    assert pcts == sorted(pcts, reverse=True)
    assert order("index-community.html")[0] == "gamma"  # the only tool with votes
    assert order("index-price.html")[-1] == "epsilon"  # $20 per month after the free ones
    assert order("index-name.html") == ["alpha-lm", "beta-lm", "epsilon", "gamma"]  # Alpha LM ... Gamma
    index = (site / "index.html").read_text()
    assert '<a href="index-price.html">Entry price</a>' in index and 'aria-current="page">Panel ship %' in index
    assert "67%</strong> <span class=\"muted small\">3 votes" in index


def test_tool_page_has_latest_panel_and_history(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)
    scripted.script("next", reviewer({**CALLS, ("Alpha LM", "Business Analyst"): "ship"}))
    assert run_cli("review", "alpha-lm", "--model", "scripted/next").exit_code == 0
    assert run_cli("site").exit_code == 0
    text = " ".join(" ".join(parse(site / "tools" / "alpha-lm.html").text).split())
    assert "3 of 4 reviewers who reported say ship (75%" in text  # the new review is a draft
    assert run_cli("publish", "alpha-lm").exit_code == 0
    assert run_cli("site").exit_code == 0
    page = (site / "tools" / "alpha-lm.html").read_text()
    text = " ".join(" ".join(parse(site / "tools" / "alpha-lm.html").text).split())
    assert "<h1>Alpha LM</h1>" in page
    assert "4 of 4 reviewers who reported say ship (100%" in text
    assert "Calls changed: business skip → ship." in text and "Model: scripted/panel → scripted/next." in text
    assert "first publication" in text and "Panel ship 75% → 100%." in text
    assert 'href="../compare/alpha-lm-vs-beta-lm.html"' in page
    for title in ("Builder", "Skeptic", "Futurist", "Business Analyst"):
        assert f'<a href="#persona-{title.split()[0].lower()}">{title}</a>' in page


def test_site_comparisons_use_current_votes(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)
    page = (site / "compare" / "alpha-lm-vs-epsilon-vs-gamma.html").read_text()
    assert '<a href="../tools/gamma.html">Gamma</a>' in page
    text = " ".join(" ".join(parse(site / "compare" / "alpha-lm-vs-epsilon-vs-gamma.html").text).split())
    assert "The community is cooler on Gamma than the panel: 67% ship over 3 votes" in text


def test_pages_have_accessible_structure(workspace, run_cli, make_brief):
    site = build(workspace, run_cli, make_brief)
    for page in site.rglob("*.html"):
        parsed = parse(page)
        html = page.read_text()
        assert '<html lang="en">' in html and 'name="viewport"' in html
        assert parsed.tags.count("h1") == 1, page
        assert parsed.tags.count("main") == 1
        for tag, attrs in parsed.attrs:
            if tag == "svg":
                assert attrs.get("role") == "img" and attrs.get("aria-label"), page
            if tag == "th" and not attrs.get("scope"):
                pytest.fail(f"{page}: a table header without scope")
        headings = [int(t[1]) for t in parsed.tags if re.fullmatch(r"h[1-6]", t)]
        assert all(b - a <= 1 for a, b in zip(headings, headings[1:])), f"{page}: skipped heading level"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_colour_contrast_meets_wcag_aa_in_light_and_dark():
    css = (REPO / "src" / "panel" / "templates" / "site" / "_base.html.j2").read_text()
    light, dark = re.findall(r":root \{(.*?)\}", css, re.S)
    for block in (light, dark):
        colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", block))
        for fg, bg in [("text", "bg"), ("text", "card"), ("muted", "bg"), ("muted", "card"), ("accent", "card"),
                       ("accent", "bg"), ("ship-fg", "ship-bg"), ("skip-fg", "skip-bg"), ("none-fg", "none-bg"),
                       ("text", "warn-bg"), ("text", "note-bg"), ("muted", "none-bg")]:
            assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg)
        for mark in ("ship", "skip", "other"):  # bar segments are graphics: 3:1 against the card
            assert contrast(colours[mark], colours["card"]) >= 3, mark


def test_hostile_brief_renders_as_text_on_every_page(workspace, run_cli, make_brief):
    write_catalogue(make_brief)
    write_hostile(workspace)
    scripted.script("panel", reviewer(CALLS))
    assert run_cli("review", "evil-tool", "alpha-lm", "--model", "scripted/panel").exit_code == 0
    assert run_cli("publish", "evil-tool", "alpha-lm").exit_code == 0
    assert run_cli("compare", "evil-tool", "alpha-lm").exit_code == 0
    assert run_cli("site").exit_code == 0
    site = workspace / "outputs" / "site"
    for page in site.rglob("*.html"):
        parsed = parse(page)
        assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags, page
    text = " ".join(parse(site / "tools" / "evil-tool.html").text)
    assert "<script>document.title='PWNED'" in text and 'onerror="document.title=' in text
    assert check_links(site) > 10


def test_site_needs_a_database(workspace, run_cli):
    res = run_cli("site")
    assert res.exit_code == 2 and "no panel database yet" in res.stderr
    assert not (workspace / "outputs" / "site").exists()


def _panel_figures(page: Path) -> list[tuple[str, str]]:
    """(ship %, reported/seated) of every panel figure a page shows, in page order."""
    text = " ".join(re.sub(r"<[^>]+>", " ", page.read_text()).split())
    return re.findall(r"(\d+%|—) (?:Panel ship )?(\d+/\d+)(?: reported)?", text)


def test_side_runs_never_change_the_public_figure_and_stale_comparisons_say_so(workspace, run_cli, make_brief):
    """Compared once by one model and once, with another tool, by a model that skips everything, a
    tool read 100% on one comparison page and 0% on the index. Now side runs (--model) make drafts:
    every page shows the published panel, a side-run comparison is not on the site, and a
    comparison judged before a tool was republished says so, dated."""
    write_catalogue(make_brief)
    scripted.script("kind", reviewer(CALLS, default="ship"))
    scripted.script("harsh", reviewer({}, default="skip"))
    assert run_cli("review", "gamma", "delta", "epsilon", "--model", "scripted/kind").exit_code == 0
    assert run_cli("publish", "gamma", "delta", "epsilon").exit_code == 0
    assert run_cli("compare", "gamma", "delta").exit_code == 0  # over the published panels
    assert run_cli("compare", "epsilon", "delta", "--model", "scripted/harsh").exit_code == 0  # a side run
    res = run_cli("site")
    assert res.exit_code == 0
    assert "delta: a newer draft" in res.stderr and "delta-vs-epsilon: compared only over drafts" in res.stderr
    site = workspace / "outputs" / "site"
    assert not (site / "compare" / "delta-vs-epsilon.html").exists()
    index_row = re.search(r"Delta.*?(\d+%) (\d+/\d+)", " ".join(re.sub(r"<[^>]+>", " ",
                                                                      (site / "index.html").read_text()).split()))
    assert index_row.groups() == ("100%", "5/5")
    assert _panel_figures(site / "tools" / "delta.html")[0] == ("100%", "5/5")
    assert _panel_figures(site / "compare" / "delta-vs-gamma.html")[0] == ("100%", "5/5")
    assert "since then" not in (site / "compare" / "delta-vs-gamma.html").read_text()
    # Delta's harsh draft published (its call moves: a note): the comparison is now stale, and says so.
    assert run_cli("publish", "delta", "--note", "a stricter second look").exit_code == 0
    res = run_cli("site")
    assert "delta-vs-gamma: stale head-to-head" in res.stderr
    stale = (site / "compare" / "delta-vs-gamma.html").read_text()
    assert "over the panels published then; since then the panel of Delta has changed." in stale
    assert _panel_figures(site / "compare" / "delta-vs-gamma.html")[0] == ("0%", "5/5")
