"""Schema migrations. Append new functions to MIGRATIONS; never edit one that has shipped. The
verdict store's are here; what publishing and the editors added (m013 on) is in
panel.store.migrations_publication.

Each runs once, inside a transaction, and is recorded in the `_migrations` table.
"""

from __future__ import annotations

from sqlite_utils import Database

from .migrations_publication import (m013_publications, m014_editor_labels, m015_jury_members,
                                     m016_acknowledged_flags, m017_submissions)


def m001_initial(db: Database) -> None:
    db["briefs"].create(
        {"hash": str, "slug": str, "name": str, "json": str, "first_seen": str},
        pk="hash",
    )
    db["briefs"].create_index(["slug"])
    db["persona_versions"].create(
        {
            "version": str,
            "persona": str,
            "file_text": str,
            "system_template": str,
            "prompt_template": str,
            "first_seen": str,
        },
        pk="version",
    )
    db["persona_versions"].create_index(["persona"])
    db["runs"].create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "command": str,
            "model": str,
            "concurrency": int,
            "briefs": str,  # JSON list of slugs
            "status": str,  # running | complete | partial | interrupted
            "calls_made": int,
            "calls_reused": int,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cost": float,
        },
        pk="id",
    )
    db["calls"].create(
        {
            "id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "persona": str,
            "persona_version": str,
            "model": str,
            "params": str,  # JSON sampling params
            "request": str,  # JSON messages as sent, re-asks included
            "response": str,  # raw text of the last completion
            "attempts": int,
            "latency": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cost": float,
            "outcome": str,  # ok | unscored | error
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[
            ("run_id", "runs", "id"),
            ("brief_hash", "briefs", "hash"),
            ("persona_version", "persona_versions", "version"),
        ],
    )
    db["calls"].create_index(["run_id"])
    db["verdicts"].create(
        {
            "id": int,
            "call_id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "persona": str,
            "persona_version": str,
            "model": str,
            "params": str,
            "cache_key": str,
            "status": str,  # ok | unscored | error
            "verdict": str,  # ship | skip | NULL
            "confidence": float,
            "headline": str,
            "rationale": str,
            "strengths": str,  # JSON lists
            "risks": str,
            "competitors": str,
            "raw": str,
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[
            ("call_id", "calls", "id"),
            ("run_id", "runs", "id"),
            ("brief_hash", "briefs", "hash"),
            ("persona_version", "persona_versions", "version"),
        ],
    )
    # The cache lookup: only ok verdicts are ever reused.
    db.execute("CREATE INDEX idx_verdicts_cache ON verdicts (cache_key) WHERE status = 'ok'")
    db["verdicts"].create_index(["slug", "persona"])
    db["verdicts"].enable_fts(["headline", "rationale"], create_triggers=True, tokenize="porter")
    db["panels"].create(
        {
            "id": int,
            "run_id": int,
            "slug": str,
            "brief_hash": str,
            "seated": int,
            "reported": int,
            "ships": int,
            "ship_pct": float,
            "interval_lo": float,
            "interval_hi": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("brief_hash", "briefs", "hash")],
    )
    db["panels"].create_index(["slug"])
    db["panel_members"].create(
        {"panel_id": int, "persona": str, "verdict_id": int, "cached": int},
        pk=("panel_id", "persona"),
        foreign_keys=[("panel_id", "panels", "id"), ("verdict_id", "verdicts", "id")],
    )


def m002_votes_and_comparisons(db: Database) -> None:
    """Community votes and stored comparison write-ups (issue 4)."""
    # One vote per voter per tool: the primary key makes "latest wins" an upsert.
    db["votes"].create(
        {"slug": str, "voter": str, "vote": str, "cast_at": str},  # vote: ship | skip; cast_at: UTC ISO-8601
        pk=("slug", "voter"),
        not_null={"slug", "voter", "vote", "cast_at"},
    )
    db["comparisons"].create(
        {
            "id": int,
            "slugs": str,  # JSON list, in the order the user named them
            "created_at": str,
            "data": str,  # JSON of the Comparison the pages were rendered from
            "editor_model": str,
            "editor_summary": str,  # LLM-written text shown above the data, never instead of it
            "editor_request": str,  # JSON messages sent to the editor model, for the audit
            "markdown_path": str,
            "html_path": str,
        },
        pk="id",
    )
    db["comparisons"].create_index(["slugs"])


def m003_audit_views(db: Database) -> None:
    """SQL views for the audit and for Datasette (issue 5), and the indexes the audit reads by."""
    # `audit show` reads a run's verdicts and panels; `audit runs` counts a run's calls by outcome;
    # `personas history` counts verdicts per version (covered by the index, no table reads).
    db["verdicts"].create_index(["call_id"])
    db["verdicts"].create_index(["persona", "persona_version", "status", "verdict"])
    db["calls"].create_index(["run_id", "outcome"])
    db["panels"].create_index(["run_id"])
    db["panel_members"].create_index(["verdict_id"])
    # The latest verdict of each persona on each tool is the one in the newest panel that seated
    # it. Panels, not verdict rows, decide: a panel may reuse an older stored verdict (after a
    # prompt edit is reverted, say), and that reused verdict is the current one. One indexed
    # probe per tool × persona, newest panel first, so the view stays fast on a large store and
    # `WHERE slug = ?` reaches only that tool's panels.
    db.execute(
        """CREATE VIEW latest_verdicts AS
        SELECT x.slug, x.persona, x.panel_id, p.run_id AS panel_run_id, p.created_at AS panel_created_at,
               m.cached AS reused, v.id AS verdict_id, v.status, v.verdict, v.confidence, v.headline,
               v.rationale, v.persona_version, v.model, v.brief_hash, v.run_id, v.call_id, v.created_at
        FROM (
            SELECT s.slug, n.persona,
                   (SELECT lp.id FROM panels lp
                    JOIN panel_members lm ON lm.panel_id = lp.id AND lm.persona = n.persona
                    WHERE lp.slug = s.slug ORDER BY lp.id DESC LIMIT 1) AS panel_id
            FROM (SELECT DISTINCT slug FROM panels) s, (SELECT DISTINCT persona FROM persona_versions) n
        ) x
        JOIN panels p ON p.id = x.panel_id
        JOIN panel_members m ON m.panel_id = x.panel_id AND m.persona = x.persona
        JOIN verdicts v ON v.id = m.verdict_id"""
    )
    # "Newest stored version" is the last one the store saw for that persona (rowid order). SQL
    # cannot see the files on disk; `panel rerun --changed` compares with those instead.
    db.execute(
        """CREATE VIEW newest_persona_versions AS
        SELECT persona, version, first_seen FROM persona_versions
        WHERE rowid IN (SELECT max(rowid) FROM persona_versions GROUP BY persona)"""
    )
    db.execute(
        """CREATE VIEW stale_verdicts AS
        SELECT l.*, n.version AS newest_version, n.first_seen AS newest_version_seen
        FROM latest_verdicts l JOIN newest_persona_versions n ON n.persona = l.persona
        WHERE l.persona_version != n.version"""
    )
    db.execute(
        """CREATE VIEW run_summary AS
        SELECT r.id, r.started_at, r.finished_at,
               round((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0, 3) AS duration_s,
               r.command, r.model, r.status, json_array_length(r.briefs) AS brief_count, r.briefs,
               r.calls_made, r.calls_reused, r.prompt_tokens, r.completion_tokens, r.cost,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'ok') AS calls_ok,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'unscored') AS calls_unscored,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'error') AS calls_error
        FROM runs r"""
    )
    db.execute(
        """CREATE VIEW persona_version_usage AS
        SELECT pv.persona, pv.version, pv.first_seen,
               count(v.id) AS verdicts,
               coalesce(sum(v.status = 'ok'), 0) AS ok,
               coalesce(sum(v.verdict = 'ship'), 0) AS ships,
               coalesce(sum(v.verdict = 'skip'), 0) AS skips
        FROM persona_versions pv
        LEFT JOIN verdicts v ON v.persona = pv.persona AND v.persona_version = pv.version
        GROUP BY pv.rowid"""
    )


def m004_editor_usage(db: Database) -> None:
    """The comparison editor's call goes through the model seam now: keep its usage like any call's."""
    for column, kind in (("editor_attempts", int), ("editor_latency", float), ("editor_prompt_tokens", int),
                         ("editor_completion_tokens", int), ("editor_cost", float)):
        db["comparisons"].add_column(column, kind)


def m005_current_verdicts_and_response_modes(db: Database) -> None:
    """The current-verdict rule as a view (each persona's newest ok verdict per tool; a failure
    never displaces it), and the structured-output mode each server took (issue 11)."""
    db.execute(
        """CREATE VIEW current_verdicts AS
        SELECT * FROM (
            SELECT v.*, row_number() OVER (PARTITION BY v.slug, v.persona ORDER BY v.id DESC) AS newest
            FROM verdicts v WHERE v.status = 'ok')
        WHERE newest = 1"""
    )
    db["calls"].add_column("response_mode", str)  # json_schema | json_object | prompted (panel.models.formats)
    db["response_modes"].create(
        {"api_base": str, "model": str, "mode": str, "learned_at": str}, pk=("api_base", "model")
    )


def m006_samples(db: Database) -> None:
    """Self-consistency (--samples K): how many samples a panel seat had and how many agreed. The
    samples themselves are ordinary verdicts whose params carry their index (issue 12)."""
    db["panel_members"].add_column("samples", int)
    db["panel_members"].add_column("stability", float)


def m007_evaluations(db: Database) -> None:
    """panel eval (issue 12): each evaluation of a labelled set, linked to the run that reviewed it,
    and every scored item, linked to its verdict and persona version."""
    db["eval_runs"].create(
        {
            "id": int,
            "set_name": str,
            "set_digest": str,  # of the labels and briefs: which exact set was scored
            "run_id": int,
            "model": str,
            "samples": int,
            "personas": str,  # JSON list
            "versions": str,  # JSON {persona: version}
            "metrics": str,  # JSON {persona or "panel": metrics}, clear cases
            "created_at": str,
            "markdown_path": str,
            "html_path": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["eval_items"].create(
        {
            "eval_id": int,
            "persona": str,  # a persona, or "panel"
            "slug": str,
            "against": str,  # label | borderline | community
            "expected": str,
            "decision": str,  # ship | skip | NULL (no usable answer, or split)
            "p_ship": float,
            "persona_version": str,
            "verdict_id": int,
        },
        pk=("eval_id", "persona", "slug", "against"),
        foreign_keys=[("eval_id", "eval_runs", "id"), ("verdict_id", "verdicts", "id")],
    )


def m008_deployments(db: Database) -> None:
    """With --router (issue 13): which of a model's deployments answered each call."""
    db["calls"].add_column("deployment", str)


def m009_judgments(db: Database) -> None:
    """Head-to-head judgments (issue 14): a persona shown two tools in one order (named or brand-blind)
    picks one or calls a tie. Each is a model call like a verdict, cached by its own key."""
    db["calls"].add_column("kind", str)  # NULL: a verdict; "judgment": a head-to-head judgment
    db["judgments"].create(
        {
            "id": int,
            "call_id": int,
            "run_id": int,
            "persona": str,
            "persona_version": str,
            "prompt_version": str,  # hash of the head-to-head templates
            "model": str,
            "params": str,
            "cache_key": str,
            "first_slug": str,  # as shown: the order matters
            "second_slug": str,
            "first_hash": str,
            "second_hash": str,
            "blind": int,  # 1: names, vendors and links masked
            "status": str,  # ok | unscored | error
            "pick": str,  # first | second | tie
            "picked": str,  # the slug picked, or "tie"
            "confidence": float,
            "headline": str,
            "rationale": str,
            "raw": str,
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("call_id", "calls", "id"), ("run_id", "runs", "id"),
                      ("persona_version", "persona_versions", "version")],
    )
    db.execute("CREATE INDEX idx_judgments_cache ON judgments (cache_key) WHERE status = 'ok'")
    db["judgments"].create_index(["first_slug", "second_slug"])


def m010_calibrations(db: Database) -> None:
    """The embedded model's decision is calibrated per persona prompt (issue 12): the log-odds of
    "good" its prompt gives content-free briefs, kept with the persona version it belongs to."""
    db["calibrations"].create(
        {"key": str, "persona": str, "persona_version": str, "model": str, "offset": float,
         "content_free": str, "created_at": str},  # content_free: JSON list of P(good) per empty brief
        pk="key",
    )


def m011_call_endpoints(db: Database) -> None:
    """The endpoint a call went to (issue 22): two self-hosted servers may serve different models
    under one name, so `audit show` names the server, and answers are cached per endpoint."""
    db["calls"].add_column("api_base", str)


def m012_vote_history(db: Database) -> None:
    """Votes keep their history (issue 22): every new or changed vote, and every retraction, is a row
    with its source; `votes` still holds each voter's current vote, the one that counts. The votes
    stored before are copied in as the first rows of their history."""
    db["vote_history"].create(
        {"id": int, "slug": str, "voter": str, "vote": str,  # vote: ship | skip | NULL (retracted)
         "cast_at": str, "source": str, "recorded_at": str},  # source: "cli", "import votes.csv"
        pk="id", not_null={"slug", "voter", "cast_at", "source", "recorded_at"},
    )
    db["vote_history"].create_index(["slug", "voter"])
    db.execute("INSERT INTO vote_history (slug, voter, vote, cast_at, source, recorded_at)"
               " SELECT slug, voter, vote, cast_at, 'stored before vote history', cast_at FROM votes")


MIGRATIONS = [m001_initial, m002_votes_and_comparisons, m003_audit_views, m004_editor_usage,
              m005_current_verdicts_and_response_modes, m006_samples, m007_evaluations, m008_deployments,
              m009_judgments, m010_calibrations, m011_call_endpoints, m012_vote_history, m013_publications,
              m014_editor_labels, m015_jury_members,
              m016_acknowledged_flags, m017_submissions]
