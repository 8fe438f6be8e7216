"""The change feed and the store's facts: what other processes follow to keep their indexes current, and the few
values a store keeps about itself (its id, which imports ran).

Every write of a memory row appends to ``memory_changes`` in the same transaction, so a reader that follows the
feed by sequence number sees every change exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from mcp_memory.storage.database import Database
from mcp_memory.storage.schema import memory_changes, outcome_reports, store_facts

LATE_COMMITS = 1000  # how far below the last number a write that commits late is still noticed


@dataclass(frozen=True)
class Change:
    seq: int
    memory_id: str
    type: str
    op: str  # "put" or "delete"


def record_changes(conn: Any, items: Iterable[tuple[str, str]], op: str, now: float) -> None:
    """Append one change per memory to the feed, in the caller's transaction."""
    conn.execute(
        insert(memory_changes),
        [{"memory_id": item_id, "type": memory_type, "op": op, "changed_at": now} for item_id, memory_type in items],
    )


class ChangeFeed:
    """Changes to memory rows, in commit order by sequence number."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def last_change(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.max(memory_changes.c.seq))).scalar() or 0)

    def write_marks(self) -> tuple[int, ...]:
        """What moves whenever any server writes or deletes a memory or reports an outcome, in one read: the last
        change's and report's numbers, and how many rows hold the numbers just below them — numbers are handed out
        before commit, so a write may land below the last number already seen (both are primary keys: ranges of
        at most ``LATE_COMMITS`` rows are read, no table is scanned)."""
        columns = []
        for number in (memory_changes.c.seq, outcome_reports.c.n):
            last = select(func.max(number)).scalar_subquery()
            recent = select(func.count()).where(number > last - LATE_COMMITS).scalar_subquery()
            columns += [last, recent]
        with self.db.read() as conn:
            return tuple(int(mark or 0) for mark in conn.execute(select(*columns)).one())

    def changes_after(self, seq: int, limit: int = 5000) -> list[Change]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(memory_changes.c.seq, memory_changes.c.memory_id, memory_changes.c.type, memory_changes.c.op)
                .where(memory_changes.c.seq > seq)
                .order_by(memory_changes.c.seq)
                .limit(limit)
            ).all()
        return [Change(int(r.seq), r.memory_id, r.type, r.op) for r in rows]


class StoreFacts:
    """Small named values the store keeps about itself."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def fact(self, key: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(store_facts.c.value).where(store_facts.c.key == key)).scalar()

    def set_fact(self, key: str, value: str) -> None:
        """Record a fact; servers starting together may record the same one at once."""
        with self.db.write() as conn:
            conn.execute(self.db.insert_or_ignore(store_facts, {"key": key, "value": value}))
            conn.execute(update(store_facts).where(store_facts.c.key == key).values(value=value))

    def fact_or_set(self, key: str, value: str) -> str:
        """The fact's value; ``value`` is recorded first when there is none (the first writer wins)."""
        current = self.fact(key)
        if current is not None:
            return current
        with self.db.write() as conn:
            conn.execute(self.db.insert_or_ignore(store_facts, {"key": key, "value": value}))
        return self.fact(key) or value
