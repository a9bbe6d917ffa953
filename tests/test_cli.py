"""The command line, in process, through the scripted model."""

import json

import pytest
import yaml

from panel.models import scripted

# "quartet" seats four personas (no creative), "quartet-b" another four (no business).
FOUR = ["builder", "skeptic", "futurist", "business"]
FOUR_B = ["builder", "skeptic", "futurist", "creative"]


@pytest.fixture
def quartet(make_brief):
    return make_brief("quartet", name="Quartet Tool", panel=FOUR)


def test_review_prints_table_writes_report_and_exits_0(workspace, run_cli, quartet, make_brief):
    make_brief("quartet-b", panel=FOUR_B)
    res = run_cli("review", "quartet", "quartet-b", "--model", "scripted/demo")
    assert res.exit_code == 0, res.output
    assert "quartet" in res.stdout and "4/4 reported" in res.stdout
    assert "8 model call(s), 0 verdict(s) reused" in res.stdout
    report = (workspace / "outputs" / "quartet.md").read_text()
    assert report.startswith("# Quartet Tool — panel verdict")
    for persona in FOUR:
        assert f"| {persona} |" in report
    assert "creative" not in report.split("## Provenance")[1]
    assert (workspace / "outputs" / "panel.db").exists()


def test_review_json_is_one_document_and_rerun_reuses(workspace, run_cli, quartet):
    first = json.loads(run_cli("review", "quartet", "--model", "scripted/demo", "--json").stdout)
    second_res = run_cli("review", "quartet", "--model", "scripted/demo", "--json")
    second = json.loads(second_res.stdout)
    assert second_res.exit_code == 0
    panel = second["panels"][0]
    assert set(panel) >= {"slug", "ship_pct", "reported", "seated", "interval", "verdicts"}
    assert panel["reported"] == 4 and panel["seated"] == 4 and len(panel["interval"]) == 2
    verdict = panel["verdicts"][0]
    assert set(verdict) >= {"persona", "status", "verdict", "confidence", "headline", "rationale", "cached", "model"}
    assert all(v["cached"] for v in panel["verdicts"]) and not any(v["cached"] for v in first["panels"][0]["verdicts"])
    assert second["calls_made"] == 0 and scripted.call_count() == 4


def test_partial_panel_exits_1_and_says_so(workspace, run_cli, quartet):
    scripted.script("flaky", ["x", "x", "x"])
    res = run_cli("review", "quartet", "--model", "scripted/flaky", "--concurrency", "1")
    assert res.exit_code == 1
    assert "3/4 reported" in res.stdout and "partial" in res.stdout


def test_bad_brief_exits_2_with_one_line_and_writes_nothing(workspace, run_cli, quartet):
    bad = workspace / "tool_briefs" / "broken.yaml"
    data = yaml.safe_load(quartet.read_text())
    data["slug"] = "broken"
    data["pricing"]["entry"] = ["not", "a", "string"]
    bad.write_text(yaml.safe_dump(data))
    res = run_cli("review", "quartet", "broken", "--model", "scripted/demo")
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.yaml" in lines[0] and "pricing.entry" in lines[0]
    assert not (workspace / "outputs" / "panel.db").exists()
    assert scripted.call_count() == 0


@pytest.mark.parametrize("args, message", [
    (["review", "no-such-tool"], "no brief 'no-such-tool'"),
    (["review", "quartet", "--personas", "critic"], "unknown persona 'critic'"),
    (["review", "quartet", "quartet"], "given twice"),
    (["review", "quartet", "--model", "local/does-not-exist.gguf"], "does-not-exist.gguf"),
])
def test_usage_errors_exit_2(workspace, run_cli, quartet, args, message):
    res = run_cli(*args)
    assert res.exit_code == 2 and message in res.stderr
    assert not (workspace / "outputs" / "panel.db").exists()


def test_personas_commands(workspace, run_cli, quartet):
    listed = json.loads(run_cli("personas", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["builder", "business", "creative", "futurist", "skeptic"]
    shown = run_cli("personas", "show", "skeptic", "--brief", "quartet")
    assert shown.exit_code == 0 and "You are the Skeptic" in shown.stdout and "Quartet Tool" in shown.stdout
    assert run_cli("personas", "validate").exit_code == 0
    (workspace / "personas" / "_review.j2").write_text("{{ brief_block }}\n{{ oops }}\n")
    res = run_cli("personas", "validate")
    assert res.exit_code == 2 and "_review.j2 line 2" in res.stderr


def test_briefs_list_and_validate(workspace, run_cli, quartet, make_brief):
    make_brief("quartet-b", panel=FOUR_B)
    rows = json.loads(run_cli("briefs", "list", "--json").stdout)
    assert sorted(r["slug"] for r in rows) == ["quartet", "quartet-b"]
    assert run_cli("briefs", "validate", "tool_briefs").exit_code == 0
    (workspace / "tool_briefs" / "zz.yaml").write_text("slug: zz\nname: Z\n")
    res = run_cli("briefs", "validate", "tool_briefs")
    assert res.exit_code == 2 and "zz.yaml" in res.stderr and "ok  quartet" in res.stdout


def test_briefs_new_writes_a_valid_brief_and_refuses_duplicates(workspace, run_cli):
    args = ["briefs", "new", "--slug", "acme-agent", "--name", "Acme Agent", "--tagline", "Agents for all",
            "--category", "Agent Frameworks", "--vendor", "Acme", "--description", "An agent framework.",
            "--pricing-model", "open source", "--entry-price", "Free", "--licence", "MIT",
            "--link", "repo=https://example.com/acme", "--panel", "builder,skeptic"]
    res = run_cli(*args)
    assert res.exit_code == 0, res.output
    from panel.inputs.briefs import load_brief

    brief = load_brief(workspace / "tool_briefs" / "acme-agent.yaml")
    assert brief.panel == ["builder", "skeptic"] and brief.links == {"repo": "https://example.com/acme"}
    again = run_cli(*args)
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = run_cli("briefs", "new", "--slug", "../evil", "--name", "x")
    assert bad.exit_code == 2
    missing = run_cli("briefs", "new", "--slug", "x-y")
    assert missing.exit_code == 2 and "--name" in missing.stderr


def test_a_misspelt_persona_in_a_brief_is_caught_by_new_and_validate(workspace, run_cli, make_brief):
    """`briefs new --panel builder,skeptik` wrote the file and `briefs validate` said ok; only
    `review` rejected it."""
    args = ["briefs", "new", "--slug", "acme-agent", "--name", "Acme Agent", "--tagline", "Agents for all",
            "--category", "Agent Frameworks", "--vendor", "Acme", "--description", "An agent framework.",
            "--pricing-model", "open source", "--entry-price", "Free", "--licence", "MIT",
            "--panel", "builder,skeptik"]
    res = run_cli(*args)
    assert res.exit_code == 2
    assert res.stderr.strip() == ("Error: new brief: panel: unknown persona 'skeptik', did you mean 'skeptic'?"
                                  " (known: builder, business, creative, futurist, skeptic)")
    assert not (workspace / "tool_briefs" / "acme-agent.yaml").exists()
    path = make_brief("lantern", panel=["builder", "skeptik"])
    make_brief("quill")
    res = run_cli("briefs", "validate", str(path.parent))
    assert res.exit_code == 2
    assert "ok  quill" in res.stdout and "ok  lantern" not in res.stdout
    assert "lantern.yaml: panel: unknown persona 'skeptik', did you mean 'skeptic'?" in res.stderr


def test_one_bad_brief_does_not_hide_the_others_in_briefs_list(workspace, run_cli, make_brief):
    """`briefs list` printed only the error (exit 2) when one of the briefs was bad."""
    make_brief("lantern")
    make_brief("quill")
    (workspace / "tool_briefs" / "broken.yaml").write_text((workspace / "tool_briefs" / "quill.yaml").read_text())
    res = run_cli("briefs", "list")
    assert res.exit_code == 1
    assert "lantern" in res.stdout and "quill" in res.stdout and "broken" in res.stdout and "invalid" in res.stdout
    assert "broken.yaml: slug: 'quill' does not match the file name 'broken'" in res.stderr
    data = json.loads(run_cli("briefs", "list", "--json").stdout)
    assert [(r["slug"], "error" in r) for r in data] == [("broken", True), ("lantern", False), ("quill", False)]


def test_init_scaffolds_a_workspace(tmp_path, run_cli, monkeypatch):
    target = tmp_path / "fresh"
    res = run_cli("init", str(target))
    assert res.exit_code == 0
    assert (target / "personas" / "skeptic.yaml").exists() and (target / "personas" / "_review.j2").exists()
    assert (target / "tool_briefs" / "smollm3.yaml").exists()
    assert run_cli("init", str(target)).exit_code == 2
    monkeypatch.chdir(target)
    monkeypatch.setenv("PANEL_HOME", str(target))
    assert run_cli("review", "smollm3", "--model", "scripted/demo").exit_code == 0
    # The shipped settings file loads, and the README's flow ends in a site.
    from panel.inputs.settings import load_settings

    assert load_settings(target).quorum == 3 and "auto_publish" in (target / "panel.yaml").read_text()
    assert run_cli("publish", "smollm3").exit_code == 0 and run_cli("site").exit_code == 0
    assert (target / "outputs" / "site" / "tools" / "smollm3.html").exists()


def test_a_new_workspace_can_run_the_readmes_eval(tmp_path, run_cli, monkeypatch):
    """`panel eval standard` failed in a workspace from `panel init`: the labelled set was not there."""
    target = tmp_path / "fresh"
    assert run_cli("init", str(target)).exit_code == 0
    assert (target / "evals" / "standard" / "labels.csv").exists()
    assert (target / "datasette" / "metadata.json").exists()
    monkeypatch.chdir(target)
    monkeypatch.setenv("PANEL_HOME", str(target))
    res = run_cli("eval", "standard", "--model", "scripted/demo", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["set"] == "standard"


def test_error_for_a_file_name_with_a_newline_stays_one_line(workspace, run_cli):
    odd = workspace / "bad\nname\x1b[31m.yaml"
    odd.write_text("name: [unclosed\n")
    res = run_cli("review", str(odd), "--model", "scripted/demo")
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "\x1b" not in res.stderr
    assert "invalid YAML" in res.stderr


def test_unknown_names_suggest_the_near_miss(workspace, run_cli, make_brief):
    """A misspelt slug or persona name got a bare "unknown"; the near miss is named now."""
    make_brief("lantern")
    make_brief("quill")
    vote = run_cli("vote", "lantren", "ship")
    assert vote.exit_code == 2 and "unknown tool 'lantren', did you mean 'lantern'?" in vote.stderr
    compare = run_cli("compare", "lantren", "quill")
    assert compare.exit_code == 2 and "lantren.yaml, did you mean 'lantern'?" in compare.stderr
    show = run_cli("personas", "show", "skeptik")
    assert show.exit_code == 2 and "does not exist, did you mean 'skeptic'?" in show.stderr
    review = run_cli("review", "lantern", "--personas", "buildr", "--model", "scripted/x")
    assert review.exit_code == 2 and "unknown persona 'buildr', did you mean 'builder'?" in review.stderr


def test_briefs_list_says_never_reviewed_draft_or_published_and_new_takes_pricing_notes(workspace, run_cli,
                                                                                       make_brief):
    for slug in ("lantern", "quill", "ember", "flint"):
        make_brief(slug)
    assert run_cli("review", "lantern", "ember", "flint", "--model", "scripted/demo").exit_code == 0
    assert run_cli("publish", "lantern", "flint").exit_code == 0
    assert run_cli("unpublish", "flint", "--note", "withdrawn by the vendor").exit_code == 0
    rows = json.loads(run_cli("briefs", "list", "--json").stdout)
    assert {r["slug"]: r["status"] for r in rows} == {"lantern": "published", "quill": "never reviewed",
                                                      "ember": "draft", "flint": "withdrawn"}
    assert run_cli("review", "lantern", "--model", "scripted/other").exit_code == 0
    rows = json.loads(run_cli("briefs", "list", "--json").stdout)
    assert {r["slug"]: r["status"] for r in rows}["lantern"] == "published; newer draft"
    res = run_cli("briefs", "new", "--slug", "acme", "--name", "Acme", "--tagline", "t", "--category", "c",
                  "--vendor", "v", "--description", "d", "--pricing-model", "subscription",
                  "--entry-price", "$10 per month", "--licence", "MIT", "--pricing-notes", "Five seats at most.")
    assert res.exit_code == 0, res.output
    from panel.inputs.briefs import load_brief

    assert load_brief(workspace / "tool_briefs" / "acme.yaml").pricing.notes == "Five seats at most."
