"""The database's tables (SQLAlchemy Core): one schema for SQLite and PostgreSQL.

The migrations in ``migrations/versions`` create and change these tables; this module is what queries use, and
what a new database is created from (it must say what the migrations make: ``tests/test_migrations.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DefaultClause,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# A whole number that counts up by itself: BIGSERIAL on PostgreSQL, the rowid alias on SQLite.
SERIAL = BigInteger().with_variant(Integer(), "sqlite")

memories = Table(
    "memories",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("content", Text, nullable=False),
    Column("language", String(64), nullable=False, default=""),
    Column("agent", String(200), nullable=False, default=""),
    Column("source", String(64), nullable=False, default="agent"),
    Column("part_of", String(200)),
    # The rest of the memory's flat fields (filter keys, tags, fields_json, metadata_json, signature, ...).
    Column("flat_json", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("usage_count", Integer, nullable=False, default=0),
    Column("success_count", Integer, nullable=False, default=0),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("last_failure_note", Text),
    # The project it belongs to ("" is global: seeds, and what no project claims).
    Column("project", String(200), nullable=False, server_default=""),
    # "" while in recall; "superseded", "merged" or "archived": readable, but without a vector (see memory_links).
    Column("status", String(16), nullable=False, server_default=""),
    Column("status_at", Float),
    Column("status_note", Text),
    Column("last_used_at", Float),  # when a recall last returned it, at most once a day (see memory/usage.py)
    Index("memories_by_type", "type", "created_at"),
    Index("memories_by_hash", "type", "content_hash"),
    Index("memories_by_part", "part_of"),
    Index("memories_by_project", "project", "type", "created_at"),
    Index("memories_by_status", "status", "type"),
    Index("memories_by_language", "type", "language"),
)

# Columns the migrations added to both tables after a tombstone's own: they come last in tombstones. A new database
# is made from this file (``database._create_at_head``), so it keeps the migrations' columns in their order.
_LATER_IN_TOMBSTONES = ("project", "status", "status_at", "status_note", "last_used_at")


def _copy(column: Column[Any]) -> Column[Any]:
    server_default: Any = column.server_default.arg if isinstance(column.server_default, DefaultClause) else None
    return Column(
        column.name,
        column.type,
        primary_key=column.primary_key,
        nullable=column.nullable,
        server_default=server_default,
    )


# Deleted memories: the row as it was, with who deleted it, when and why; restorable until purged for good.
tombstones = Table(
    "tombstones",
    metadata,
    *(_copy(c) for c in memories.columns if c.name not in _LATER_IN_TOMBSTONES),
    Column("deleted_at", Float, nullable=False),
    Column("deleted_by", String(200), nullable=False),
    Column("delete_reason", Text, nullable=False, default=""),
    *(_copy(memories.c[name]) for name in _LATER_IN_TOMBSTONES),
    Index("tombstones_by_agent", "agent", "deleted_at"),
)

# Every report_outcome call, append-only: who, when, whether it worked, the note. The counters agree with it.
outcome_reports = Table(
    "outcome_reports",
    metadata,
    Column("n", SERIAL, primary_key=True, autoincrement=True),
    Column("memory_id", String(200), nullable=False),
    Column("agent", String(200), nullable=False, default=""),
    Column("success", Boolean, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("reported_at", Float, nullable=False),
    Index("outcome_reports_by_memory", "memory_id", "n"),
)

# Each agent's latest outcome on a memory (from a report or a store with a success flag): the counters count
# agents, not calls, so one agent cannot outvote the others by repeating itself.
outcome_votes = Table(
    "outcome_votes",
    metadata,
    Column("memory_id", String(200), primary_key=True),
    Column("agent", String(200), primary_key=True),
    Column("success", Boolean, nullable=False),
    Column("voted_at", Float, nullable=False),
)

# One row per memory written or deleted (not per counter bump): derived indexes of other servers follow it.
memory_changes = Table(
    "memory_changes",
    metadata,
    Column("seq", SERIAL, primary_key=True, autoincrement=True),
    Column("memory_id", String(200), nullable=False),
    Column("type", String(32), nullable=False),
    Column("op", String(8), nullable=False),
    Column("changed_at", Float, nullable=False),
)

# Links from a memory to a memory or an episode: supersedes, fixes, caused_by, related (an agent's), learned_from
# (where it was learned) and merged_into (consolidation; ``detail_json`` keeps the counts the merge moved).
memory_links = Table(
    "memory_links",
    metadata,
    Column("from_id", String(200), primary_key=True),
    Column("to_id", String(200), primary_key=True),
    Column("relation", String(32), primary_key=True),
    Column("agent", String(200), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
    Column("detail_json", Text),
    Column("created_at", Float, nullable=False),
    Index("memory_links_by_target", "to_id", "relation"),
)

# Work one server at a time does for everyone sharing the database: whoever holds an unexpired lease.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Facts about this database: its identity, which legacy stores were imported.
store_facts = Table(
    "store_facts",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

episodes = Table(
    "episodes",
    metadata,
    Column("n", SERIAL, primary_key=True, autoincrement=True),
    Column("id", String(200), nullable=False, unique=True),
    Column("task", Text, nullable=False),
    Column("context_json", Text, nullable=False),
    Column("agent_role", String(200)),
    Column("status", String(8), nullable=False, default="open"),
    Column("success", Boolean),
    Column("metrics_json", Text, nullable=False, default="{}"),
    Column("summary", Text, nullable=False, default=""),
    Column("roles", Text, nullable=False, default="|"),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("digest_json", Text),
    Column("indexed_at", Float),
    # How many words the word index holds for the task and for the events (BM25 lengths); NULL until indexed.
    Column("task_words", Integer),
    Column("event_words", Integer),
    Column("started_by", String(200), nullable=False, server_default=""),  # the token's agent
    Column("project", String(200), nullable=False, server_default=""),
    Index("episodes_by_start", "started_at"),
    Index("episodes_by_status", "status", "started_at"),
    Index("episodes_by_end", "ended_at"),
    Index("episodes_by_project", "project", "started_at"),
)

events = Table(
    "events",
    metadata,
    Column("episode_id", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("agent_role", String(200), nullable=False),
    Column("data_json", Text, nullable=False),
    Column("recorded_at", Float, nullable=False),
    Column("agent", String(200), nullable=False, server_default=""),  # the token's agent that recorded it
)

# The words of each ended episode, for BM25 over task and events (field 0 = task, 1 = events).
episode_words = Table(
    "episode_words",
    metadata,
    Column("episode_n", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("field", Integer, primary_key=True),
    Column("term", String(200), primary_key=True),
    Column("tf", Integer, nullable=False),
    Index("episode_words_by_term", "term"),
)

# Web console login sessions, as hashes only.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("port", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
