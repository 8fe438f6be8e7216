"""Which memories are in recall, which are archived, and when each was last used: the rows consolidation reads.

Archiving sets a memory's ``status`` (and its parts') to ``archived``; restoring sets it back (see
``memory_links.set_status``). ``last_used_at`` holds when a recall last returned a memory (at most once a day),
written in batches by ``memory.usage`` (never in the recall's own path).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from mcp_memory.storage.database import Database
from mcp_memory.storage.memory_links import ACTIVE, ARCHIVED, Moved, set_status
from mcp_memory.storage.schema import memories

IN_CHUNK = 500
CURATED_SOURCES = ("seed", "knowledge")  # shipped or written by people: never merged or archived


@dataclass(frozen=True)
class MemoryState:
    type: str
    status: str
    status_at: float | None
    status_note: str | None
    last_used_at: float | None
    project: str


@dataclass(frozen=True)
class Candidate:
    """What consolidation weighs of a memory in recall."""

    id: str
    type: str
    title: str
    project: str
    language: str
    signature: str
    fields_json: str  # the parts it was stored with (code, solution, error message, resolution), as JSON
    usage_count: int
    success_count: int
    failure_count: int
    created_at: float
    last_active: float  # the latest of created, updated (a store again, a report) and last recalled


@dataclass(frozen=True)
class ArchivedRow:
    id: str
    type: str
    title: str
    agent: str
    project: str
    archived_at: float
    reason: str
    usage_count: int
    success_count: int
    failure_count: int


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield list(ids[start : start + IN_CHUNK])


def _last_active(row: Any) -> float:
    return max(float(row.created_at or 0), float(row.updated_at or 0), float(row.last_used_at or 0))


class MemoryStates:
    """Reads and writes of the recall status and last use of memories, over one ``Database``."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def of(self, memory_id: str) -> MemoryState | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    memories.c.type,
                    memories.c.status,
                    memories.c.status_at,
                    memories.c.status_note,
                    memories.c.last_used_at,
                    memories.c.project,
                ).where(memories.c.id == memory_id)
            ).first()
        return MemoryState(*row) if row is not None else None

    def live_ids(self, memory_type: str) -> list[str]:
        """Ids of a type that are in recall (they should have a vector)."""
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(memories.c.id).where(memories.c.type == memory_type, memories.c.status == ACTIVE)
                ).scalars()
            )

    def counts(self) -> dict[str, int]:
        """How many memories are out of recall, by status."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(memories.c.status, func.count()).where(memories.c.status != ACTIVE).group_by(memories.c.status)
            )
            return {row[0]: int(row[1]) for row in rows}

    def archive(self, reasons: Sequence[tuple[str, str]]) -> dict[str, Moved]:
        """Archive memories in recall (with their parts), each with its reason, in one transaction; what left
        recall, by memory (one no longer in recall is left out)."""
        now = time.time()
        with self.db.write() as conn:
            moved = {memory_id: set_status(conn, memory_id, ARCHIVED, why, ACTIVE, now) for memory_id, why in reasons}
        return {memory_id: rows for memory_id, rows in moved.items() if rows}

    def unarchive(self, memory_id: str) -> Moved:
        with self.db.write() as conn:
            return set_status(conn, memory_id, ACTIVE, None, ARCHIVED, time.time())

    def archived(self, project: str | None, limit: int) -> list[ArchivedRow]:
        """Archived memories (not their parts), most recently archived first; of one project when given."""
        query = (
            select(
                memories.c.id,
                memories.c.type,
                memories.c.title,
                memories.c.agent,
                memories.c.project,
                memories.c.status_at,
                memories.c.status_note,
                memories.c.usage_count,
                memories.c.success_count,
                memories.c.failure_count,
            )
            .where(memories.c.status == ARCHIVED, memories.c.part_of.is_(None))
            .order_by(memories.c.status_at.desc(), memories.c.id)
            .limit(limit)
        )
        if project is not None:
            query = query.where(memories.c.project == project)
        with self.db.read() as conn:
            return [
                ArchivedRow(
                    r.id,
                    r.type,
                    r.title,
                    r.agent,
                    r.project,
                    float(r.status_at or 0),
                    r.status_note or "",
                    r.usage_count,
                    r.success_count,
                    r.failure_count,
                )
                for r in conn.execute(query)
            ]

    def candidates(
        self,
        memory_type: str,
        project: str | None = None,
        ids: Sequence[str] | None = None,
        *,
        stale_before: float | None = None,
        min_failures: int | None = None,
    ) -> Iterator[Candidate]:
        """Memories of a type that consolidation may merge or archive: in recall, written by agents (not seeds or
        team knowledge), whole (not a part); all of them, or those of ``ids``, a page at a time. With
        ``stale_before`` and ``min_failures``, only those unused since then or that only failed that often."""
        base = select(
            memories.c.id,
            memories.c.type,
            memories.c.title,
            memories.c.project,
            memories.c.language,
            memories.c.flat_json,
            memories.c.usage_count,
            memories.c.success_count,
            memories.c.failure_count,
            memories.c.created_at,
            memories.c.updated_at,
            memories.c.last_used_at,
        ).where(
            memories.c.type == memory_type,
            memories.c.status == ACTIVE,
            memories.c.part_of.is_(None),
            memories.c.source.not_in(CURATED_SOURCES),
        )
        if project is not None:
            base = base.where(memories.c.project == project)
        if stale_before is not None and min_failures is not None:
            base = base.where(
                or_(
                    and_(memories.c.failure_count >= min_failures, memories.c.success_count == 0),
                    and_(
                        memories.c.created_at < stale_before,
                        memories.c.updated_at < stale_before,
                        or_(memories.c.last_used_at.is_(None), memories.c.last_used_at < stale_before),
                    ),
                )
            )
        pages: Iterator[Any] = self._pages(base) if ids is None else self._by_ids(base, ids)
        for rows in pages:
            for row in rows:
                flat = json.loads(row.flat_json or "{}")
                yield Candidate(
                    id=row.id,
                    type=row.type,
                    title=row.title,
                    project=row.project,
                    language=row.language,
                    signature=str(flat.get("signature") or ""),
                    fields_json=str(flat.get("fields_json") or "{}"),
                    usage_count=row.usage_count,
                    success_count=row.success_count,
                    failure_count=row.failure_count,
                    created_at=float(row.created_at),
                    last_active=_last_active(row),
                )

    def _pages(self, base: Any, page: int = 2000) -> Iterator[list[Any]]:
        after = ""
        while True:
            with self.db.read() as conn:
                rows = conn.execute(base.where(memories.c.id > after).order_by(memories.c.id).limit(page)).all()
            yield rows
            if len(rows) < page:
                return
            after = rows[-1].id

    def _by_ids(self, base: Any, ids: Sequence[str]) -> Iterator[list[Any]]:
        for chunk in _chunks(list(dict.fromkeys(ids))):
            with self.db.read() as conn:
                yield conn.execute(base.where(memories.c.id.in_(chunk))).all()

    def touch(self, ids: Sequence[str], day: float, now: float) -> int:
        """Mark memories used ``now``, unless already marked on that ``day`` (its first second) or later."""
        touched = 0
        with self.db.write() as conn:
            for chunk in _chunks(list(ids)):
                touched += conn.execute(
                    update(memories)
                    .where(
                        memories.c.id.in_(chunk),
                        or_(memories.c.last_used_at.is_(None), memories.c.last_used_at < day),
                    )
                    .values(last_used_at=now)
                ).rowcount
        return touched
