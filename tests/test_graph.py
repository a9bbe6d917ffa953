"""The review graph's shape, and that langgraph.json points at it."""

import asyncio
import importlib.util
import json
from pathlib import Path

from panel.briefs import ToolBrief
from panel.graph import graph
from panel.verdict import PersonaResult, Verdict

REPO = Path(__file__).resolve().parents[1]


def test_langgraph_json_points_at_the_compiled_graph():
    config = json.loads((REPO / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["review"].partition(":")
    spec = importlib.util.spec_from_file_location("graph_from_json", REPO / path)
    assert (REPO / path).exists() and attr == "graph"
    drawn = graph.get_graph()
    assert {"__start__", "persona", "aggregate", "__end__"} <= set(drawn.nodes)
    assert spec is not None


def test_fan_out_runs_one_node_per_seated_persona_concurrently():
    started, finished = [], []

    class Context:
        async def review_persona(self, name, brief):
            started.append(name)
            await asyncio.sleep(0.05)  # every node is in flight before any finishes
            assert len(started) == 3
            finished.append(name)
            verdict = Verdict(rationale="r", verdict="ship" if name != "skeptic" else "skip", confidence=0.5,
                              headline="h", strengths=[], risks=[], competitors=[])
            return PersonaResult(persona=name, persona_version="v", model="m", status="ok", verdict=verdict)

    brief = ToolBrief(slug="t", name="T", tagline="t", category="c", vendor="v", description="d",
                      pricing={"model": "free", "entry": "Free"}, licence="MIT")
    state = asyncio.run(graph.ainvoke({"brief": brief, "seated": ["builder", "skeptic", "creative"],
                                       "results": []}, context=Context()))
    panel = state["panel"]
    assert sorted(finished) == ["builder", "creative", "skeptic"]
    assert panel.reported == 3 and panel.ships == 2 and panel.seated == ["builder", "skeptic", "creative"]
