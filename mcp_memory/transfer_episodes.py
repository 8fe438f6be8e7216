"""Episodes in export files: read from and written to the episode database with their ids and timestamps.

The service API appends events "now"; a restore must keep the recorded times, so this module writes
rows directly, in the schema of ``episode_store`` (and refuses a database of another schema version
rather than guess). Only the durable facts travel: the digest, the lexical index and the summary vector
are derived, so an import leaves them pending and ``EpisodeService.finish_pending_blocking`` rebuilds them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcp_memory.episode_store import BUSY_TIMEOUT_SECONDS, SCHEMA_VERSION, EpisodeStore, dumps
from mcp_memory.errors import Conflict


class EventLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1)
    event_type: str = Field(min_length=1)
    agent_role: str = Field(min_length=1)
    data: dict[str, Any]
    recorded_at: float


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


def episode_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every episode in the database at ``path`` as an export line, oldest first, read in one snapshot."""
    if not path.exists():
        return
    with closing(_connect(path)) as conn:
        _check_schema(conn, path)
        conn.execute("BEGIN")  # one read transaction: a consistent snapshot while servers keep writing
        rows = conn.execute(
            "SELECT id, task, context_json, agent_role, status, success, metrics_json, summary, started_at, "
            "updated_at, ended_at FROM episodes ORDER BY started_at, id"
        )
        for (episode_id, task, context, role, status, success, metrics, summary, started, updated, ended) in rows:
            events = conn.execute(
                "SELECT seq, event_type, agent_role, data_json, recorded_at FROM events WHERE episode_id = ? "
                "ORDER BY seq",
                (episode_id,),
            ).fetchall()
            yield {
                "kind": "episode", "id": episode_id, "task": task, "context": json.loads(context),
                "agent_role": role, "status": status, "success": None if success is None else bool(success),
                "metrics": json.loads(metrics), "summary": summary, "started_at": started, "updated_at": updated,
                "ended_at": ended,
                "events": [
                    {"seq": s, "event_type": t, "agent_role": r, "data": json.loads(d), "recorded_at": at}
                    for s, t, r, d, at in events
                ],
            }  # fmt: skip
        conn.execute("COMMIT")


def insert_episodes(path: Path, episodes: Sequence[EpisodeLine]) -> int:
    """Write episodes that are not in the database yet, in one transaction; returns how many were new."""
    EpisodeStore(path).open()  # creates the file and schema when the store is new
    added = 0
    with closing(_connect(path)) as conn:
        _check_schema(conn, path)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for episode in episodes:
                roles = "|" + "".join(f"{r}|" for r in dict.fromkeys(e.agent_role for e in episode.events))
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO episodes (id, task, context_json, agent_role, status, success, "
                    "metrics_json, summary, roles, last_seq, started_at, updated_at, ended_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        episode.id, episode.task, dumps(episode.context), episode.agent_role, episode.status,
                        None if episode.success is None else int(episode.success), dumps(episode.metrics),
                        episode.summary, roles, len(episode.events), episode.started_at, episode.updated_at,
                        episode.ended_at,
                    ),
                ).rowcount
                if not inserted:
                    continue
                added += 1
                conn.executemany(
                    "INSERT INTO events (episode_id, seq, event_type, agent_role, data_json, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(episode.id, e.seq, e.event_type, e.agent_role, dumps(e.data), e.recorded_at) for e in episode.events],
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return added


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise Conflict(
            f"{path} has episode schema {version}; this mcp-memory reads and writes schema {SCHEMA_VERSION}. "
            "Use the mcp-memory version that wrote it."
        )
