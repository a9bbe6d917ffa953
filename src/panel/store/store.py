"""Writing to the store. Every write is one transaction that takes the write lock first
(`write_lock`, BEGIN IMMEDIATE): sqlite-utils reads a table's columns before it inserts, and a
transaction that reads before it writes fails at once when another process wrote in between. A
crash leaves either the whole call, verdict or panel or nothing. Reads are in panel.store.queries.

`Store` is a context manager: `with Store(path) as store: ...` closes the connection after.
"""

from __future__ import annotations

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
    applied: int  # votes stored (new, or newer than the one they replace)
    stale: int  # older than a vote already stored for that voter and tool: kept the stored one


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
            self.db["briefs"].insert(
                {"hash": digest, "slug": brief.slug, "name": brief.name, "json": brief.model_dump_json(),
                 "first_seen": now()},
                ignore=True,
            )
        return digest

    def save_persona_version(self, persona) -> None:
        """Store a persona version (a panel.inputs.personas.Persona) with its full prompt text."""
        with write_lock(self.db):
            self.db["persona_versions"].insert(
                {"version": persona.version, "persona": persona.name, "file_text": persona.file_text,
                 "system_template": persona.system_source, "prompt_template": persona.prompt_source,
                 "first_seen": now()},
                ignore=True,
            )

    # --- runs -----------------------------------------------------------------------------------

    def start_run(self, command: str, model: str, slugs: list[str], concurrency: int) -> int:
        with write_lock(self.db):
            table = self.db["runs"].insert({
                "started_at": now(), "command": command, "model": model, "concurrency": concurrency,
                "briefs": json.dumps(slugs), "status": "running", "calls_made": 0, "calls_reused": 0,
                "prompt_tokens": 0, "completion_tokens": 0, "cost": 0,
            })
        return table.last_pk

    def finish_run(self, run_id: int, status: str) -> None:
        with write_lock(self.db):
            self.db.execute(
                """UPDATE runs SET finished_at = ?, status = ?,
                   calls_made = (SELECT count(*) FROM calls WHERE run_id = runs.id),
                   prompt_tokens = (SELECT coalesce(sum(prompt_tokens), 0) FROM calls WHERE run_id = runs.id),
                   completion_tokens = (SELECT coalesce(sum(completion_tokens), 0) FROM calls WHERE run_id = runs.id),
                   cost = (SELECT coalesce(sum(cost), 0) FROM calls WHERE run_id = runs.id),
                   calls_reused = (SELECT count(*) FROM panel_members m JOIN panels p ON p.id = m.panel_id
                                   WHERE p.run_id = runs.id AND m.cached = 1)
                   WHERE id = ?""",
                [now(), status, run_id],
            )

    # --- results ----------------------------------------------------------------------------------

    def record_call(self, run_id: int, slug: str, brief_hash: str, key: str, params: dict, call) -> int:
        """Store one model call and the verdict it produced, atomically. Returns the verdict id.

        `call` is a panel.models.seam.CallOutcome."""
        stamp = now()
        shared = {"run_id": run_id, "slug": slug, "brief_hash": brief_hash, "persona": call.persona,
                  "persona_version": call.persona_version, "model": call.model, "params": json.dumps(params),
                  "error": call.error, "created_at": stamp}
        with write_lock(self.db):
            call_id = self.db["calls"].insert({
                **shared, "request": json.dumps(call.request), "response": call.raw, "attempts": call.attempts,
                "latency": call.latency, "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens, "cost": call.cost, "outcome": call.status,
                "response_mode": call.response_mode,
            }).last_pk
            verdict = call.verdict.to_columns() if call.verdict else {}
            verdict_id = self.db["verdicts"].insert({
                **shared, "call_id": call_id, "cache_key": key, "status": call.status, **verdict, "raw": call.raw,
            }).last_pk
        return verdict_id

    def record_panel(self, run_id: int, panel: PanelResult) -> int:
        lo, hi = panel.interval
        with write_lock(self.db):
            panel_id = self.db["panels"].insert({
                "run_id": run_id, "slug": panel.slug, "brief_hash": panel.brief_hash, "seated": len(panel.seated),
                "reported": panel.reported, "ships": panel.ships, "ship_pct": panel.ship_pct,
                "interval_lo": lo, "interval_hi": hi, "created_at": now(),
            }).last_pk
            self.db["panel_members"].insert_all(
                {"panel_id": panel_id, "persona": r.persona, "verdict_id": r.verdict_id, "cached": int(r.cached)}
                for r in panel.results
            )
        return panel_id

    def save_response_mode(self, api_base: str, model: str, mode: str) -> None:
        """Remember the structured-output mode a server accepted, so later runs start with it."""
        with write_lock(self.db):
            self.db["response_modes"].upsert(
                {"api_base": api_base, "model": model, "mode": mode, "learned_at": now()}, pk=("api_base", "model")
            )

    # --- community votes and comparisons ----------------------------------------------------------

    def save_votes(self, votes) -> ImportResult:
        """Store votes (panel.inputs.votes.Vote) in one transaction; a vote older than the stored one
        for that voter and tool is ignored, so the latest wins whatever order they arrive in."""
        applied = 0
        with write_lock(self.db):
            for vote in votes:
                applied += self.db.execute(_UPSERT_VOTE, [vote.slug, vote.voter, vote.vote, vote.cast_at]).rowcount
        return ImportResult(read=len(votes), applied=applied, stale=len(votes) - applied)

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
            return self.db["comparisons"].insert(row).last_pk
