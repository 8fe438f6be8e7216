"""The episode database's tables, and the rows read from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

SCHEMA = (
    # n is the episode's stable row number (an INTEGER PRIMARY KEY survives VACUUM); the lexical index keys on it.
    """CREATE TABLE IF NOT EXISTS episodes (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        task TEXT NOT NULL,
        context_json TEXT NOT NULL,
        agent_role TEXT,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ended')),
        success INTEGER,
        metrics_json TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '',
        roles TEXT NOT NULL DEFAULT '|',
        last_seq INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL,
        digest_json TEXT,
        indexed_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS episodes_by_start ON episodes (started_at)",
    "CREATE INDEX IF NOT EXISTS episodes_by_status ON episodes (status, started_at)",
    "CREATE INDEX IF NOT EXISTS episodes_failed ON episodes (ended_at) WHERE success = 0",
    (
        "CREATE INDEX IF NOT EXISTS episodes_pending ON episodes (ended_at) "
        "WHERE status = 'ended' AND (digest_json IS NULL OR indexed_at IS NULL)"
    ),
    """CREATE TABLE IF NOT EXISTS events (
        episode_id TEXT NOT NULL REFERENCES episodes (id),
        seq INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        agent_role TEXT NOT NULL,
        data_json TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (episode_id, seq)
    )""",
    # rowid = episodes.n; columns hold pre-tokenized text (see episode_digest.tokens).
    "CREATE VIRTUAL TABLE IF NOT EXISTS episode_text USING fts5 (task, events, tokenize = \"unicode61 tokenchars '_'\")",
    "CREATE VIRTUAL TABLE IF NOT EXISTS episode_terms USING fts5vocab (episode_text, row)",
)

EPISODE_COLUMNS = (
    "id, task, context_json, agent_role, status, success, metrics_json, summary, roles, last_seq, "
    "started_at, ended_at, digest_json, indexed_at"
)


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    agent_role: str
    data_json: str


@dataclass(frozen=True)
class EventRow:
    seq: int
    event_type: str
    agent_role: str
    data_json: str
    recorded_at: float


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


def episode_row(row: Sequence[Any]) -> EpisodeRow:
    """An ``EpisodeRow`` from a row selected with ``EPISODE_COLUMNS``."""
    (id_, task, context_json, agent_role, status, success, metrics_json, summary, roles, last_seq,
     started_at, ended_at, digest_json, indexed_at) = row  # fmt: skip
    return EpisodeRow(
        id=id_,
        task=task,
        context_json=context_json,
        agent_role=agent_role,
        status=status,
        success=None if success is None else bool(success),
        metrics_json=metrics_json,
        summary=summary,
        roles=[r for r in roles.split("|") if r],
        event_count=int(last_seq),
        started_at=started_at,
        ended_at=ended_at,
        digest_json=digest_json,
        indexed_at=indexed_at,
    )
