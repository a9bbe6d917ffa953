"""The comparison's words, written from its numbers: the community notes, the fairness caveats, and
the closing verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .render import day, pct as pct_text

if TYPE_CHECKING:  # the data types only: panel.publish.comparison calls into this module
    from .comparison import Comparison, PersonaVerdict, ToolColumn

# A vote count below this is shown, but the page says the figure is still noisy.
FEW_VOTES = 10
# Panel and community "disagree" when they land on different sides of 50%, or this far apart.
DISAGREE_POINTS = 25.0


def community_note(tool: ToolColumn, gap: float | None, disagrees: bool) -> str:
    name, votes = tool.name, tool.community.votes
    if votes == 0:
        return f"Nobody has voted on {name} yet."
    counted = f"{votes} vote{'s' if votes != 1 else ''}"
    crowd = pct_text(tool.community.pct)
    noisy = f" With only {counted}, that figure is still noisy." if votes < FEW_VOTES else ""
    if gap is None:
        return (f"The community gives {name} {crowd} ship over {counted}; the panel reported no verdict to"
                f" compare.{noisy}")
    panel = pct_text(tool.panel.ship_pct)
    if not disagrees:
        return f"Panel and community roughly agree on {name}: {panel} against {crowd} over {counted}.{noisy}"
    side = "warmer" if gap > 0 else "cooler"
    return (f"The community is {side} on {name} than the panel: {crowd} ship over {counted}, against the panel's"
            f" {panel}.{noisy}")


def fairness_notes(tools: list[ToolColumn]) -> tuple[list[str], str]:
    """Differences in how the tools were judged, which a fair reader has to know about."""
    version_notes: list[str] = []
    by_persona: dict[str, dict[str, PersonaVerdict]] = {}
    for tool in tools:
        for v in tool.panel.verdicts:
            if v.outcome != "recused":  # a recused seat has no verdict, hence no version or model
                by_persona.setdefault(v.persona, {})[tool.slug] = v
    names = {t.slug: t.name for t in tools}
    for persona, seen in by_persona.items():
        if len(seen) < 2:
            continue
        versions = {v.persona_version for v in seen.values()}
        if len(versions) > 1:
            detail = ", ".join(f"the prompt of {day(seen[s].prompt_date)} for {names[s]}" if seen[s].prompt_date
                               else f"an unrecorded prompt for {names[s]}" for s in seen)
            title = next(iter(seen.values())).title
            version_notes.append(f"The {title} judged these tools with different prompt versions ({detail}).")
    notes = list(version_notes)
    model_sets = {t.slug: t.panel.models for t in tools if t.panel.models}
    if len({tuple(m) for m in model_sets.values()}) > 1:
        detail = "; ".join(f"{names[s]} by {', '.join(m)}" for s, m in model_sets.items())
        notes.append(f"Different models wrote the verdicts: {detail}.")
    # A recused seat sat (its verdict is only left out of the count), so it does not make panels differ.
    seated = {t.slug: set(t.panel.seated) | {v.persona for v in t.panel.verdicts if v.outcome == "recused"}
              for t in tools}
    if len({frozenset(s) for s in seated.values()}) > 1:
        shared = set.intersection(*seated.values())
        titles = {v.persona: v.title for t in tools for v in t.panel.verdicts}
        sat_on: dict[str, list[str]] = {}  # persona seated on some of the tools -> those tools
        for tool in tools:
            for persona in sorted(seated[tool.slug] - shared, key=lambda p: titles.get(p, p)):
                sat_on.setdefault(persona, []).append(tool.name)
        extras = [(f"{on[0]} alone seated the {titles.get(p, p)}" if len(on) == 1
                   else f"only {join_words(on)} seated the {titles.get(p, p)}") for p, on in sat_on.items()]
        notes.append(f"The panels differ: {'; '.join(extras)}. Each percentage is over that tool's own panel.")
    for tool in tools:
        if not tool.panel.complete:
            missing = [v.title for v in tool.panel.verdicts if v.outcome in ("unscored", "error")]
            notes.append(f"{tool.name}'s panel is partial: {tool.panel.reported} of {len(tool.panel.seated)} reported"
                         f" (no verdict from the {join_words(missing)}); the percentage counts only those who did.")
        if tool.brief_changed:
            notes.append(f"{tool.name}'s brief has changed since its panel sat; `panel review {tool.slug}`"
                         " would judge the current text.")
    return notes, judged_alike(tools, same_versions=not version_notes, notes=notes)


def judged_alike(tools: list[ToolColumn], same_versions: bool, notes: list[str]) -> str:
    """One sentence on the conditions every tool was judged under."""
    models = sorted({m for t in tools for m in t.panel.models})
    prompts = ("Every persona that sat on more than one of these panels used the same prompt version" if same_versions
               else "Some personas' prompts changed between these reviews")
    model = f"{models[0]} wrote every verdict" if len(models) == 1 else f"{len(models)} models wrote the verdicts"
    tail = "; the caveats above say what differs." if notes else "."
    return f"{prompts}, and {model}{tail}"


def join_words(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _panel_phrase(tool: ToolColumn) -> str:
    p = tool.panel
    return f"{pct_text(p.ship_pct)} for {tool.name} ({p.ships} of {p.reported})"


def starts_at(name: str, entry: str) -> str:
    """"X starts at $20 per month", or "X is free" (not "starts at Free")."""
    return f"{name} is free" if entry.strip().lower() == "free" else f"{name} starts at {entry}"


def _answer_in_brief(c: Comparison) -> str:
    """The head-to-head answer in one sentence, for the closing paragraph (the full answer opens the
    page; repeating it word for word there said nothing new)."""
    names = {t.slug: t.name for t in c.tools}
    picks = "; ".join(f"{names[h.a]} vs {names[h.b]}: {h.pick_words(names)}" for h in c.head_to_head)
    return f"Head to head ({picks})." if len(c.head_to_head) > 1 else f"Head to head: {picks.split(': ', 1)[1]}."


def closing_verdict(c: Comparison) -> str:
    """The closing paragraph: the head-to-head answer, then the separate panels, who split, price and
    the crowd. Every clause follows a number: no "lean" without a gap, no price talk when prices match."""
    ranked = sorted(c.tools, key=lambda t: -1 if t.panel.ship_pct is None else t.panel.ship_pct, reverse=True)
    scored = [t for t in ranked if t.panel.ship_pct is not None]
    parts: list[str] = [_answer_in_brief(c)] if c.head_to_head else []
    leader = None
    if not scored:
        parts.append("No reviewer reported a verdict on any of these tools, so the panel cannot pick one.")
    else:
        top = scored[0].panel.ship_pct
        level = [t for t in scored if t.panel.ship_pct == top]
        if len(level) > 1:
            parts.append(f"The panel rates {join_words([t.name for t in level])} level at {pct_text(top)} ship.")
        else:
            leader = scored[0]
            rest = join_words([_panel_phrase(t) for t in ranked[1:]])
            reviewed = "Reviewed one at a time, " if c.head_to_head else ""
            parts.append(f"{reviewed}{leader.name} has the stronger panel verdict: {pct_text(top)} ship"
                         f" ({leader.panel.ships} of {leader.panel.reported} reviewers), against {rest}.")
        if len(scored) > 1 and leader is not None:
            a, b = scored[0].panel.interval, scored[1].panel.interval
            spans = f"{a[0]:.0f}–{a[1]:.0f}% and {b[0]:.0f}–{b[1]:.0f}%"
            if a[0] <= b[1] and b[0] <= a[1]:
                parts.append(f"Panels this small have wide 95% intervals ({spans}) and these overlap,"
                             " so read the gap as a lean, not a settled result.")
            else:
                parts.append(f"The 95% intervals ({spans}) do not overlap, so the gap is more than panel noise.")
    splitters = [r.title for r in c.split if r.split]
    shared = [r for r in c.split if sum(o != "not seated" for o in r.outcomes.values()) > 1]
    if splitters:
        parts.append(f"The {join_words(splitters)} split between the tools; their rationales show what tipped it.")
    elif shared:
        parts.append("No reviewer split: each persona that sat on more than one panel made the same call on each.")
    entries = {t.pricing.entry for t in c.tools}
    if len(entries) == 1:
        both = "Both" if len(c.tools) == 2 else "All of them"
        entry = next(iter(entries))
        price = "are free" if entry.strip().lower() == "free" else f"start at {entry}"
        parts.append(f"{both} {price}, so the entry price does not separate them.")
    else:
        parts.append("On price: " + join_words([starts_at(t.name, t.pricing.entry) for t in c.tools]) + ".")
    voted = [r for r in c.community if r.votes]
    if not voted:
        parts.append("The community has not voted on " + ("either" if len(c.tools) == 2 else "any of them") + " yet.")
    elif any(r.disagrees for r in voted):
        names = join_words([r.name for r in voted if r.disagrees])
        parts.append(f"The community reads {names} differently from the panel; see the vote comparison.")
    else:
        parts.append("Where the community has voted, it broadly agrees with the panel.")
    if not c.head_to_head and leader is not None:
        caveat = ", with the caveats on how they were judged" if c.fairness else ""
        parts.append(f"Judged one at a time, {leader.name} leads{caveat}; no head-to-head was asked.")
    return " ".join(parts)


# --- the answer: which one to ship with ------------------------------------------------------------


def answer(c: Comparison) -> str:
    """The answer to "which one should you ship with?", computed from the head-to-head picks."""
    if not c.head_to_head:
        return ""
    names = {t.slug: t.name for t in c.tools}
    if len(c.head_to_head) == 1:
        return pair_answer(c.head_to_head[0], names, {t.slug: t.pricing.entry for t in c.tools})
    wins = {slug: 0 for slug in names}
    for h in c.head_to_head:
        if h.pick in names and not h.unclear:
            wins[h.pick] += 1
    unbeaten = [slug for slug, n in wins.items() if n == len(names) - 1]
    each = "; ".join(f"{names[h.a]} vs {names[h.b]}: {h.pick_words(names)}" for h in c.head_to_head)
    if unbeaten:
        return f"The panel's pick is {names[unbeaten[0]]}: it won every head-to-head ({each})."
    return f"No tool won every head-to-head, so the panel makes no single pick ({each})."


def pair_answer(h, names: dict[str, str], entries: dict[str, str]) -> str:
    a, b = names[h.a], names[h.b]
    counted = sum(h.votes.values())
    if h.pick is None:
        if h.recused and not h.seats:
            recused = join_words(h.recused_titles or h.recused)
            return (f"Every persona seated on both was recused for a vendor conflict (the {recused}), so the"
                    f" panel makes no pick between {a} and {b}.")
        return "No persona gave a usable head-to-head answer in both orders, so the panel makes no pick."
    parts = []
    ties = h.votes["tie"]
    tie_note = f"; {ties} had no consistent preference" if ties else ""
    by_call = {}
    for seat in h.seats:
        if seat.call in names:
            said = f"the {seat.title}" + (f" ({seat.headline})" if seat.headline else "")
            by_call.setdefault(seat.call, []).append(said)
    if h.pick == "tie":
        parts.append(f"It is a tie: of the {counted} personas who judged the pair in both orders, {h.votes[h.a]} chose"
                     f" {a} and {h.votes[h.b]} chose {b}{tie_note}.")
        if by_call:
            readers = [f"{names[slug]} for {join_words(who)}" for slug, who in by_call.items()]
            parts.append(f"What separates them depends on the reader: {'; '.join(readers)}.")
        if entries[h.a] != entries[h.b]:
            parts.append(f"On price, {starts_at(a, entries[h.a])} and {starts_at(b, entries[h.b])}.")
    elif h.unclear:
        loser = h.b if h.pick == h.a else h.a
        parts.append(f"There is no clear pick: {names[h.pick]} leads with {h.votes[h.pick]} of the {counted} personas"
                     f" who judged the pair in both orders, against {h.votes[loser]} for {names[loser]}{tie_note},"
                     f" but {h.unclear}.")
        parts += [f"{names[slug]} is the pick for {join_words(by_call[slug])}." for slug in (h.pick, loser)
                  if slug in by_call]
    else:
        loser = h.b if h.pick == h.a else h.a
        parts.append(f"The panel's pick is {names[h.pick]}: {h.votes[h.pick]} of the {counted} personas who judged"
                     f" the pair in both orders chose it, against {h.votes[loser]} for {names[loser]}{tie_note}.")
        parts.append(f"It is the pick for {join_words(by_call[h.pick])}.")
        if loser in by_call:
            parts.append(f"{names[loser]} is the pick for {join_words(by_call[loser])}.")
        parts.append(f"What would change it: {h.margin_note[0].lower()}{h.margin_note[1:]}")
    if h.consistency is not None:
        followers = [s.title for s in h.seats if s.followed_position]
        held = f"{100 * h.consistency:.0f}% of the personas kept their call when the order was swapped"
        parts.append(held + (f"; the {join_words(followers)} picked by position, so their calls count as ties."
                             if followers else "."))
    if h.blind:
        same = h.blind_pick == h.pick
        masked = names.get(h.blind_pick, h.blind_pick or "no answer")
        parts.append("With names, vendors and links masked, the pick is the same." if same
                     else f"With names, vendors and links masked, the pick would be {masked}.")
        changed = [next(s.title for s in h.seats if s.persona == c["persona"]) for c in h.brand_changes]
        parts.append(f"The {join_words(changed)} changed {'their calls' if len(changed) > 1 else 'its call'} when"
                     " the names were visible." if changed else "No persona's call depended on seeing the names.")
    flagged = [s for s in h.seats if s.conflict]
    if flagged:
        by_conflict: dict[str, list[str]] = {}  # one sentence per conflict, naming every seat it touches
        for seat in flagged:
            by_conflict.setdefault(seat.conflict, []).append(seat.title)
        parts.append("Vendor conflict, flagged (the call still counts): " + "; ".join(
            f"the {join_words(titles)} {conflict}" for conflict, titles in by_conflict.items()) + ".")
    if h.recused:
        parts.append(f"Recused for a vendor conflict: the {join_words(h.recused_titles or h.recused)}.")
    return " ".join(parts)
