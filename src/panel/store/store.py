"""Writing to the store. Every write is one transaction that takes the write lock first
(`write_lock`, BEGIN IMMEDIATE): a transaction that reads before it writes fails at once when
another process wrote in between. A crash leaves either the whole call, verdict or panel or
nothing. Reads are in panel.store.queries.

`Store` is a context manager: `with Store(path) as store: ...` closes the connection after.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from ..core.brief import ToolBrief
from ..core.panel import PanelResult
from .db import now, open_database, write_lock

_UPSERT_VOTE = (
    "INSERT INTO votes (slug, voter, vote, cast_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (slug, voter) DO UPDATE SET vote = excluded.vote, cast_at = excluded.cast_at"
    " WHERE excluded.cast_at >= votes.cast_at"
)


@dataclass(frozen=True)
class ImportResult:
    read: int  # valid lines in the file
    applied: int  # votes stored (new, or at least as recent as the one they replace)
    stale: int  # older than a vote already stored for that voter and tool: kept the stored one
    new: int = 0  # applied, from a voter with no vote on that tool before
    changed: int = 0  # applied, and the voter's call on that tool changed
    unchanged: int = 0  # applied, the same call as before (e.g. the same file imported again)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"


def insert(db, table: str, row: dict, *, or_ignore: bool = False) -> int:
    """Insert one row given as {column: value}; returns its rowid. Named, not positional, and
    without sqlite-utils' per-insert table introspection and savepoint: in a batch that costs
    ~0.5 ms of CPU per model call (bench/bench_batch.py), a tenth of all the panel's own work."""
    sql = _insert_sql(table, tuple(row))
    if or_ignore:
        sql = sql.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
    return db.execute(sql, row).lastrowid


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = open_database(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what went in ---------------------------------------------------------------------------

    def save_brief(self, brief: ToolBrief, digest: str | None = None) -> str:
        """Store a brief under its content hash (once); returns the hash."""
        digest = digest or brief.content_hash()
        with write_lock(self.db):
            insert(self.db, "briefs", {"hash": digest, "slug": brief.slug, "name": brief.name,
                                       "json": brief.model_dump_json(exclude=brief.unset()),
                                       "first_seen": now()}, or_ignore=True)
        return digest

    def save_persona_version(self, persona) -> None:
        """Store a persona version (a panel.inputs.personas.Persona) with its full prompt text."""
        with write_lock(self.db):
            insert(self.db, "persona_versions", {
                "version": persona.version, "persona": persona.name, "file_text": persona.file_text,
                "system_template": persona.system_source, "prompt_template": persona.prompt_source,
                "first_seen": now()}, or_ignore=True)

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, command: str, model: str, slugs: list[str], concurrency: int,
                  operator: str | None = None) -> int:
        with write_lock(self.db):
            return insert(self.db, "runs", {
                "started_at": now(), "command": command, "model": model, "concurrency": concurrency,
                "operator": operator,
                "briefs": json.dumps(slugs), "status": "running", "calls_made": 0, "calls_reused": 0,
                "prompt_tokens": 0, "completion_tokens": 0, "cost": 0,
            })

    def finish_run(self, run_id: int, status: str, calls_reused: int) -> None:
        """Close a run: its status, and its totals from the calls it recorded. `calls_reused` is the
        batch's own count of answers taken from the store (verdicts and judgments alike: a
        head-to-head's reused judgments are in no panel, and an interrupted run recorded no panel)."""
        with write_lock(self.db):
            self.db.execute(
                """UPDATE runs SET finished_at = ?, status = ?,
                   calls_made = (SELECT count(*) FROM calls WHERE run_id = runs.id),
                   prompt_tokens = (SELECT coalesce(sum(prompt_tokens), 0) FROM calls WHERE run_id = runs.id),
                   completion_tokens = (SELECT coalesce(sum(completion_tokens), 0) FROM calls WHERE run_id = runs.id),
                   cost = (SELECT coalesce(sum(cost), 0) FROM calls WHERE run_id = runs.id),
                   calls_reused = ?
                   WHERE id = ?""",
                [now(), status, calls_reused, run_id],
            )

    # --- results ----------------------------------------------------------------------------------

    def record_call(self, run_id: int, job, call) -> int:
        """Store one model call and the answer it produced, atomically; returns the answer's id.

        `job` (a panel.review.job.Job) says what the call was about and where its answer goes
        (`job.table`: verdicts, judgments); `call` is a panel.models.seam.CallOutcome."""
        stamp = now()
        shared = {"run_id": run_id, "persona": call.persona, "persona_version": call.persona_version,
                  "model": call.model, "params": json.dumps(job.settings.params()), "error": call.error,
                  "created_at": stamp}
        with write_lock(self.db):
            call_id = insert(self.db, "calls", {
                **shared, **job.call_columns(), "request": json.dumps(call.request), "response": call.raw,
                "attempts": call.attempts, "latency": call.latency, "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens, "cost": call.cost, "outcome": call.status,
                "response_mode": call.response_mode, "deployment": call.deployment, "api_base": job.settings.api_base,
            })
            return insert(self.db, job.table, {
                **shared, **job.answer_columns(call.answer), "call_id": call_id, "cache_key": job.key,
                "status": call.status, "raw": call.raw,
            })

    def record_text_call(self, run_id: int, slug: str, call, settings) -> int:
        """Store a plain-text call that answers no persona (a drafted brief's description): the
        prompt, the answer, tokens and cost, for `panel audit show`; returns its id."""
        with write_lock(self.db):
            return insert(self.db, "calls", {
                "run_id": run_id, "slug": slug, "persona": call.persona, "model": call.model,
                "params": json.dumps(settings.params()), "request": json.dumps(call.request), "response": call.raw,
                "attempts": call.attempts, "latency": call.latency, "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens, "cost": call.cost, "outcome": call.status,
                "error": call.error, "created_at": now(), "api_base": settings.api_base,
                "deployment": call.deployment, "response_mode": call.response_mode})

    def record_panel(self, run_id: int, panel: PanelResult) -> int:
        lo, hi = panel.interval
        with write_lock(self.db):
            panel_id = insert(self.db, "panels", {
                "run_id": run_id, "slug": panel.slug, "brief_hash": panel.brief_hash, "seated": len(panel.seated),
                "reported": panel.reported, "ships": panel.ships, "ship_pct": panel.ship_pct,
                "interval_lo": lo, "interval_hi": hi, "created_at": now(),
            })
            for r in panel.ordered():
                insert(self.db, "panel_members", {
                    "panel_id": panel_id, "persona": r.persona, "verdict_id": r.verdict_id, "cached": int(r.cached),
                    "samples": len(r.sampled) if r.sampled else 1, "stability": r.stability,
                    "jurors": json.dumps([j.to_row() for j in r.jurors]) if r.jurors else None,
                })
        return panel_id

    def record_publication(self, plan) -> dict | None:
        """Record a publication or withdrawal. `plan(db)` (panel.publish.publication) returns its row,
        None for nothing to record, or raises; it runs under the write lock, so of two editors
        publishing the same tool at once the second sees the first's record (and its changes)."""
        with write_lock(self.db):
            row = plan(self.db)
            if row is not None:
                row["id"] = insert(self.db, "publications", row)
            return row

    def save_editor_label(self, slug: str, call: str, note: str | None, operator: str, source: str) -> int:
        """Record an editor's call on a tool (a new row each time: the newest counts)."""
        with write_lock(self.db):
            return insert(self.db, "editor_labels", {"slug": slug, "call": call, "note": note, "operator": operator,
                                                     "labelled_at": now(), "source": source})

    def save_calibration(self, key: str, persona: str, version: str, model: str, offset: float,
                         content_free: list[float]) -> None:
        with write_lock(self.db):
            insert(self.db, "calibrations", {"key": key, "persona": persona, "persona_version": version, "model": model,
                                             "offset": offset, "content_free": json.dumps(content_free),
                                             "created_at": now()}, or_ignore=True)

    def save_response_mode(self, api_base: str, model: str, mode: str) -> None:
        """Remember the structured-output mode a server accepted, so later runs start with it."""
        with write_lock(self.db):
            self.db.execute("INSERT OR REPLACE INTO response_modes (api_base, model, mode, learned_at)"
                            " VALUES (?, ?, ?, ?)", [api_base, model, mode, now()])

    def save_evaluation(self, evaluation, markdown_path: Path | None = None, html_path: Path | None = None) -> int:
        """Record an evaluation (panel.analysis.evaluation.Evaluation) and every item it scored."""
        with write_lock(self.db):
            eval_id = insert(self.db, "eval_runs", {
                "set_name": evaluation.set_name, "set_digest": evaluation.set_digest, "run_id": evaluation.run_id,
                "model": evaluation.model, "samples": evaluation.samples,
                "personas": json.dumps(evaluation.personas), "versions": json.dumps(evaluation.versions),
                "metrics": json.dumps({k: m.to_json() for k, m in evaluation.metrics().items()}),
                "judges": json.dumps({"independence": evaluation.independence(),
                                      "cards": [card.to_json() for card in evaluation.judge_cards()]}),
                "created_at": now(), "markdown_path": str(markdown_path or ""), "html_path": str(html_path or ""),
            })
            for against in ("items", "borderline", "community"):
                for who, items in getattr(evaluation, against).items():
                    for item in items:
                        insert(self.db, "eval_items", {
                            "eval_id": eval_id, "persona": who, "slug": item.slug,
                            "against": {"items": "label"}.get(against, against), "expected": item.expected,
                            "decision": item.decision, "p_ship": item.p_ship,
                            "persona_version": evaluation.versions.get(who),
                            "verdict_id": evaluation.verdict_ids.get((item.slug, who)),
                        })
        return eval_id

    def set_evaluation_files(self, eval_id: int, markdown_path: Path, html_path: Path) -> None:
        with write_lock(self.db):
            self.db.execute("UPDATE eval_runs SET markdown_path = ?, html_path = ? WHERE id = ?",
                            [str(markdown_path), str(html_path), eval_id])

    # --- community votes and comparisons ----------------------------------------------------------

    def save_votes(self, votes, source: str = "cli") -> ImportResult:
        """Store votes (panel.inputs.votes.Vote) in one transaction; a vote older than the stored one
        for that voter and tool is ignored, so the latest wins whatever order they arrive in. A new or
        changed vote is also a row of its history, with `source` ("cli", "import votes.csv")."""
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        applied = 0
        with write_lock(self.db):
            for vote in votes:
                before = self.db.execute("SELECT vote FROM votes WHERE slug = ? AND voter = ?",
                                         [vote.slug, vote.voter]).fetchone()
                stored = self.db.execute(_UPSERT_VOTE, [vote.slug, vote.voter, vote.vote, vote.cast_at]).rowcount
                applied += stored
                if not stored:
                    continue
                kind = "new" if before is None else "unchanged" if before[0] == vote.vote else "changed"
                counts[kind] += 1
                if kind != "unchanged":
                    self._vote_history(vote.slug, vote.voter, vote.vote, vote.cast_at, source)
        return ImportResult(read=len(votes), applied=applied, stale=len(votes) - applied, **counts)

    def retract_vote(self, slug: str, voter: str, source: str = "cli") -> bool:
        """Take back a voter's current vote on a tool (its history keeps it); False if there was none."""
        with write_lock(self.db):
            gone = self.db.execute("DELETE FROM votes WHERE slug = ? AND voter = ?", [slug, voter]).rowcount
            if gone:
                self._vote_history(slug, voter, None, now(), source)
        return bool(gone)

    def _vote_history(self, slug: str, voter: str, vote: str | None, cast_at: str, source: str) -> None:
        insert(self.db, "vote_history", {"slug": slug, "voter": voter, "vote": vote, "cast_at": cast_at,
                                         "source": source, "recorded_at": now()})

    def save_comparison(self, slugs: list[str], created_at: str, data: str, markdown_path: Path, html_path: Path,
                        editor=None, editor_call=None) -> int:
        """Record a comparison: its data as JSON, the files written, and a newly written editor note
        with the call that wrote it (a panel.models.seam.CallOutcome: messages, tokens, cost)."""
        row = {"slugs": json.dumps(slugs), "created_at": created_at, "data": data,
               "markdown_path": str(markdown_path), "html_path": str(html_path)}
        if editor is not None and editor_call is not None:
            row |= {"editor_model": editor.model, "editor_summary": editor.summary,
                    "editor_request": json.dumps(editor_call.request), "editor_attempts": editor_call.attempts,
                    "editor_latency": editor_call.latency, "editor_prompt_tokens": editor_call.prompt_tokens,
                    "editor_completion_tokens": editor_call.completion_tokens, "editor_cost": editor_call.cost}
        with write_lock(self.db):
            return insert(self.db, "comparisons", row)
