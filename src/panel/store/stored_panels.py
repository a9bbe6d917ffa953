"""Stored panels read back: a recorded panel as it was (its samples and jury votes), and a tool's
standing panel (each persona's newest usable verdict, with its samples' or jury's majority).
The row-level reads they use are in panel.store.queries."""

from __future__ import annotations

import json

from ..core.panel import PanelResult, aggregate, seat_result
from ..core.verdict import RECUSED, FailedAttempt, Juror, PersonaResult
from .queries import brief_json, filters, latest_panel_row, rows


def panel_by_id(db, panel_id: int) -> PanelResult:
    """A stored panel rebuilt from its verdicts, in seating order."""
    panel = rows(db, "SELECT * FROM panels WHERE id = ?", [panel_id])[0]
    members = rows(
        db,
        "SELECT m.persona AS member, m.cached, m.samples, m.stability, m.jurors, v.* FROM panel_members m"
        " JOIN verdicts v ON v.id = m.verdict_id WHERE m.panel_id = ? ORDER BY m.rowid",
        [panel_id],
    )
    results = [_with_samples(PersonaResult.from_row(m, cached=bool(m["cached"])), m) for m in members]
    return PanelResult(slug=panel["slug"], brief_hash=panel["brief_hash"], seated=[r.persona for r in results],
                       results=results)


def _with_samples(result: PersonaResult, member: dict) -> PersonaResult:
    """A seat of K samples as it was recorded: the member row keeps K and the share that agreed, and
    the verdict shown is one of the majority (any one, on an even split), which is enough to give
    the seat back its decision (or split) and its stability."""
    if member.get("jurors"):
        return with_jurors(result, member["jurors"])
    k, stability = member.get("samples") or 1, member.get("stability")
    if k < 2 or stability is None or result.verdict is None:
        return result
    agree = round(stability * k)
    shown = result.verdict.verdict
    other = "skip" if shown == "ship" else "ship"
    result.sampled = [shown] * agree + [other] * (k - agree)
    return result


def latest_panel(db, slug: str) -> PanelResult | None:
    row = latest_panel_row(db, slug)
    return None if row is None else panel_by_id(db, row["id"])


def with_jurors(result: PersonaResult, stored: str) -> PersonaResult:
    """A jury seat as its member row recorded it: each juror's vote, and the answered ones' decisions."""
    result.jurors = [Juror(*row) for row in json.loads(stored)]
    result.sampled = [j.vote for j in result.jurors if j.vote in ("ship", "skip")] or None
    return result


def _jury_seats(db, slug: str, results: list[PersonaResult]) -> None:
    """Seats whose standing verdict was a jury's: given back the jury's votes, from the newest panel
    member row that recorded a jury with that verdict among its jurors."""
    members = rows(db, "SELECT m.persona, m.jurors FROM panel_members m JOIN panels p ON p.id = m.panel_id"
                       " WHERE p.slug = ? AND m.jurors IS NOT NULL ORDER BY m.rowid DESC", [slug])
    for i, result in enumerate(results):
        for member in members:
            if member["persona"] != result.persona or result.verdict_id is None:
                continue
            if result.verdict_id in {row[2] for row in json.loads(member["jurors"])}:
                results[i] = with_jurors(result, member["jurors"])
            break


def current_panel(db, slug: str, model: str | None = None) -> PanelResult | None:
    """A tool's standing panel: each seated persona's current verdict, or, for a persona that has
    none yet, its latest failed attempt. None when nothing at all is stored for the tool.

    Seated are the personas the newest judged brief names in `panel:`; without one, every persona
    that has been asked about the tool. Seats are in that order (else by name)."""
    where, params = filters({"model": model})
    found = rows(db, f"SELECT * FROM verdicts WHERE slug = ?{where} ORDER BY id", [slug, *params])
    if not found:
        return None
    newest: dict[str, dict] = {}  # persona -> newest row of any status
    standing: dict[str, dict] = {}  # persona -> newest ok row
    samples: dict[tuple, dict[int, dict]] = {}  # sample family -> index -> newest ok row
    for row in found:
        newest[row["persona"]] = row
        if row["status"] == "ok":
            standing[row["persona"]] = row
            family, index = _sample_family(row)
            samples.setdefault(family, {})[index] = row
    judged = max((standing or newest).values(), key=lambda row: row["id"])
    brief = brief_json(db, judged["brief_hash"]) or {}
    seated = list(brief.get("panel") or sorted(newest))
    results = []
    for persona in seated:
        if persona not in newest:
            continue  # seated but never asked (e.g. left out with --personas): not shown as failed
        ok = standing.get(persona)
        family = samples.get(_sample_family(ok)[0], {}) if ok else {}
        results.append(_standing_result(ok, newest[persona], list(family.values())))
    _jury_seats(db, slug, results)
    return PanelResult(slug=slug, brief_hash=judged["brief_hash"], seated=seated, results=results)


def _sample_family(row: dict) -> tuple[tuple, int]:
    """Which set of --samples answers a verdict belongs to (same prompt version, brief, model and
    params but for the sample index), and its index in it (0 for a plain review)."""
    params = json.loads(row["params"] or "{}")
    index = params.pop("sample", 0)
    family = (row["persona"], row["persona_version"], row["brief_hash"], row["model"],
              json.dumps(params, sort_keys=True))
    return family, index


def _standing_result(ok: dict | None, latest: dict, samples: list[dict]) -> PersonaResult:
    """The seat's current verdict (with its samples' majority, if it had samples) and any newer
    failed attempt; with no ok verdict at all, that failed attempt."""
    if ok is None:
        return PersonaResult.from_row(latest, cached=True)
    result = seat_result([PersonaResult.from_row(row, cached=True) for row in samples]) if len(samples) > 1 \
        else PersonaResult.from_row(ok, cached=True)
    if latest["id"] != ok["id"] and latest["status"] != "ok":
        result.last_failure = FailedAttempt.from_row(latest)
    return result


def juror_panels(db, panels: dict[str, PanelResult]) -> dict[str, dict[str, PanelResult]]:
    """model -> slug -> the panel that one juror would have made alone: every jury seat held by its
    own stored answer (a recused juror leaves that seat empty). Tools it sat on no seat of get an
    empty panel, so each model is scored on the whole set."""
    ids = [j.verdict_id for p in panels.values() for r in p.results for j in (r.jurors or []) if j.verdict_id]
    found = {row["id"]: row for row in _rows_by_id(db, "verdicts", ids)}
    seats: dict[str, dict[str, list[PersonaResult]]] = {}
    for slug, panel in panels.items():
        for r in panel.results:
            for juror in r.jurors or []:
                row = found.get(juror.verdict_id)
                if juror.vote == RECUSED:
                    seats.setdefault(juror.model, {})
                    continue
                seat = PersonaResult.from_row(row, cached=True) if row else PersonaResult(
                    persona=r.persona, persona_version=r.persona_version, model=juror.model, status="error")
                seats.setdefault(juror.model, {}).setdefault(slug, []).append(seat)
    return {model: {slug: aggregate(slug, panel.brief_hash, panel.seated, by_slug.get(slug, []))
                    for slug, panel in panels.items()}
            for model, by_slug in seats.items()}


def _rows_by_id(db, table: str, ids: list[int]) -> list[dict]:
    ids = sorted(set(ids))
    found = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += rows(db, f"SELECT * FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    return found


def version_seats(db, version: str, brief_hashes: dict[str, str], model: str) -> dict[str, PersonaResult]:
    """slug -> the seat that persona version gave on that exact brief with that model (its newest
    ok verdict, with its samples' majority), for the briefs it has one on."""
    seats = {}
    for slug, digest in brief_hashes.items():
        found = rows(db, "SELECT * FROM verdicts WHERE persona_version = ? AND brief_hash = ? AND model = ?"
                         " AND status = 'ok' ORDER BY id", [version, digest, model])
        if found:
            family = _sample_family(found[-1])[0]
            newest = {_sample_family(r)[1]: r for r in found if _sample_family(r)[0] == family}
            seats[slug] = _standing_result(found[-1], found[-1], list(newest.values()))
    return seats


# --- community votes ------------------------------------------------------------------------------------
