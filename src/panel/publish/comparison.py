"""Comparison write-ups: two or more reviewed tools side by side, built only from stored data.

`build_comparison` gathers everything a reader needs into a `Comparison` (panel verdicts,
prices and licences, the reviewer split, every rationale, community votes, fairness caveats and
a closing verdict written from those numbers by panel.publish.prose). The Markdown and HTML
pages only render it, and `--json` dumps it, so all three always say the same thing. An optional
editor model may add a summary on top (panel.publish.editor); it is stored next to the data and
never replaces any of it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ..core.vendors import conflict
from ..core.errors import CompareError
from ..core.panel import PanelResult
from ..core.tally import Tally
from ..store import queries
from ..store import stored_panels
from .headtohead_view import HeadToHeadView, head_to_head_view
from .pricing import PricingRead, pricing_read
from .prose import DISAGREE_POINTS, answer, closing_verdict, community_note, fairness_notes
from ..core.files import write_atomic
from .render import render_html, render_markdown

Outcome = Literal["ship", "skip", "split", "unscored", "error", "not seated", "recused"]
QUESTION = "Which one should you ship with?"
INTRO = ("Below: what the panel decided, what each tool costs to ship with, where the reviewers parted ways and"
         " how the community voted, all from the stored reviews.")


# --- the data behind the page ------------------------------------------------------------------------


class PersonaVerdict(BaseModel):
    persona: str
    title: str
    outcome: Outcome
    confidence: float | None = None
    headline: str | None = None
    rationale: str | None = None
    strengths: list[str] = []
    risks: list[str] = []
    competitors: list[str] = []
    error: str | None = None
    model: str | None = None
    persona_version: str | None = None
    verdict_id: int | None = None
    made_at: str | None = None
    prompt_date: str | None = None  # when this persona version was first used: pages name prompts by date
    last_failure: dict | None = None  # an attempt newer than this verdict that failed: shown beside it
    samples: int = 1  # with --samples K: the seat's answers; `agree` of them gave its verdict
    agree: int = 1
    jury: str | None = None  # a seat held by a jury: each juror's vote ("m1 ship · m2 skip · m3 recused")
    conflict: str | None = None  # the model that wrote it is made by the tool's vendor


class PanelSummary(BaseModel):
    verdict_ids: list[int]  # the current verdicts shown (see `panel audit history`)
    reviewed_at: str | None  # when the newest of them was made
    seated: list[str]
    reported: int
    ships: int
    skips: int
    ship_pct: float | None
    interval: tuple[float, float]
    complete: bool
    models: list[str]
    verdicts: list[PersonaVerdict]  # one per seated persona, in seating order
    withheld: str | None = None  # why no ship % is shown (fewer counted verdicts than the quorum)


class Community(BaseModel):
    votes: int
    ships: int
    skips: int
    pct: float | None  # None: nobody has voted
    interval: tuple[float, float] | None


class ToolColumn(BaseModel):
    slug: str
    name: str
    tagline: str
    category: str
    vendor: str
    description: str
    links: dict[str, str]
    pricing: PricingRead
    panel: PanelSummary
    community: Community
    brief_changed: bool = False  # the brief file differs from the one this panel judged
    evidence: list[dict] = []  # what panel read itself (fact, value, source), shown apart from the claims


class SplitRow(BaseModel):
    persona: str
    title: str
    outcomes: dict[str, Outcome]  # slug -> outcome
    split: bool  # shipped at least one tool and skipped another


class CommunityRow(BaseModel):
    slug: str
    name: str
    panel_pct: float | None
    community_pct: float | None
    votes: int
    gap: float | None  # community minus panel, in points
    disagrees: bool


class EditorNote(BaseModel):
    model: str
    summary: str
    written_at: str
    current: bool  # False: written for earlier panels or votes than the data shown


class Comparison(BaseModel):
    slugs: list[str]
    title: str
    question: str
    intro: str
    generated_at: str
    tools: list[ToolColumn]
    split: list[SplitRow]
    split_personas: list[str]
    community: list[CommunityRow]
    community_notes: list[str]
    fairness: list[str]  # caveats; empty when every tool was judged the same way
    judged_alike: str  # one sentence on how the tools were judged
    verdict: str
    basis: dict[str, list]  # slug -> [its verdict ids, votes, ship votes]: what an editor summary was written for
    head_to_head: list[HeadToHeadView] = []  # every pair of tools, judged directly by the personas
    # How it was judged, kept with the stored data so that the site rebuilds the same page.
    judges: dict[str, str] = {}  # persona -> the prompt version that judged the pairs
    published: bool = False  # judged over the tools' published panels
    model: str | None = None  # `panel compare --model`: whose verdicts the panels show
    recuse: bool = False
    seat_models: dict[str, dict[str, str]] = {}  # --conflict-model: slug -> persona -> model
    # On the site: why the head-to-head judgments are older than the panels shown (None: they match).
    judged_on_earlier_panels: str | None = None
    answer: str = ""  # the computed answer to the question, from the head-to-head picks
    editor: EditorNote | None = None

    @property
    def name(self) -> str:
        return comparison_name(self.slugs)

    @property
    def names(self) -> dict[str, str]:
        """Each tool's name, by slug."""
        return {t.slug: t.name for t in self.tools}

    def tool(self, slug: str) -> ToolColumn:
        return next(t for t in self.tools if t.slug == slug)


def comparison_name(slugs: list[str]) -> str:
    return "-vs-".join(slugs)


def canonical(slugs: list[str]) -> list[str]:
    """One comparison per set of tools, whatever order they were named in: the tools in slug order
    (which is also the order the pages show them in)."""
    return sorted(slugs)


# --- gathering from the store -----------------------------------------------------------------------


def persona_titles(db, versions: set[str]) -> dict[str, str]:
    """Display titles ("Business Analyst") from the persona files stored with each version."""
    titles = {}
    for version, fields in queries.persona_fields(db, versions).items():
        title = fields.get("title")
        if isinstance(title, str) and title.strip():
            titles[version] = title.strip()
    return titles


def panel_summary(db, panel: PanelResult, vendor: str = "", recuse: bool = False) -> PanelSummary:
    """A tool's panel as the page shows it. A seat whose model's vendor made the tool is flagged;
    with `recuse` it is shown as recused and left out of the counts."""
    conflicts = {}
    for r in panel.results:
        maker = conflict(r.model, vendor) if r.status == "ok" else None
        if maker:
            conflicts[r.persona] = f"written by {r.model}, a {maker} model, about a {vendor} tool"
    titles = persona_titles(db, {r.persona_version for r in panel.results})
    first_used = queries.persona_first_seen(db, {r.persona_version for r in panel.results})
    title_of = {r.persona: titles.get(r.persona_version, r.persona.replace("-", " ").title()) for r in panel.results}
    if recuse:
        counted = [r for r in panel.results if not conflicts.get(r.persona)]
        panel = replace(panel, results=counted, seated=[p for p in panel.seated if not conflicts.get(p)])
    results = panel.ordered()
    verdicts = []
    for r in results:
        v = r.verdict
        verdicts.append(PersonaVerdict(
            persona=r.persona, title=title_of[r.persona],
            outcome=r.decision or r.status, confidence=v.confidence if v else None, conflict=conflicts.get(r.persona),
            headline=v.headline if v else None, rationale=v.rationale if v else None,
            strengths=v.strengths if v else [], risks=v.risks if v else [],
            competitors=v.competitors if v else [], error=r.error, model=r.model,
            persona_version=r.persona_version, verdict_id=r.verdict_id, made_at=r.made_at,
            prompt_date=first_used.get(r.persona_version),
            last_failure=r.last_failure.to_json() if r.last_failure else None,
            samples=len(r.sampled) if r.sampled else 1,
            agree=max(r.sampled.count("ship"), r.sampled.count("skip")) if r.sampled else 1,
            jury=r.jury_votes(),
        ))
    verdicts += [PersonaVerdict(persona=p, title=title_of[p], outcome="recused", conflict=conflicts[p])
                 for p in conflicts if recuse]
    return PanelSummary(
        verdict_ids=panel.verdict_ids(), reviewed_at=panel.reviewed_at,
        seated=list(panel.seated), reported=panel.reported, ships=panel.ships, skips=panel.reported - panel.ships,
        ship_pct=panel.ship_pct, interval=panel.interval, complete=panel.complete, models=panel.models,
        verdicts=verdicts,
    )


def withhold_below_quorum(summary: PanelSummary, quorum: int | None) -> PanelSummary:
    """No ship % is published from fewer than `quorum` counted verdicts: the summary keeps its
    verdicts and says why it shows no figure."""
    if quorum is None or summary.reported >= quorum:
        return summary
    counted = f"{summary.reported} verdict{'s' if summary.reported != 1 else ''} counted"
    return summary.model_copy(update={
        "ship_pct": None, "interval": (0.0, 0.0),
        "withheld": f"No ship % yet: {counted}, and a ship % is published from {quorum}.",
    })


def community_of(tally: Tally) -> Community:
    return Community(votes=tally.votes, ships=tally.ships, skips=tally.skips, pct=tally.pct, interval=tally.interval)


def tool_column(db, panel: PanelResult, tally: Tally, current_hash: str | None, recuse: bool = False,
                quorum: int | None = None) -> ToolColumn:
    """One tool's column, from a panel (its published one on the site; its standing one,
    panel.store.stored_panels.current_panel, in `panel compare`). With `quorum`, a panel with fewer
    counted verdicts shows no ship %."""
    slug = panel.slug
    brief = queries.brief_json(db, panel.brief_hash)
    if brief is None:  # cannot happen through the CLI: a panel's brief is stored before the panel
        raise CompareError(f"'{slug}': the stored panel has no stored brief")
    return ToolColumn(
        slug=slug, name=brief["name"], tagline=brief["tagline"], category=brief["category"],
        vendor=brief["vendor"], description=brief["description"], links=brief.get("links") or {},
        evidence=brief.get("evidence") or [],
        pricing=pricing_read(brief["pricing"], brief["licence"]),
        panel=withhold_below_quorum(panel_summary(db, panel, brief["vendor"], recuse), quorum),
        community=community_of(tally),
        brief_changed=current_hash is not None and current_hash != panel.brief_hash,
    )


def check_slugs(slugs: list[str]) -> None:
    if len(slugs) < 2:
        raise CompareError("compare needs at least two tools")
    repeated = sorted({s for s in slugs if slugs.count(s) > 1})
    if repeated:
        raise CompareError(f"a tool is named twice: {', '.join(repeated)}")


def standing_panels(db, slugs: list[str], model: str | None = None) -> dict[str, PanelResult | None]:
    """Each tool's current panel, or None when it has no verdict yet (nothing, or only failures)."""
    panels = {slug: stored_panels.current_panel(db, slug, model) for slug in slugs}
    return {slug: panel if panel is not None and panel.reported else None for slug, panel in panels.items()}


def missing_panels(db, slugs: list[str], model: str | None = None) -> list[str]:
    return [slug for slug, panel in standing_panels(db, slugs, model).items() if panel is None]


def build_comparison(db, slugs: list[str], current_hashes: dict[str, str] | None = None,
                     model: str | None = None, matches: list | None = None, recuse: bool = False,
                     seat_models: dict[str, dict[str, str]] | None = None,
                     panels: dict[str, PanelResult] | None = None, quorum: int | None = None) -> Comparison:
    """Everything the comparison page shows, from the given `panels` (the published ones) or each
    tool's current verdicts (of `model` if given; a seat in `seat_models`, slug -> persona -> model,
    from that model instead: --conflict-model), and the head-to-head answers (`matches`:
    panel.analysis.headtohead.HeadToHead, one per pair)."""
    check_slugs(slugs)
    panels = dict(panels) if panels is not None else standing_panels(db, slugs, model)
    for slug, panel in panels.items():
        if panel is None:
            made = f" by {model}" if model else ""
            raise CompareError(f"'{slug}' has no verdict{made} yet; run `panel review {slug}` first")
    for slug in slugs:
        panels[slug] = _with_seat_models(db, panels[slug], (seat_models or {}).get(slug, {}))
    counts = queries.tallies(db, slugs)
    hashes = current_hashes or {}
    tools = [tool_column(db, panels[s], counts[s], hashes.get(s), recuse, quorum) for s in slugs]
    split = split_rows(tools)
    community, community_notes = community_read(tools)
    fairness, alike = fairness_notes(tools)
    comparison = Comparison(
        slugs=list(slugs), title=" vs ".join(t.name for t in tools), question=QUESTION, intro=INTRO,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), tools=tools, split=split,
        split_personas=[r.persona for r in split if r.split], community=community,
        community_notes=community_notes, fairness=fairness, judged_alike=alike, verdict="",
        basis={t.slug: [",".join(map(str, t.panel.verdict_ids)), t.community.votes, t.community.ships] for t in tools},
        model=model, recuse=recuse, seat_models=seat_models or {},
    )
    titles = {v.persona: v.title for t in tools for v in t.panel.verdicts}
    return with_head_to_head(comparison, [head_to_head_view(h, titles) for h in matches or []])


def with_head_to_head(comparison: Comparison, views: list[HeadToHeadView]) -> Comparison:
    """The comparison with its head-to-head answers, and the answer and closing words that follow
    from them. The picks join the basis an editor summary was written for: a new pick makes it stale."""
    comparison.head_to_head = views
    comparison.basis["head-to-head"] = [f"{h.a}|{h.b}|{h.pick}|{h.blind_pick}" for h in views]
    comparison.answer = answer(comparison)
    comparison.verdict = closing_verdict(comparison)
    return comparison


def _with_seat_models(db, panel: PanelResult, seat_models: dict[str, str]) -> PanelResult:
    """The panel with the seats named in `seat_models` taken from that model's current verdicts."""
    swapped = []
    for r in panel.results:
        other = seat_models.get(r.persona)
        found = stored_panels.current_panel(db, panel.slug, other) if other else None
        seat = next((s for s in found.results if s.persona == r.persona), None) if found else None
        swapped.append(seat or r)
    return replace(panel, results=swapped)


def split_rows(tools: list[ToolColumn]) -> list[SplitRow]:
    """Persona × tool: every persona seated on any of the panels, in first-seated order."""
    order: list[str] = []
    titles: dict[str, str] = {}
    for tool in tools:
        for v in tool.panel.verdicts:
            if v.persona not in titles:
                order.append(v.persona)
                titles[v.persona] = v.title
    rows = []
    for persona in order:
        outcomes: dict[str, Outcome] = {}
        for tool in tools:
            found = next((v for v in tool.panel.verdicts if v.persona == persona), None)
            outcomes[tool.slug] = found.outcome if found else "not seated"
        decided = set(outcomes.values()) & {"ship", "skip"}
        rows.append(SplitRow(persona=persona, title=titles[persona], outcomes=outcomes, split=len(decided) == 2))
    return rows


def community_read(tools: list[ToolColumn]) -> tuple[list[CommunityRow], list[str]]:
    rows, notes = [], []
    for tool in tools:
        panel, crowd = tool.panel.ship_pct, tool.community.pct
        gap = None if panel is None or crowd is None else round(crowd - panel, 1)
        disagrees = gap is not None and ((crowd >= 50) != (panel >= 50) or abs(gap) >= DISAGREE_POINTS)
        rows.append(CommunityRow(slug=tool.slug, name=tool.name, panel_pct=panel, community_pct=crowd,
                                 votes=tool.community.votes, gap=gap, disagrees=disagrees))
        notes.append(community_note(tool, gap, disagrees))
    return rows, notes


# --- stored comparisons ------------------------------------------------------------------------------


def save_comparison(store, c: Comparison, markdown_path: Path, html_path: Path, editor_call=None) -> int:
    """Record the comparison (its data, the files and any new editor summary with its call)."""
    return store.save_comparison(c.slugs, c.generated_at, c.model_dump_json(exclude={"editor"}), markdown_path,
                                 html_path, c.editor, editor_call)


def latest_editor_note(db, c: Comparison) -> EditorNote | None:
    """The newest editor summary stored for these tools, marked stale if the data has moved on."""
    row = queries.latest_editor_row(db, c.slugs)
    if row is None:
        return None
    basis = json.loads(row["data"]).get("basis")
    return EditorNote(model=row["editor_model"], summary=row["editor_summary"], written_at=row["created_at"],
                      current=basis == c.basis)


def write_comparison(c: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """outputs/compare/<a>-vs-<b>.md and .html, each written atomically."""
    md_path = write_atomic(Path(out_dir) / f"{c.name}.md", render_markdown("compare.md.j2", c=c))
    html_path = write_atomic(Path(out_dir) / f"{c.name}.html", render_comparison_html(c))
    return md_path, html_path


def render_comparison_html(comparison: Comparison, root: str | None = None, **site) -> str:
    """A comparison page. With `root` (the site's relative root, e.g. "../") tool names link to
    their pages; without it the page stands alone and links nowhere inside a site. `site`: the
    site's page settings (title, time zone, draft stamp, canonical address)."""
    return render_html("site/compare.html.j2", c=comparison, root=root, page_title=comparison.title, **site)
