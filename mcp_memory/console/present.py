"""What a page shows of a memory, a search hit or an event, decided here so the templates only lay it out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from mcp_memory.console.render import (
    code_excerpt,
    highlight_code,
    highlight_json,
    looks_like_code,
    plain_text,
    render_markdown,
    snippet,
)
from mcp_memory.episodes.digest import data_text, is_error_event
from mcp_memory.models import EpisodeEvent, MemoryHit, MemoryRecord

LANE_COLORS = 8
MAX_HIGHLIGHTED_EVENT_CHARS = 16_000
TYPE_LABELS = {
    "pattern": "pattern",
    "solution": "solution",
    "error": "error fix",
    "best_practice": "best practice",
    "episode": "episode",
}


def memory_url(memory_id: str, memory_type: str) -> str:
    return f"/episodes/{memory_id}" if memory_type == "episode" else f"/memories/{memory_id}"


@dataclass
class HitView:
    hit: MemoryHit
    url: str
    title: Markup
    body: Markup
    label: str


def hit_view(hit: MemoryHit, terms: list[str]) -> HitView:
    """A search result: its link, its title with the query's words marked, and an excerpt."""
    from mcp_memory.console.render import mark_terms

    fields = hit.fields
    if hit.type == "pattern" and (fields.get("code") or (looks_like_code(hit.content) and "```" not in hit.content)):
        body = code_excerpt(str(fields.get("code") or hit.content), hit.language, terms)
    elif hit.type == "solution" and looks_like_code(str(fields.get("solution", ""))):
        body = code_excerpt(str(fields["solution"]), hit.language, terms)
    elif hit.type == "error":
        verdict = "Fix that worked" if hit.outcome in ("worked", "mixed") else "Attempt that did not work"
        if hit.outcome == "unknown":
            verdict = "Resolution"
        text = plain_text(str(fields.get("resolution") or hit.content))
        body = (
            Markup('<p class="verdict">')
            + escape(verdict)
            + Markup(":</p>")
            + Markup("<p>")
            + snippet(text, terms)
            + Markup("</p>")
        )
    else:
        body = Markup("<p>") + snippet(plain_text(hit.content), terms) + Markup("</p>")
    title = mark_terms(str(escape(hit.title or hit.id)), terms)
    return HitView(hit, memory_url(hit.id, hit.type), title, body, TYPE_LABELS.get(hit.type, hit.type))


@dataclass
class Section:
    label: str
    html: Markup


def prose_or_code(text: str, language: str | None) -> Markup:
    if looks_like_code(text) and "```" not in text:
        return highlight_code(text, language)
    return render_markdown(text)


def memory_sections(record: MemoryRecord) -> list[Section]:
    """The parts of a memory in the order a person reads them."""
    fields = record.fields
    sections: list[Section] = []

    def add(label: str, value: Any, render: Any) -> None:
        if isinstance(value, str) and value.strip():
            sections.append(Section(label, render(value)))

    if record.type == "pattern":
        add("Code", str(fields.get("code") or record.content), lambda v: highlight_code(v, record.language))
        add("Context", fields.get("context"), render_markdown)
    elif record.type == "solution":
        add("Problem", fields.get("problem"), render_markdown)
        add("Solution", fields.get("solution"), lambda v: prose_or_code(v, record.language))
        add("Context", fields.get("context"), render_markdown)
    elif record.type == "error" and "resolution" in fields:
        add("Error", fields.get("error_message"), lambda v: highlight_code(v, "text"))
        add("Context", fields.get("context"), render_markdown)
        verdict = {"worked": "Resolution (worked)", "failed": "Attempted fix (did not work)"}.get(
            record.outcome, "Resolution"
        )
        add(verdict, fields.get("resolution"), lambda v: prose_or_code(v, None))
    if not sections:
        add("Content", record.content, lambda v: prose_or_code(v, record.language))
    metrics = fields.get("success_metrics")
    if isinstance(metrics, dict) and metrics:
        sections.append(Section("Success metrics", highlight_json(metrics)))
    return sections


PROVENANCE_KEYS = {
    "episode_id": "Episode",
    "solution_id": "Solution",
    "part_of": "Part of",
    "task": "Task",
    "agent_role": "Agent role",
    "consensus_score": "Consensus score",
    "consensus_votes": "Votes",
    "consensus_candidates": "Candidates",
    "pattern_kind": "Kind",
    "complexity": "Complexity",
    "part": "Part",
}


@dataclass
class Fact:
    label: str
    value: str
    url: str | None = None


def provenance(record: MemoryRecord) -> tuple[list[Fact], list[Fact]]:
    """Where a memory came from (linked where it names another record), and its other metadata."""
    facts = [Fact("Source", record.source)]
    if record.agent:
        facts.append(Fact("Agent", record.agent))
    others: list[Fact] = []
    for key, value in record.metadata.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if key in PROVENANCE_KEYS:
            url = None
            if key == "episode_id":
                url = f"/episodes/{value}"
            elif key in ("solution_id", "part_of"):
                url = f"/memories/{value}"
            facts.append(Fact(PROVENANCE_KEYS[key], text, url))
        else:
            others.append(Fact(key, text))
    return facts, others


@dataclass
class EventView:
    event: EpisodeEvent
    lane: int
    color: int
    is_error: bool
    summary: str
    data_html: Markup
    gap_ms: float | None = None
    keys: list[str] = field(default_factory=list)


def lanes(roles: list[str]) -> dict[str, int]:
    """A lane per agent role, in order of first appearance."""
    return {role: i for i, role in enumerate(roles)}


def event_views(events: list[EpisodeEvent], lane_of: dict[str, int]) -> list[EventView]:
    from datetime import datetime

    views: list[EventView] = []
    previous: datetime | None = None
    for event in events:
        lane = lane_of.setdefault(event.agent_role, len(lane_of))
        at = datetime.fromisoformat(event.recorded_at) if event.recorded_at else None
        gap = (at - previous).total_seconds() * 1000 if at and previous else None
        previous = at or previous
        size = len(json.dumps(event.data, ensure_ascii=False, default=str))
        if size <= MAX_HIGHLIGHTED_EVENT_CHARS:
            data_html = highlight_json(event.data)
        else:  # large outputs: shown as plain escaped text, highlighting them would slow the page
            text = json.dumps(event.data, indent=2, ensure_ascii=False, default=str)
            data_html = Markup('<pre class="code"><code>') + escape(text) + Markup("</code></pre>")
        views.append(
            EventView(
                event=event,
                lane=lane,
                color=lane % LANE_COLORS,
                is_error=is_error_event(event.event_type, event.data),
                summary=data_text(event.data, 220),
                data_html=data_html,
                gap_ms=gap,
                keys=list(event.data)[:6],
            )
        )
    return views
