"""An evaluation: a review of a labelled set, scored per persona and for the panel (panel eval).

`evaluate` turns the set's panels into scored items (analysis.metrics) against the labels, and
against the community's majority for tools with enough votes. `compare_evaluations` says what a
prompt edit (or a model change) did: each metric before and after, and every verdict that flipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.panel import PanelResult
from ..core.tally import Tally
from .independence import independence
from .judges import JudgeCard, judge_card
from .metrics import METRIC_NAMES, Metrics, Scored, metrics, panel_item, seat_item

PANEL = "panel"  # the key of the panel's own row, beside the personas'
MIN_COMMUNITY_VOTES = 10


@dataclass
class Evaluation:
    set_name: str
    set_digest: str
    model: str
    samples: int
    personas: list[str]
    items: dict[str, list[Scored]]  # persona (or PANEL) -> its clear-case items
    borderline: dict[str, list[Scored]]
    community: dict[str, list[Scored]]  # against the community's majority, tools with enough votes
    versions: dict[str, str] = field(default_factory=dict)  # persona -> the version evaluated
    verdict_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (slug, persona) -> verdict
    costs: dict[int, float] = field(default_factory=dict)  # verdict id -> the cost of its call (for judge cards)
    jury: list | None = None  # with a jury: the jury beside each of its models alone (analysis.jury.JuryRow)
    manipulation: dict | None = None  # with --attacks: flips under each kind of attack (analysis.manipulation)
    run_id: int | None = None
    eval_id: int | None = None
    created_at: str | None = None

    def metrics(self, which: str = "items") -> dict[str, Metrics]:
        return {name: metrics(items) for name, items in getattr(self, which).items()}

    def judge_cards(self) -> list[JudgeCard]:
        """A card per persona (panel.analysis.judges), over its clear cases."""
        cards = []
        for persona in self.personas:
            ids = [self.verdict_ids.get((item.slug, persona)) for item in self.items.get(persona, [])]
            costs = [self.costs[i] for i in ids if i in self.costs]
            cards.append(judge_card(persona, self.items.get(persona, []), costs))
        return cards

    def independence(self) -> dict:
        """How many independent votes the panel is worth on the clear cases, and whether its
        majority beats its best single persona (panel.analysis.independence)."""
        measured = independence(self.items, self.personas)
        found = measured.to_json()
        scores = self.metrics()
        answered = [p for p in self.personas if scores[p].accuracy is not None]
        best = max(answered, key=lambda p: scores[p].accuracy, default=None)
        found |= {"majority_accuracy": _r(scores[PANEL].accuracy), "best_persona": best,
                  "best_accuracy": _r(scores[best].accuracy) if best else None,
                  "error_matrix": {a: {b: _r(v) for b, v in row.items()} for a, row in measured.error_matrix().items()}}
        return found

    def to_json(self) -> dict:
        return {
            "eval_id": self.eval_id, "run_id": self.run_id, "set": self.set_name, "set_digest": self.set_digest,
            "model": self.model, "samples": self.samples, "personas": self.personas, "versions": self.versions,
            "created_at": self.created_at,
            "metrics": {k: m.to_json() for k, m in self.metrics().items()},
            "borderline": {k: m.to_json() for k, m in self.metrics("borderline").items()},
            "community": {k: m.to_json() for k, m in self.metrics("community").items()},
            "independence": self.independence(),
            "judges": [card.to_json() for card in self.judge_cards()],
            "jury": [row.to_json() for row in self.jury] if self.jury else None,
            "manipulation": self.manipulation,
            "items": [{"persona": who, "slug": i.slug, "expected": i.expected, "decision": i.decision,
                       "p_ship": None if i.p_ship is None else round(i.p_ship, 4)}
                      for who, items in self.items.items() for i in items],
        }


def evaluate(eval_set, panels: dict[str, PanelResult], tallies: dict[str, Tally], model: str, samples: int,
             personas: list[str]) -> Evaluation:
    """Score each persona and the panel on the set (`panels`: slug -> the panel the review produced)."""
    items: dict[str, list[Scored]] = {who: [] for who in [*personas, PANEL]}
    borderline: dict[str, list[Scored]] = {who: [] for who in items}
    community: dict[str, list[Scored]] = {who: [] for who in items}
    versions: dict[str, str] = {}
    verdict_ids: dict[tuple[str, str], int] = {}
    for slug, label in eval_set.labels.items():
        panel = panels[slug]
        seats = {r.persona: r for r in panel.results}
        for r in panel.results:
            versions.setdefault(r.persona, r.persona_version)
            if r.verdict_id is not None:
                verdict_ids[(slug, r.persona)] = r.verdict_id
        crowd = tallies.get(slug)
        crowd_says = None
        if crowd is not None and crowd.votes >= MIN_COMMUNITY_VOTES:
            crowd_says = "ship" if crowd.pct >= 50 else "skip"
        for who in items:
            target = borderline if label.borderline else items
            target[who].append(_item(slug, label.expected, who, panel, seats))
            if crowd_says:
                community[who].append(_item(slug, crowd_says, who, panel, seats))
    return Evaluation(set_name=eval_set.name, set_digest=eval_set.digest, model=model, samples=samples,
                      personas=personas, items=items, borderline=borderline, community=community,
                      versions=versions, verdict_ids=verdict_ids)


def _item(slug: str, expected: str, who: str, panel: PanelResult, seats: dict) -> Scored:
    return panel_item(slug, expected, panel) if who == PANEL else seat_item(slug, expected, seats.get(who))


@dataclass
class Flip:
    persona: str
    slug: str
    expected: str
    before: str | None
    after: str | None

    @property
    def outcome(self) -> str:
        """fixed (now right), broke (now wrong), or changed (neither side right: an answer appeared or vanished)."""
        if self.after == self.expected:
            return "fixed"
        if self.before == self.expected:
            return "broke"
        return "changed"

    def to_json(self) -> dict:
        return {"persona": self.persona, "slug": self.slug, "expected": self.expected, "before": self.before,
                "after": self.after, "outcome": self.outcome}


@dataclass
class EvalComparison:
    baseline: str  # what "before" is: "eval run 3", "skeptic version 1a2b3c"
    changes: dict[str, dict[str, tuple[float | None, float | None]]]  # who -> metric -> (before, after)
    flips: list[Flip]

    def to_json(self) -> dict:
        return {"baseline": self.baseline,
                "changes": {who: {name: {"before": _r(b), "after": _r(a)} for name, (b, a) in by.items()}
                            for who, by in self.changes.items()},
                "flips": [f.to_json() for f in self.flips]}


def items_from_rows(found: list[dict]) -> dict[str, list[Scored]]:
    """Stored eval_items rows (panel.store.queries.eval_item_rows) back into items, per persona."""
    items: dict[str, list[Scored]] = {}
    for row in found:
        scored = Scored(row["slug"], row["expected"], row["decision"], row["p_ship"])
        items.setdefault(row["persona"], []).append(scored)
    return items


def _r(x):
    return None if x is None else round(x, 4)


def compare_evaluations(before: dict[str, list[Scored]], after: dict[str, list[Scored]], baseline: str
                        ) -> EvalComparison:
    """Each metric before → after for every persona and the panel both evaluated, and each verdict
    whose decision changed."""
    changes, flips = {}, []
    for who in after:
        if who not in before:
            continue
        old, new = metrics(before[who]).to_json(), metrics(after[who]).to_json()
        changes[who] = {name: (old[name], new[name]) for name in METRIC_NAMES}
        previous = {i.slug: i for i in before[who]}
        for item in after[who]:
            was = previous.get(item.slug)
            if was is not None and was.decision != item.decision:
                flips.append(Flip(who, item.slug, item.expected, was.decision, item.decision))
    return EvalComparison(baseline=baseline, changes=changes, flips=flips)


EDITORS = "editors"  # `panel eval --labels editors`: the set is every tool an editor has called


def editors_eval_set(db, folder, since: str | None = None, until: str | None = None):
    """A labelled set made of the editors' own calls (each tool's newest, in the window), each tool
    judged on the brief of its published panel (else its newest draft's): the personas are scored
    against the people who sign the verdicts off."""
    import hashlib
    import json

    from ..core.brief import ToolBrief
    from ..core.errors import EvalError
    from ..inputs.evalset import EvalSet, Label
    from ..store import queries

    found = queries.editor_labels(db, since, until)
    if not found:
        window = " in that window" if since or until else ""
        raise EvalError(f"no editor calls{window} yet: record them with `panel label SLUG ship|skip` or"
                        " `panel publish SLUG --editor-call ship|skip`")
    briefs, labels = [], {}
    for row in found:
        published = queries.latest_publication(db, row["slug"], action="publish")
        drafts = queries.draft_rows(db, row["slug"])
        digest = published["brief_hash"] if published else drafts[0]["brief_hash"]
        briefs.append(ToolBrief.model_validate(queries.brief_json(db, digest)))
        labels[row["slug"]] = Label(slug=row["slug"], expected=row["call"], borderline=False, note=row["note"] or "")
    material = json.dumps([[r["slug"], r["call"], r["id"]] for r in found] + [b.content_hash() for b in briefs])
    return EvalSet(name=EDITORS, folder=folder, briefs=briefs, labels=labels,
                   digest=hashlib.sha256(material.encode()).hexdigest()[:16])
