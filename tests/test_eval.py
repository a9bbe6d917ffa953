"""`panel eval`: metrics checked against hand-computed values on a scripted model, the community
comparison, re-evaluation paying only for an edited persona, and --against / --baseline."""

import json
import re

import pytest

from panel.analysis.metrics import Scored, auc, brier, metrics
from panel.models import scripted
from shown import shown_slug

# persona -> slug -> (decision, confidence); the ship probability is the confidence in "ship".
ANSWERS = {
    "builder": {"good-a": ("ship", 0.9), "good-b": ("skip", 0.6), "dud-a": ("ship", 0.7), "dud-b": ("skip", 0.8),
                "middling": ("ship", 0.5)},
    "skeptic": {"good-a": ("ship", 0.8), "good-b": ("ship", 0.6), "dud-a": ("skip", 0.9), "dud-b": ("skip", 0.7),
                "middling": ("skip", 0.5)},
}


def reviewer(answers):
    def answer(messages):
        text = messages[-1]["content"]
        persona = re.search(r"You are the (\w+)", text).group(1).lower()
        slug = shown_slug(text)
        decision, confidence = answers[persona][slug]
        return {"rationale": f"{persona} on {slug}", "verdict": decision, "confidence": confidence,
                "headline": f"{decision}", "strengths": [], "risks": [], "competitors": []}

    return answer


@pytest.fixture
def labelled(workspace, make_brief):
    folder = workspace / "evals" / "tiny"
    for slug in ("good-a", "good-b", "dud-a", "dud-b", "middling"):
        make_brief(slug, folder=folder)
    (folder / "labels.csv").write_text("slug,expected,note\ngood-a,ship,\ngood-b,ship,\ndud-a,skip,\ndud-b,skip,\n"
                                       "middling,borderline-ship,\"fine, mostly\"\n")
    return folder


def run_eval(run_cli, *extra):
    res = run_cli("eval", "tiny", "--model", "scripted/judge", "--personas", "builder,skeptic", "--json", *extra)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_metrics_match_the_hand_computed_values(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    data = run_eval(run_cli)
    m = data["metrics"]
    # builder: right on good-a and dud-b, wrong on good-b and dud-a. Ship probabilities: good 0.9, 0.4;
    # duds 0.7, 0.2 -> AUC: 0.9>0.7, 0.9>0.2, 0.4<0.7, 0.4>0.2 = 3/4. Brier (.01+.36+.49+.04)/4.
    assert m["builder"] == {"cases": 4, "answered": 4, "accuracy": 0.5, "balanced_accuracy": 0.5, "ship_rate": 0.5,
                            "ship_rate_on_skips": 0.5, "auc": 0.75, "brier": 0.225,
                            "confusion": {"ship": {"ship": 1, "skip": 1}, "skip": {"ship": 1, "skip": 1}}}
    # skeptic: all right; goods 0.8, 0.6 above duds 0.1, 0.3. Brier (.04+.16+.01+.09)/4.
    assert (m["skeptic"]["accuracy"], m["skeptic"]["auc"], m["skeptic"]["brier"]) == (1.0, 1.0, 0.075)
    assert m["skeptic"]["ship_rate_on_skips"] == 0.0
    # The panel ships at >= 50%: good-a 2/2, good-b 1/2 and dud-a 1/2 ship, dud-b 0/2. Its ship
    # probability is the seats' mean: .85, .5, .4, .25 (every good above every dud).
    # Brier (.0225+.25+.16+.0625)/4 = .12375.
    assert m["panel"]["accuracy"] == 0.75 and m["panel"]["balanced_accuracy"] == 0.75
    assert m["panel"]["ship_rate_on_skips"] == 0.5 and m["panel"]["auc"] == 1.0
    assert m["panel"]["brier"] == pytest.approx(0.1238, abs=1e-4)
    # The borderline case is scored apart, against its lean (ship).
    assert data["borderline"]["builder"]["accuracy"] == 1.0 and data["borderline"]["skeptic"]["accuracy"] == 0.0
    assert data["community"]["panel"]["cases"] == 0
    report = (workspace / "outputs" / "eval" / "tiny-1.md").read_text()
    assert "| builder | 4/4 | 0.50 | 0.50 | 50% | 50% | 0.75 | 0.23 | 1 / 1 / 1 / 1 |" in report


def test_against_the_community_where_a_tool_has_ten_votes(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    run_eval(run_cli)
    for n in range(10):  # the community ships dud-a, 8 to 2
        assert run_cli("vote", "dud-a", "ship" if n < 8 else "skip", "--voter", f"v{n}").exit_code == 0
    community = run_eval(run_cli)["community"]
    assert community["panel"]["cases"] == 1 and community["panel"]["accuracy"] == 1.0  # the panel shipped it too
    assert community["skeptic"]["accuracy"] == 0.0


def test_reevaluating_after_an_edit_pays_only_for_that_persona_and_shows_the_flips(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    first = run_eval(run_cli)
    assert scripted.call_count() == 10
    old_version = first["versions"]["skeptic"]
    skeptic = workspace / "personas" / "skeptic.yaml"
    skeptic.write_text(skeptic.read_text() + "# now ships anything that sounds confident\n")
    edited = {**ANSWERS, "skeptic": {**ANSWERS["skeptic"], "dud-a": ("ship", 0.6)}}
    scripted.reset()
    scripted.script("judge", reviewer(edited))
    data = run_eval(run_cli, "--against", old_version[:8])
    assert scripted.call_count() == 5  # the edited skeptic on five briefs; the builder came from the store
    cmp = data["comparison"]
    assert cmp["baseline"] == f"skeptic version {old_version}"
    assert cmp["changes"]["skeptic"]["accuracy"] == {"before": 1.0, "after": 0.75}
    assert cmp["flips"] == [{"persona": "skeptic", "slug": "dud-a", "expected": "skip", "before": "skip",
                             "after": "ship", "outcome": "broke"}]
    assert cmp["changes"]["panel"]["ship_rate_on_skips"] == {"before": 0.5, "after": 0.5}

    baseline = run_eval(run_cli, "--baseline", str(first["eval_id"]))["comparison"]
    assert baseline["baseline"] == f"evaluation {first['eval_id']}" and len(baseline["flips"]) == 1
    report = workspace / "outputs" / "eval" / f"tiny-{data['eval_id']}.md"
    assert "Compared with skeptic version" in report.read_text()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("slug,expected\ngood-a,maybe\n", "expected must be one of"),
        ("slug,expected\nnot-here,ship\n", "no brief 'not-here'"),
        ("slug,expected\ngood-a,ship\ngood-a,skip\n", "labelled twice"),
        ("slug,verdict\ngood-a,ship\n", "the first line must be the header"),
        ("slug,expected\ngood-a,ship\n", "briefs without a label"),
    ],
)
def test_a_bad_labels_file_is_one_line_exit_2_and_writes_nothing(workspace, run_cli, labelled, labels, message):
    (labelled / "labels.csv").write_text(labels)
    res = run_cli("eval", "tiny", "--model", "scripted/judge")
    assert res.exit_code == 2 and message in res.stderr and res.stderr.count("\n") == 1
    assert not (workspace / "outputs" / "panel.db").exists()


def test_unknown_baseline_is_exit_2(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    run_eval(run_cli)
    res = run_cli("eval", "tiny", "--model", "scripted/judge", "--baseline", "99")
    assert res.exit_code == 2 and "no stored evaluation 99" in res.stderr


def test_metric_edge_cases():
    assert auc([Scored("a", "ship", "ship", 0.5), Scored("b", "skip", "skip", 0.5)]) == 0.5  # a tie counts half
    assert auc([Scored("a", "ship", "ship", 0.9)]) is None and brier([]) is None
    unanswered = metrics([Scored("a", "ship", None, None), Scored("b", "skip", "skip", 0.2)])
    assert (unanswered.answered, unanswered.accuracy, unanswered.balanced_accuracy) == (1, 1.0, None)


# --- the embedded default, for real -----------------------------------------------------------------

SUBSET = {"pytest": "ship", "git": "ship", "yieldmancer": "skip", "quillkey-studio": "skip"}


@pytest.mark.slow
def test_eval_runs_offline_on_the_embedded_default_and_stores_its_calibration(workspace, run_cli):
    """Four cases of evals/standard (two clear ships, two clear duds) through the real default model:
    a full five-persona eval, offline, with every figure computed and a calibration stored per persona."""
    import shutil
    import sqlite3

    from conftest import REPO

    folder = workspace / "evals" / "subset"
    folder.mkdir(parents=True)
    for slug in SUBSET:
        shutil.copy(REPO / "evals" / "standard" / f"{slug}.yaml", folder)
    (folder / "labels.csv").write_text("slug,expected\n" + "".join(f"{s},{e}\n" for s, e in SUBSET.items()))
    res = run_cli("eval", "subset", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["model"] == "local/smollm2"
    panel = data["metrics"]["panel"]
    assert panel["cases"] == 4 and panel["answered"] == 4
    assert panel["auc"] is not None and panel["brier"] is not None
    assert len(data["items"]) == 4 * 6  # five personas and the panel, four cases each
    db = sqlite3.connect(workspace / "outputs" / "panel.db")
    calibrated = {p for (p,) in db.execute("SELECT persona FROM calibrations WHERE model = 'local/smollm2'")}
    assert calibrated == {"builder", "skeptic", "futurist", "business", "creative"}
    # The decision carries information: the panel does not ship the scam and the keylogger along
    # with pytest and git (the old default shipped all of them).
    assert panel["ship_rate"] < 1.0
    assert (workspace / "outputs" / "eval" / "subset-1.md").exists()


# Six clear cases. The builder and the skeptic make the same two mistakes (g3, d2); the futurist
# shares one of them (g3) and makes another (d1). Errors (wrong = 1) over g1 g2 g3 d1 d2 d3:
# builder = skeptic = 001010, futurist = 001100: r(builder, skeptic) = 1, r(builder, futurist) =
# r(skeptic, futurist) = (1/3) / (4/3) = 0.25. Mean 0.5, so n_eff = 3 / (1 + 2 * 0.5) = 1.5.
# Decisions (ship = 1): builder = skeptic = 110010, futurist = 110100: r = 1, 1/3, 1/3 (mean 5/9).
CORRELATED = {
    "builder": {"g1": "ship", "g2": "ship", "g3": "skip", "d1": "skip", "d2": "ship", "d3": "skip"},
    "skeptic": {"g1": "ship", "g2": "ship", "g3": "skip", "d1": "skip", "d2": "ship", "d3": "skip"},
    "futurist": {"g1": "ship", "g2": "ship", "g3": "skip", "d1": "ship", "d2": "skip", "d3": "skip"},
}


def test_independence_counts_how_many_votes_the_panel_is_worth(workspace, run_cli, make_brief):
    folder = workspace / "evals" / "six"
    for slug in ("g1", "g2", "g3", "d1", "d2", "d3"):
        make_brief(slug, folder=folder)
    (folder / "labels.csv").write_text("slug,expected\ng1,ship\ng2,ship\ng3,ship\nd1,skip\nd2,skip\nd3,skip\n")
    scripted.script("judge", reviewer({p: {s: (d, 0.8) for s, d in calls.items()} for p, calls in CORRELATED.items()}))
    res = run_cli("eval", "six", "--model", "scripted/judge", "--personas", "builder,skeptic,futurist", "--json")
    assert res.exit_code == 0, res.stderr
    ind = json.loads(res.stdout)["independence"]
    pairs = {frozenset((p["a"], p["b"])): p for p in ind["pairs"]}

    def pair(a, b):
        return pairs[frozenset((a, b))]

    assert pair("builder", "skeptic")["errors"] == 1.0 and pair("builder", "skeptic")["decisions"] == 1.0
    assert pair("builder", "futurist")["errors"] == 0.25 and pair("skeptic", "futurist")["errors"] == 0.25
    assert pair("builder", "futurist")["decisions"] == pytest.approx(1 / 3, abs=1e-4)
    assert ind["mean_error_correlation"] == 0.5 and ind["effective_votes"] == 1.5
    assert ind["mean_decision_correlation"] == pytest.approx(5 / 9, abs=1e-4)
    # The majority (g3 and d2 wrong) is no better than any one of them (each wrong twice).
    assert ind["majority_accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert ind["best_accuracy"] == ind["majority_accuracy"]
    assert ind["error_matrix"]["futurist"]["builder"] == 0.25 and ind["error_matrix"]["skeptic"]["skeptic"] == 1.0
    report = (workspace / "outputs" / "eval" / "six-1.md").read_text()
    assert "worth **1.5 independent votes**" in report and re.search(r"\| builder \| 1\.00 \| [0-9.| ]+\|", report)
    matrix = report.split("Correlation of errors")[1]
    row = re.search(r"\| futurist \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|", matrix)
    assert row and sorted(row.groups()) == ["0.25", "0.25", "1.00"]
    html = (workspace / "outputs" / "eval" / "six-1.html").read_text()
    assert "1.5 independent votes</strong>" in html and 'aria-label="Heat map of the error correlations' in html


def test_too_few_cases_to_measure_independence_say_so(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    ind = run_eval(run_cli)["independence"]
    assert ind["effective_votes"] is None and ind["pairs"][0]["why_none"] == "not enough rows"
    assert ind["pairs"][0]["errors"] is None  # never 0 for a figure that was not measured
    assert "Not enough cases to measure how independent" in (workspace / "outputs" / "eval" / "tiny-1.md").read_text()


def test_judge_cards_say_how_far_to_trust_each_persona(workspace, run_cli, make_brief):
    """Six clear cases: the builder writes long rationales when it ships and short ones when it
    skips (length bias 1.0 by construction); κ against the labels computed by hand."""
    folder = workspace / "evals" / "six"
    for slug in ("g1", "g2", "g3", "d1", "d2", "d3"):
        make_brief(slug, folder=folder)
    (folder / "labels.csv").write_text("slug,expected\ng1,ship\ng2,ship\ng3,ship\nd1,skip\nd2,skip\nd3,skip\n")
    calls = {p: {s: (d, 0.8) for s, d in decided.items()} for p, decided in CORRELATED.items()}
    plain = reviewer(calls)

    def wordy(messages):
        answer = plain(messages)
        if answer["verdict"] == "ship" and "You are the Builder" in messages[-1]["content"]:
            answer["rationale"] = "This one earns a long and glowing write-up, many words of praise in a row."
        return answer

    scripted.script("judge", wordy)
    res = run_cli("eval", "six", "--model", "scripted/judge", "--personas", "builder,skeptic,futurist", "--json")
    assert res.exit_code == 0, res.stderr
    cards = {c["persona"]: c for c in json.loads(res.stdout)["judges"]}
    builder = cards["builder"]
    # The builder: right on 4 of 6; it ships 3 of 6 and 3 of 6 are labelled ship, so chance
    # agreement is 0.5 and κ = (4/6 - 0.5) / 0.5 = 1/3.
    assert builder["rows"] == 6 and builder["agreement"] == pytest.approx(4 / 6, abs=1e-4)
    assert builder["kappa"] == pytest.approx(1 / 3, abs=1e-4) and builder["length_bias"] == 1.0
    assert cards["skeptic"]["length_bias"] is None and cards["skeptic"]["missing"]["length_bias"] == "no variation"
    assert builder["stability"] is None and "one sample per seat" in builder["missing"]["stability"]
    assert builder["cost_per_1000"] == 0.0  # the scripted model is free: a real 0, not a missing figure
    report = (workspace / "outputs" / "eval" / "six-1.md").read_text()
    row = (r"\| builder \| 6 \| 0\.67 \| 0\.33 \| 0\.67 \| [0-9.]+ \| [0-9.]+ \| 50% \| n/a \| \d+ \| 1\.00 \|"
           r" \$0\.00 \|")
    assert re.search(row, report)


def test_a_judge_card_with_too_few_cases_says_so(workspace, run_cli, labelled):
    scripted.script("judge", reviewer(ANSWERS))
    card = {c["persona"]: c for c in run_eval(run_cli)["judges"]}["builder"]
    assert card["rows"] == 4 and card["kappa"] is None and card["missing"]["kappa"] == "not enough rows"
    assert card["agreement"] == 0.5  # measured on what there is
