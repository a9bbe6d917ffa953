"""Schema migrations of publishing and editorial work (m013 on): publications, editors' labels,
juries' votes, acknowledged linter flags, the submission queue. Listed in MIGRATIONS
(panel.store.migrations), in order; never edit one that has shipped."""

from __future__ import annotations

from sqlite_utils import Database


def m013_publications(db: Database) -> None:
    """Publishing is a recorded act (issue 21). A row pins one panel of a tool (`panel_id`, with the
    figures it showed, so a page never recomputes them) or withdraws the tool (`action` unpublish);
    the public site shows each tool's newest row whose `visible_from` has passed (an embargo holds a
    row until then). `changes` says what moved since the tool's previous publication. Runs and
    publications record who did them."""
    db["publications"].create(
        {"id": int, "slug": str, "action": str,  # publish | unpublish
         "panel_id": int, "brief_hash": str, "verdict_ids": str,  # JSON list
         "ship_pct": float, "ships": int, "reported": int, "seated": int, "call": str,  # ship | skip | split | NULL
         "models": str, "persona_versions": str,  # JSON list, JSON {persona: version}
         "previous_id": int, "changes": str,  # JSON list of sentences; [] for a first publication
         "note": str, "operator": str, "recorded_at": str, "visible_from": str},
        pk="id", not_null={"slug", "action", "operator", "recorded_at", "visible_from"},
        foreign_keys=[("panel_id", "panels", "id")],
    )
    db["publications"].create_index(["slug"])
    db["runs"].add_column("operator", str)
    db.execute("DROP VIEW run_summary")  # the same view, with who ran it
    db.execute(
        """CREATE VIEW run_summary AS
        SELECT r.id, r.started_at, r.finished_at,
               round((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0, 3) AS duration_s,
               r.command, r.model, r.operator, r.status, json_array_length(r.briefs) AS brief_count, r.briefs,
               r.calls_made, r.calls_reused, r.prompt_tokens, r.completion_tokens, r.cost,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'ok') AS calls_ok,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'unscored') AS calls_unscored,
               (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.outcome = 'error') AS calls_error
        FROM runs r"""
    )


def m014_editor_labels(db: Database) -> None:
    """An editor's own call on a tool is a label (issue 24): given at sign-off (`panel publish
    --editor-call`) or alone (`panel label`), with who and when. Never overwritten: a new call is a
    new row, and the newest counts. `panel eval --labels editors` scores the personas against them."""
    db["editor_labels"].create(
        {"id": int, "slug": str, "call": str, "note": str, "operator": str, "labelled_at": str,
         "source": str},  # call: ship | skip; source: label | publish
        pk="id", not_null={"slug", "call", "operator", "labelled_at", "source"},
    )
    db["editor_labels"].create_index(["slug"])
    # What `panel eval` measured of the judges (n_eff, judge cards), for the site's methodology page.
    db["eval_runs"].add_column("judges", str)


def m015_jury_members(db: Database) -> None:
    """A seat held by a jury of models (issue 24): the member row keeps each juror's vote as JSON,
    [[model, decision or null, verdict id or null], ...] ("recused" for a juror left out), so pages
    and the standing panel show the jury's votes, not one juror's answer."""
    db["panel_members"].add_column("jurors", str)


def m016_acknowledged_flags(db: Database) -> None:
    """Publishing a tool whose brief the linter flags (issue 25) needs `--ack-flags`; the flags the
    editor acknowledged are kept with the publication, as JSON."""
    db["publications"].add_column("acknowledged_flags", str)


def m017_submissions(db: Database) -> None:
    """The submission queue (issue 26): a submitted brief waits as `pending` until an editor
    accepts or rejects it. `contact` is the submitter's private address (never on a page, in the
    feed or in a public command's --json); `contact_key` is it case-folded, for the daily limit.
    `flags` are the linter's flags and `duplicates` the possible duplicates, both JSON. Every change
    of state is a row of submission_events, with who and when."""
    db["submissions"].create(
        {"id": int, "slug": str, "name": str, "brief": str, "brief_hash": str, "submitter": str, "contact": str,
         "contact_key": str, "source": str, "state": str, "flags": str, "duplicates": str,
         "submitted_at": str, "decided_at": str, "decided_by": str, "reason": str, "accepted_as": str,
         "run_id": int},
        pk="id", not_null={"slug", "name", "brief", "brief_hash", "submitter", "contact", "contact_key", "source",
                           "state", "submitted_at"},
    )
    db["submissions"].create_index(["state"])
    db["submissions"].create_index(["contact_key", "submitted_at"])
    db["submission_events"].create(
        {"id": int, "submission_id": int, "state": str, "at": str, "by": str, "note": str},
        pk="id", not_null={"submission_id", "state", "at", "by"}, foreign_keys=[("submission_id", "submissions", "id")],
    )
