"""Behaviour behind the benchmark numbers (bench/): work the panel must not do. No wall-clock
assertions here; each test checks that a path skips, or still does, something specific."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from panel.models import scripted
from panel.inputs.briefs import load_brief
from panel.inputs.personas import load_personas, render_messages
from panel.review.plan import ReviewOptions
from panel.review.run import run_review
from panel.store.store import Store

HEAVY = ("litellm", "langgraph", "langchain_core", "openai", "tenacity")

PROBE = """
import atexit, json, sys
loaded = lambda: sorted(m for m in {heavy!r} if m in sys.modules)
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(loaded()) + "\\n"))
from panel.cli import main
sys.argv = ["panel"] + {args!r}
main()
"""


def run_probe(workspace: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = dict(os.environ, PANEL_HOME=str(workspace))
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, args=args)], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=300)
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")]
    assert line, proc.stderr
    return proc, json.loads(line[-1].split(" ", 1)[1])


FOUR = ["builder", "skeptic", "futurist", "business"]


def review(ws: Path, slugs: list[str]):
    personas = load_personas(ws / "personas")
    briefs = [load_brief(ws / "tool_briefs" / f"{s}.yaml") for s in slugs]
    store = Store(ws / "outputs" / "panel.db")
    try:
        return asyncio.run(run_review(briefs, personas, store, ReviewOptions(model="scripted/perf")))
    finally:
        store.close()


@pytest.mark.slow  # `python -c` probes: a fresh interpreter shows what an import pulled in
def test_a_rerun_with_everything_stored_imports_neither_litellm_nor_langgraph(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    make_brief("quintet")  # all five
    args = ["review", "quartet", "quintet", "--model", "scripted/demo", "--json"]
    first, imported = run_probe(workspace, args)
    assert first.returncode == 0, first.stderr
    assert {"litellm", "langgraph"} <= set(imported)  # the first run really called the model
    again, imported = run_probe(workspace, args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["calls_made"] == 0
    assert json.loads(again.stdout)["calls_reused"] == 4 + 5
    assert imported == []


@pytest.mark.slow  # `python -c` probes against a real HTTP server
def test_a_review_against_an_openai_compatible_server_never_imports_litellm(workspace, make_brief):
    """A self-hosted OpenAI-compatible server (openai/<name> with --api-base) is checked, called
    (through the openai SDK), priced and stored without litellm; a re-run with everything stored
    imports neither the SDK nor the graph."""
    from reliability_helpers import FakeOpenAI

    make_brief("quintet")
    with FakeOpenAI() as server:
        args = ["review", "quintet", "--model", "openai/fake", "--api-base", server.url, "--json"]
        first, imported = run_probe(workspace, args)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["calls_made"] == 5 and server.requests == 5
        assert "openai" in imported and "litellm" not in imported
        again, imported = run_probe(workspace, args)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["calls_made"] == 0 and server.requests == 5
        assert imported == []


@pytest.mark.slow  # `python -c` probes
def test_help_and_listing_import_nothing_heavy(workspace):
    for args in (["--help"], ["personas", "list"], ["review", "--help"]):
        proc, imported = run_probe(workspace, args)
        assert proc.returncode == 0, proc.stderr
        assert imported == [], args


def test_fully_stored_briefs_skip_the_graph_and_match_the_first_run(workspace, make_brief, monkeypatch):
    make_brief("quartet", panel=FOUR)
    make_brief("quintet")
    first = review(workspace, ["quartet", "quintet"])
    import panel.review.graph

    class NoGraph:
        async def ainvoke(self, *args, **kwargs):
            raise AssertionError("the graph ran for a brief whose every seat is stored")

    monkeypatch.setattr(panel.review.graph, "batch_graph", lambda: NoGraph())
    second = review(workspace, ["quartet", "quintet"])
    assert second.calls_made == 0 and second.calls_reused == 4 + 5
    assert [p.to_json() for p in second.panels] == [
        {**p.to_json(), "verdicts": [{**v, "cached": True} for v in p.to_json()["verdicts"]]} for p in first.panels
    ]


def test_a_partly_stored_brief_still_goes_through_the_graph(workspace, make_brief):
    make_brief("quartet", panel=FOUR)
    review(workspace, ["quartet"])
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "\n# edited\n")
    calls_before = scripted.call_count()
    outcome = review(workspace, ["quartet"])
    assert scripted.call_count() - calls_before == 1  # only the edited persona is asked again
    panel = outcome.panels[0]
    assert panel.complete and {r.persona for r in panel.results if not r.cached} == {"skeptic"}


def test_cached_renders_equal_fresh_ones_and_follow_template_edits(workspace, make_brief):
    personas = load_personas(workspace / "personas")
    brief = load_brief(make_brief("quintet"))
    first = render_messages(personas["builder"], brief)
    assert render_messages(personas["builder"], brief) == first
    template = workspace / "personas" / "_review.j2"
    template.write_text(template.read_text() + "\nOne more line for the reviewer.\n")
    edited = load_personas(workspace / "personas")["builder"]
    assert render_messages(edited, brief)[1]["content"].endswith("One more line for the reviewer.")
    other = brief.model_copy(update={"tagline": "A different tagline entirely"})
    assert "A different tagline entirely" in render_messages(personas["builder"], other)[1]["content"]


def test_each_call_gets_its_own_copy_of_the_schema():
    from panel.models.seam import ModelSeam, ModelSettings
    from panel.core.verdict import verdict_schema

    seam = ModelSeam()
    first = seam._call_kwargs(ModelSettings(model="openai/x", api_base="http://127.0.0.1:9/v1"))["response_format"]["json_schema"]["schema"]
    first["properties"].clear()
    second = seam._call_kwargs(ModelSettings(model="openai/x", api_base="http://127.0.0.1:9/v1"))["response_format"]["json_schema"]["schema"]
    assert second == verdict_schema()


def test_a_price_litellm_could_not_find_is_not_searched_again(monkeypatch):
    from panel.models.seam import CallOutcome, ModelSeam, ModelSettings
    from panel.models.providers import get_litellm

    litellm = get_litellm()

    def forbidden(**kwargs):
        raise AssertionError("completion_cost called although litellm already priced the response")

    monkeypatch.setattr(litellm, "completion_cost", forbidden)

    class Response:
        usage = None
        _hidden_params = {"response_cost": None}

    outcome = CallOutcome(persona="p", persona_version="v", model="anthropic/unknown", status="ok")
    ModelSeam()._account(Response(), ModelSettings(model="anthropic/unknown"), outcome)
    assert outcome.cost == 0.0
    Response._hidden_params = {"response_cost": 0.25}
    ModelSeam()._account(Response(), ModelSettings(model="anthropic/unknown"), outcome)
    assert outcome.cost == 0.25


def test_success_logs_are_dropped_only_while_nobody_listens():
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    from panel.models.seam import ModelSeam, ModelSettings
    from panel.models.providers import get_litellm

    litellm = get_litellm()
    seen = []

    class Listener(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            seen.append(response_obj)

    messages = [{"role": "user", "content": "Review this."}]
    settings = ModelSettings(model="scripted/listen")

    async def one_call():
        outcome = await ModelSeam().review(settings, "builder", "v1", messages)
        pending = GLOBAL_LOGGING_WORKER.pending_count
        for _ in range(100):  # the worker runs listeners in the background
            if seen or not litellm.callbacks:
                break
            await asyncio.sleep(0.02)
        return outcome, pending

    outcome, pending = asyncio.run(one_call())
    assert outcome.status == "ok" and pending == 0 and seen == []
    listener = Listener()
    litellm.callbacks.append(listener)
    try:
        outcome, _ = asyncio.run(one_call())
    finally:
        litellm.callbacks.remove(listener)
    assert outcome.status == "ok" and len(seen) == 1
