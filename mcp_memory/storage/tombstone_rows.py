"""Deleted memories as tombstones: the row as it was, with who deleted it, when and why; restorable until purged.

A delete moves the row (and nothing else: its outcome log stays) in one transaction with its change-feed entry,
so every process's indexes drop it; a restore moves it back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, literal, select

from mcp_memory.storage.change_feed import record_changes
from mcp_memory.storage.database import Database, in_chunks
from mcp_memory.storage.memory_rows import ROW_COLUMNS, StoredItem, stored_item
from mcp_memory.storage.schema import memories, outcome_votes, tombstones


@dataclass(frozen=True)
class Tombstone:
    id: str
    type: str
    title: str
    agent: str
    deleted_at: float
    deleted_by: str
    reason: str


class TombstoneRows:
    """Bury, restore, list and purge deleted memories."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def discard(self, items: Sequence[tuple[str, str]]) -> int:
        """Remove rows that never were a memory anyone saw: a store whose vector could not be written."""
        if not items:
            return 0
        with self.db.write(frees_space=True) as conn:
            gone = 0
            for chunk in in_chunks([item_id for item_id, _ in items]):
                conn.execute(delete(outcome_votes).where(outcome_votes.c.memory_id.in_(chunk)))
                gone += conn.execute(delete(memories).where(memories.c.id.in_(chunk))).rowcount
            record_changes(conn, list(items), "delete", time.time())
            return gone

    def bury(self, items: Sequence[tuple[str, str]], by: str, reason: str) -> int:
        """Delete memories given as (id, type) into tombstones that keep who, when and why; returns how many."""
        if not items:
            return 0
        now = time.time()
        columns = [c.name for c in memories.columns]
        with self.db.write(frees_space=True) as conn:
            buried = 0
            for chunk in in_chunks([item_id for item_id, _ in items]):
                conn.execute(delete(tombstones).where(tombstones.c.id.in_(chunk)))  # an earlier burial of the same id
                rows = select(
                    *memories.columns,
                    literal(now).label("deleted_at"),
                    literal(by).label("deleted_by"),
                    literal(reason).label("delete_reason"),
                ).where(memories.c.id.in_(chunk))
                conn.execute(
                    insert(tombstones).from_select([*columns, "deleted_at", "deleted_by", "delete_reason"], rows)
                )
                buried += conn.execute(delete(memories).where(memories.c.id.in_(chunk))).rowcount
            record_changes(conn, list(items), "delete", now)
            return buried

    def unbury(self, item_id: str) -> StoredItem | None:
        """Put a buried memory back (None when there is no such tombstone); a live row of the id stays as it is."""
        columns = [c.name for c in memories.columns]
        with self.db.write() as conn:
            row = conn.execute(select(tombstones.c.type).where(tombstones.c.id == item_id)).first()
            if row is None:
                return None
            if conn.execute(select(memories.c.id).where(memories.c.id == item_id)).first() is None:
                back = select(*(tombstones.c[name] for name in columns)).where(tombstones.c.id == item_id)
                conn.execute(insert(memories).from_select(columns, back))
                record_changes(conn, [(item_id, row.type)], "put", time.time())
            conn.execute(delete(tombstones).where(tombstones.c.id == item_id))
            return stored_item(conn.execute(select(*ROW_COLUMNS).where(memories.c.id == item_id)).one())

    def buried(self, agent: str | None = None, limit: int = 20) -> list[Tombstone]:
        """Tombstones, newest first (of memories ``agent`` wrote, when given)."""
        query = (
            select(
                tombstones.c.id,
                tombstones.c.type,
                tombstones.c.title,
                tombstones.c.agent,
                tombstones.c.deleted_at,
                tombstones.c.deleted_by,
                tombstones.c.delete_reason,
            )
            .order_by(tombstones.c.deleted_at.desc())
            .limit(limit)
        )
        if agent is not None:
            query = query.where(tombstones.c.agent == agent)
        with self.db.read() as conn:
            return [Tombstone(*row) for row in conn.execute(query)]

    def purge(self, ids: Sequence[str]) -> int:
        """Remove tombstones for good, with their votes (the outcome log stays)."""
        gone = 0
        with self.db.write() as conn:
            for chunk in in_chunks(list(ids)):
                conn.execute(delete(outcome_votes).where(outcome_votes.c.memory_id.in_(chunk)))
                gone += conn.execute(delete(tombstones).where(tombstones.c.id.in_(chunk))).rowcount
        return gone
