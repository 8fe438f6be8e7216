"""The rows the episode store reads and writes (its tables are in ``storage/schema.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    agent_role: str
    data_json: str
    agent: str = ""  # the token's agent that records it (a label-free fact, unlike agent_role)


@dataclass(frozen=True)
class EventRow:
    seq: int
    event_type: str
    agent_role: str
    data_json: str
    recorded_at: float
    agent: str = ""


@dataclass(frozen=True)
class EpisodeRow:
    id: str
    task: str
    context_json: str
    agent_role: str | None
    status: str
    success: bool | None
    metrics_json: str
    summary: str
    roles: list[str]
    event_count: int
    started_at: float
    ended_at: float | None
    digest_json: str | None
    indexed_at: float | None
    started_by: str = ""  # the agent of the token that started it
    project: str = ""  # "" is global


@dataclass(frozen=True)
class EpisodeCopy:
    """An episode with every event as recorded (ids and times kept), for export, import and moving stores.

    The digest, index time and words are derived; a copy without them is digested and indexed again later.
    """

    id: str
    task: str
    context_json: str
    agent_role: str | None
    status: str
    success: bool | None
    metrics_json: str
    summary: str
    started_at: float
    updated_at: float
    ended_at: float | None
    events: Sequence[EventRow]
    digest_json: str | None = None
    indexed_at: float | None = None
    words: tuple[str, str] | None = field(default=None)  # (task tokens, event tokens), space-separated
    started_by: str = ""  # the agent of the token that started it
    project: str = ""


def episode_row(row: Any) -> EpisodeRow:
    """An ``EpisodeRow`` from a row of the episodes table."""
    return EpisodeRow(
        id=row.id,
        task=row.task,
        context_json=row.context_json,
        agent_role=row.agent_role,
        status=row.status,
        success=None if row.success is None else bool(row.success),
        metrics_json=row.metrics_json,
        summary=row.summary,
        roles=[r for r in row.roles.split("|") if r],
        event_count=int(row.last_seq),
        started_at=row.started_at,
        ended_at=row.ended_at,
        digest_json=row.digest_json,
        indexed_at=row.indexed_at,
        started_by=row.started_by or "",
        project=row.project or "",
    )
