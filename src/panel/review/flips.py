"""The flip report: what a re-run changed, persona by persona and panel by panel.

For every re-run persona × brief pair the old side is the verdict in the brief's latest panel
before the re-run, the new side is what the re-run produced (fresh or from the store):
  flip     ship ↔ skip
  hold     the same decision again
  new      no previous ok verdict to compare with (none, or it was unscored or an error)
  unscored / error   the re-run produced no usable verdict (counted apart, never as a skip)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.panel import PanelResult
from ..core.verdict import PersonaResult

OUTCOMES = ("flip", "hold", "new", "unscored", "error")


@dataclass
class Change:
    slug: str
    persona: str
    outcome: str
    old: dict | None  # the previous verdicts row (None when the persona never judged this brief)
    new: PersonaResult

    @property
    def old_verdict(self) -> str | None:
        return self.old["verdict"] if self.old and self.old["status"] == "ok" else None

    @property
    def old_confidence(self) -> float | None:
        return self.old["confidence"] if self.old_verdict else None

    @property
    def new_confidence(self) -> float | None:
        return self.new.verdict.confidence if self.new.verdict else None

    @property
    def confidence_change(self) -> float | None:
        if self.old_confidence is None or self.new_confidence is None:
            return None
        return round(self.new_confidence - self.old_confidence, 4)

    def to_json(self) -> dict:
        old, new = self.old or {}, self.new
        return {
            "slug": self.slug,
            "persona": self.persona,
            "outcome": self.outcome,
            "old_verdict": self.old_verdict,
            "new_verdict": new.decision,
            "old_status": old.get("status"),
            "new_status": new.status,
            "old_confidence": self.old_confidence,
            "new_confidence": self.new_confidence,
            "confidence_change": self.confidence_change,
            "old_headline": old.get("headline"),
            "new_headline": new.verdict.headline if new.verdict else None,
            "old_version": old.get("persona_version"),
            "new_version": new.persona_version,
            "old_model": old.get("model"),
            "new_model": new.model,
            "old_verdict_id": old.get("id"),
            "new_verdict_id": new.verdict_id,
            "from_store": new.cached,
            "error": new.error,
        }


def classify(old: dict | None, new: PersonaResult) -> str:
    if new.status != "ok":
        return new.status
    if old is None or old["status"] != "ok":
        return "new"
    return "hold" if old["verdict"] == new.decision else "flip"


@dataclass
class BriefChange:
    slug: str
    before: PanelResult
    after: PanelResult

    def to_json(self) -> dict:
        return {"slug": self.slug, "before": panel_summary(self.before), "after": panel_summary(self.after)}


def panel_summary(panel: PanelResult) -> dict:
    return {
        "ship_pct": panel.ship_pct,
        "ships": panel.ships,
        "reported": panel.reported,
        "seated": len(panel.seated),
        "interval": list(panel.interval),
    }


@dataclass
class FlipReport:
    changes: list[Change] = field(default_factory=list)
    briefs: list[BriefChange] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {outcome: 0 for outcome in OUTCOMES}
        for change in self.changes:
            counts[change.outcome] += 1
        return counts

    def to_json(self) -> dict:
        counts = self.counts()
        return {
            "counts": {"flips": counts["flip"], "holds": counts["hold"], "new": counts["new"],
                       "unscored": counts["unscored"], "errors": counts["error"]},
            "briefs": [b.to_json() for b in self.briefs],
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass
class RerunOutcome:
    review: object  # the panel.review.batch.ReviewOutcome of the re-run
    plans: list  # the PanelPlans it ran
    report: FlipReport

    @property
    def complete(self) -> bool:
        return self.review.complete

    def to_json(self) -> dict:
        changes = self.report.changes
        return {
            "run_id": self.review.run_id,
            "calls_made": sum(1 for c in changes if not c.new.cached),
            "reused_from_store": sum(1 for c in changes if c.new.cached),
            "verdicts_kept": sum(len(p.kept) for p in self.plans),
            **self.report.to_json(),
        }


def flip_report(plans, outcome) -> FlipReport:
    """Each re-run pair against the verdict it replaces, and each panel before and after."""
    report = FlipReport()
    panels = {panel.slug: panel for panel in outcome.panels}
    for plan in plans:
        after = panels[plan.slug]
        results = {r.persona: r for r in after.results}
        for job in plan.jobs:
            old = plan.previous.get(job.name)
            report.changes.append(Change(plan.slug, job.name, classify(old, results[job.name]), old, results[job.name]))
        before = [PersonaResult.from_row(plan.previous[name], cached=True)
                  for name in plan.seated if name in plan.previous]
        report.briefs.append(BriefChange(plan.slug, PanelResult(plan.slug, plan.brief_hash, list(plan.seated), before),
                                         after))
    return report
