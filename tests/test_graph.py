"""The review graph's shape, that langgraph.json points at it, and that it fans out per pair."""

import asyncio
import json
from pathlib import Path

from panel.core.brief import ToolBrief
from panel.core.panel import aggregate
from panel.core.verdict import PersonaResult, Verdict
from panel.inputs.personas import load_personas
from panel.review.graph import run_plan
from panel.review.service import served_graph
from panel.review.plan import ReviewOptions, plan_review

REPO = Path(__file__).resolve().parents[1]


def test_langgraph_json_points_at_the_compiled_graph():
    """As LangGraph's server loads a spec: a module path (a file path would break relative
    imports), the name looked up in the module's namespace, a function called to build it."""
    import importlib

    config = json.loads((REPO / "langgraph.json").read_text())
    module, _, attr = config["graphs"]["review"].partition(":")
    assert "/" not in module
    found = vars(importlib.import_module(module))[attr]
    loaded = found() if callable(found) and not hasattr(found, "ainvoke") else found
    assert loaded is served_graph()
    assert {"__start__", "persona", "aggregate", "__end__"} <= set(loaded.get_graph().nodes)


class RecordingBatch:
    """Stands in for panel.review.batch.Batch: every node is in flight before any finishes."""

    def __init__(self, seats: int):
        self.seats, self.started, self.done, self.finished = seats, [], [], {}

    def carry_over(self, plan):
        return []

    async def ask(self, pair):
        self.started.append(pair.name)
        await asyncio.sleep(0.05)
        assert len(self.started) == self.seats
        self.done.append(pair.name)
        verdict = Verdict(rationale="r", verdict="skip" if pair.name == "skeptic" else "ship", confidence=0.5,
                          headline="h", strengths=[], risks=[], competitors=[])
        return PersonaResult(persona=pair.name, persona_version=pair.persona.version, model="m", status="ok",
                             verdict=verdict)

    def finish(self, plan, results):
        self.finished[plan.slug] = aggregate(plan.slug, plan.brief_hash, plan.seated, results)
        return self.finished[plan.slug]


def test_fan_out_runs_one_node_per_seated_persona_concurrently(workspace):
    brief = ToolBrief(slug="t", name="T", tagline="t", category="c", vendor="v", description="d",
                      pricing={"model": "free", "entry": "Free"}, licence="MIT",
                      panel=["builder", "skeptic", "creative"])
    [plan] = plan_review([brief], load_personas(workspace / "personas"), ReviewOptions(model="scripted/x"))
    batch = RecordingBatch(seats=3)
    panel = asyncio.run(run_plan(plan, batch, use_graph=True))
    assert sorted(batch.done) == ["builder", "creative", "skeptic"]
    assert panel.reported == 3 and panel.ships == 2 and panel.seated == ["builder", "skeptic", "creative"]


def submit_in_process(brief: dict, **context):
    """A submission through the served graph, in a workspace that accepts submissions by itself
    (so it is reviewed at once; the queue is tests/test_submissions.py's)."""
    import os
    from pathlib import Path

    from panel.review.graph import PanelContext

    (Path(os.environ["PANEL_HOME"]) / "panel.yaml").write_text("submissions: {auto_accept: true}\n", encoding="utf-8")
    return asyncio.run(served_graph().ainvoke({"brief": brief}, context=PanelContext(**context)))


def lantern(make_brief) -> dict:
    import yaml

    return yaml.safe_load(make_brief("lantern", panel=["builder", "skeptic"]).read_text())


def test_the_graph_runs_on_its_own_from_the_configuration(workspace, make_brief, monkeypatch):
    from panel.models import scripted

    monkeypatch.setenv("PANEL_MODEL", "scripted/graph")
    scripted.script("graph", lambda messages: {"rationale": "r", "verdict": "ship", "confidence": 0.7, "headline": "h",
                                               "strengths": [], "risks": [], "competitors": []})
    out = submit_in_process(lantern(make_brief))
    assert out["panel"]["slug"] == "lantern" and out["panel"]["ship_pct"] == 100
    assert [v["persona"] for v in out["panel"]["verdicts"]] == ["builder", "skeptic"]
    assert (workspace / "outputs" / "panel.db").exists()


def test_a_client_chooses_only_what_the_server_offers(workspace, make_brief, monkeypatch):
    import pytest

    from panel.core.errors import ModelConfigError

    monkeypatch.setenv("PANEL_MODEL", "scripted/graph")
    brief = lantern(make_brief)
    for context, message in (
        ({"model": "local//etc/passwd"}, "context.model 'local//etc/passwd' is not offered by this server "
                                         "(offered: scripted/graph;"),
        ({"model": "openai/gpt-4o"}, "context.model 'openai/gpt-4o' is not offered"),
        ({"samples": 50}, "context.samples 50: expected a whole number from 1 to 3"),
        ({"samples": 0}, "context.samples 0: expected a whole number from 1 to 3"),
    ):
        with pytest.raises(ModelConfigError) as found:
            submit_in_process(brief, **context)
        assert str(found.value).startswith(message), str(found.value)
        assert isinstance(found.value, ValueError)  # so LangGraph's server shows the client the line
    assert not (workspace / "outputs" / "panel.db").exists()  # refused before the store was opened
    monkeypatch.setenv("PANEL_SUBMIT_MODELS", "scripted/other, scripted/third")
    monkeypatch.setenv("PANEL_SUBMIT_MAX_SAMPLES", "5")
    from panel.models import scripted

    scripted.script("other", lambda messages: {"rationale": "r", "verdict": "skip", "confidence": 0.6,
                                               "headline": "h", "strengths": [], "risks": [], "competitors": []})
    out = submit_in_process(brief, model="scripted/other")
    assert out["panel"]["ship_pct"] == 0 and {v["model"] for v in out["panel"]["verdicts"]} == {"scripted/other"}
