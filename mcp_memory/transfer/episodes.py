"""Episodes in export files: read from and written to the episode store with their ids and timestamps.

The service API appends events "now"; a restore must keep the recorded times, so lines go to the store as copies
(``EpisodeStore.insert_copies``). Only the durable facts travel: the digest, the word index and the summary vector
are derived, so an import leaves them pending and ``EpisodeService.finish_pending_blocking`` rebuilds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcp_memory.storage.episode_store import EpisodeCopy, EpisodeStore, EventRow, dumps


class EventLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1)
    event_type: str = Field(min_length=1)
    agent_role: str = Field(min_length=1)
    data: dict[str, Any]
    recorded_at: float
    agent: str = ""  # the agent of the token that recorded it (exports made before it was kept have none)


class EpisodeLine(BaseModel):
    """One episode with all its events, as exported."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["episode"]
    id: str = Field(min_length=1, max_length=200)
    task: str
    context: dict[str, Any]
    agent_role: str | None
    status: Literal["open", "ended"]
    success: bool | None
    metrics: dict[str, Any]
    summary: str
    started_at: float
    updated_at: float
    started_by: str = ""  # the agent of the token that started it
    project: str = Field(default="", max_length=200)  # "" is global
    ended_at: float | None
    events: list[EventLine]

    @model_validator(mode="after")
    def _consistent(self) -> EpisodeLine:
        if [e.seq for e in self.events] != list(range(1, len(self.events) + 1)):
            raise ValueError("events must be numbered 1, 2, 3, ... in order, with no gaps")
        if self.status == "ended" and (self.success is None or self.ended_at is None):
            raise ValueError("an ended episode needs success and ended_at")
        if self.status == "open" and (self.success is not None or self.ended_at is not None):
            raise ValueError("an open episode has no success or ended_at yet")
        return self


def episode_lines(store: EpisodeStore, project: str | None = None) -> Iterator[dict[str, Any]]:
    """Every episode in the store (of ``project`` when given) as an export line, oldest first."""
    for copy in store.copies():
        if project is not None and copy.project != project:
            continue
        line = {
            "kind": "episode", "id": copy.id, "task": copy.task, "context": json.loads(copy.context_json),
            "agent_role": copy.agent_role, "status": copy.status, "success": copy.success,
            "metrics": json.loads(copy.metrics_json), "summary": copy.summary, "started_at": copy.started_at,
            "updated_at": copy.updated_at, "ended_at": copy.ended_at, "started_by": copy.started_by,
            "events": [
                {"seq": e.seq, "event_type": e.event_type, "agent_role": e.agent_role, "data": json.loads(e.data_json),
                 "recorded_at": e.recorded_at, "agent": e.agent}
                for e in copy.events
            ],
        }  # fmt: skip
        if copy.project:  # global episodes' lines are as they were before projects
            line["project"] = copy.project
        yield line


def insert_episodes(store: EpisodeStore, episodes: Sequence[EpisodeLine]) -> int:
    """Store episodes that are not stored yet, in one transaction; returns how many were new."""
    return store.insert_copies([_copy(episode) for episode in episodes])


def _copy(episode: EpisodeLine) -> EpisodeCopy:
    return EpisodeCopy(
        id=episode.id, task=episode.task, context_json=dumps(episode.context), agent_role=episode.agent_role,
        status=episode.status, success=episode.success, metrics_json=dumps(episode.metrics), summary=episode.summary,
        started_at=episode.started_at, updated_at=episode.updated_at, ended_at=episode.ended_at,
        events=[
            EventRow(e.seq, e.event_type, e.agent_role, dumps(e.data), e.recorded_at, e.agent) for e in episode.events
        ],
        started_by=episode.started_by, project=episode.project,
    )  # fmt: skip
