"""Links between memories (and from a memory to an episode), and the two links that take a memory out of recall.

A memory is in recall while its ``status`` is "" (and it has a vector). ``supersedes`` (an agent says a newer
memory replaces an older one) and ``merged_into`` (consolidation folded a near-duplicate into a better one) set the
target's or the duplicate's status in the same transaction as the link, with a pattern's parts; removing the link
(``unlink_memories``, or restoring a merged memory) brings them back. The caller moves the vectors after the
commit, as every write here does: the row first, then the index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from mcp_memory.storage.database import Database
from mcp_memory.storage.schema import episodes, memories, memory_changes, memory_links

ACTIVE = ""
SUPERSEDED = "superseded"
MERGED = "merged"
ARCHIVED = "archived"
SUPERSEDES = "supersedes"
MERGED_INTO = "merged_into"
LEARNED_FROM = "learned_from"
COUNTERS = ("usage_count", "success_count", "failure_count")
MAX_HOPS = 20  # merged into a memory that was merged in turn: at most this many steps to the one in recall

Moved = list[tuple[str, str]]  # (id, type) of memories that left or came back into recall


@dataclass(frozen=True)
class Link:
    from_id: str
    to_id: str
    relation: str
    agent: str
    note: str
    created_at: float
    detail: dict[str, Any] | None


def _link(row: Any) -> Link:
    detail = json.loads(row.detail_json) if row.detail_json else None
    return Link(row.from_id, row.to_id, row.relation, row.agent, row.note, row.created_at, detail)


def set_status(conn: Any, memory_id: str, status: str, note: str | None, was: str, now: float) -> Moved:
    """Move a memory and the parts of its code (a long pattern is stored as a pattern plus parts) from status ``was``
    to ``status`` in this transaction; which ones moved. The change feed says they left recall (or came back), so
    other servers' indexes follow."""
    # Looked up by id and by part_of first: in one statement with ``OR`` SQLite walks the status index instead.
    parts = conn.execute(select(memories.c.id).where(memories.c.part_of == memory_id)).scalars()
    moved = [
        (row.id, row.type)
        for row in conn.execute(
            update(memories)
            .where(memories.c.id.in_([memory_id, *parts]), memories.c.status == was)
            .values(status=status, status_at=now, status_note=note)
            .returning(memories.c.id, memories.c.type)
        )
    ]
    if moved:
        op = "put" if status == ACTIVE else "delete"
        conn.execute(
            insert(memory_changes),
            [{"memory_id": i, "type": t, "op": op, "changed_at": now} for i, t in moved],
        )
    return moved


def follow_merges(conn: Any, memory_id: str) -> tuple[str, str]:
    """Where a memory's uses count: itself, or the memory it was merged into (followed to the end); with that
    memory's status."""
    current = memory_id
    for _ in range(MAX_HOPS):
        status = conn.execute(select(memories.c.status).where(memories.c.id == current)).scalar()
        if status != MERGED:
            return current, status or ACTIVE
        target = conn.execute(
            select(memory_links.c.to_id).where(
                memory_links.c.from_id == current, memory_links.c.relation == MERGED_INTO
            )
        ).scalar()
        if target is None:
            return current, status
        current = target
    return current, MERGED


class MemoryLinks:
    """Reads and writes of links over one ``Database``."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def add(
        self, from_id: str, to_id: str, relation: str, agent: str, note: str = "", detail: dict[str, Any] | None = None
    ) -> bool:
        """Record a link; False when the same link (from, to, relation) is there already (it is kept as it was)."""
        with self.db.write() as conn:
            return self._insert(conn, from_id, to_id, relation, agent, note, detail, time.time())

    def _insert(
        self,
        conn: Any,
        from_id: str,
        to_id: str,
        relation: str,
        agent: str,
        note: str,
        detail: dict[str, Any] | None,
        now: float,
    ) -> bool:
        values = {
            "from_id": from_id,
            "to_id": to_id,
            "relation": relation,
            "agent": agent,
            "note": note,
            "detail_json": json.dumps(detail) if detail is not None else None,
            "created_at": now,
        }
        statement = self.db.insert_or_ignore(memory_links, values).returning(memory_links.c.from_id)
        return conn.execute(statement).first() is not None

    def supersede(self, from_id: str, to_id: str, agent: str, note: str) -> tuple[bool, Moved]:
        """``from_id`` supersedes ``to_id``: the link, and ``to_id`` (with its parts) out of recall."""
        now = time.time()
        with self.db.write() as conn:
            created = self._insert(conn, from_id, to_id, SUPERSEDES, agent, note, None, now)
            return created, set_status(conn, to_id, SUPERSEDED, f"superseded by {from_id}", ACTIVE, now)

    def remove(self, from_id: str, to_id: str, relation: str) -> tuple[bool, Moved]:
        """Remove one link; a memory nothing supersedes any more comes back into recall (returned)."""
        now = time.time()
        with self.db.write() as conn:
            removed = conn.execute(
                delete(memory_links).where(
                    memory_links.c.from_id == from_id,
                    memory_links.c.to_id == to_id,
                    memory_links.c.relation == relation,
                )
            ).rowcount
            back: Moved = []
            if removed and relation == SUPERSEDES and not self._superseders(conn, to_id):
                back = set_status(conn, to_id, ACTIVE, None, SUPERSEDED, now)
            return bool(removed), back

    @staticmethod
    def _superseders(conn: Any, memory_id: str) -> list[str]:
        return list(
            conn.execute(
                select(memory_links.c.from_id).where(
                    memory_links.c.to_id == memory_id, memory_links.c.relation == SUPERSEDES
                )
            ).scalars()
        )

    def get(self, from_id: str, to_id: str, relation: str) -> Link | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(memory_links).where(
                    memory_links.c.from_id == from_id,
                    memory_links.c.to_id == to_id,
                    memory_links.c.relation == relation,
                )
            ).first()
        return _link(row) if row is not None else None

    def of(self, memory_id: str) -> list[Link]:
        """Every link from or to a memory, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(memory_links)
                .where(or_(memory_links.c.from_id == memory_id, memory_links.c.to_id == memory_id))
                .order_by(memory_links.c.created_at, memory_links.c.relation)
            ).all()
        return [_link(row) for row in rows]

    def keep_superseded(self, memory_id: str) -> bool:
        """A memory just back in recall that something still supersedes goes out again (superseded); whether it
        did."""
        now = time.time()
        with self.db.write() as conn:
            newest = self._superseders(conn, memory_id)
            if not newest:
                return False
            set_status(conn, memory_id, SUPERSEDED, f"superseded by {newest[-1]}", ACTIVE, now)
            return True

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str | None]]:
        """What each id is: ("memory", title, status) or ("episode", task, None); unknown ids are left out."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, tuple[str, str, str | None]] = {}
        with self.db.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in conn.execute(
                    select(memories.c.id, memories.c.title, memories.c.status).where(memories.c.id.in_(chunk))
                ):
                    found[row.id] = ("memory", row.title, row.status)
                rest = [i for i in chunk if i not in found]
                if rest:
                    for row in conn.execute(select(episodes.c.id, episodes.c.task).where(episodes.c.id.in_(rest))):
                        found[row.id] = ("episode", row.task[:300], None)
        return found

    # -- consolidation -----------------------------------------------------------------------------

    def merge(self, merges: Sequence[tuple[str, str, str]], agent: str) -> list[tuple[str, Moved]]:
        """Fold each (duplicate, survivor, note) in one transaction: the survivor's counters go up by the
        duplicate's, the duplicate (with its parts) leaves recall, and a ``merged_into`` link keeps what was moved.
        Its outcome log and votes stay on it. A merge where either is no longer in recall is left out; the rest are
        returned with what left recall."""
        now = time.time()
        done: list[tuple[str, Moved]] = []
        with self.db.write() as conn:
            for duplicate, survivor, note in merges:
                rows = {
                    row.id: row
                    for row in conn.execute(
                        select(memories.c.id, memories.c.status, *(memories.c[c] for c in COUNTERS))
                        .where(memories.c.id.in_([duplicate, survivor]))
                        .with_for_update()
                    )
                }
                if len(rows) < 2 or any(row.status != ACTIVE for row in rows.values()):
                    continue
                moved = {c: int(getattr(rows[duplicate], c)) for c in COUNTERS}
                conn.execute(
                    update(memories)
                    .where(memories.c.id == survivor)
                    .values(**{c: memories.c[c] + moved[c] for c in COUNTERS})
                )
                self._insert(conn, duplicate, survivor, MERGED_INTO, agent, note, moved, now)
                done.append(
                    (duplicate, set_status(conn, duplicate, MERGED, f"merged into {survivor}: {note}", ACTIVE, now))
                )
        return done

    def unmerge(self, duplicate: str) -> tuple[str, Moved] | None:
        """Undo a merge: the survivor gives back the counts it was given (never below zero), the link goes, and
        the duplicate with its parts comes back. None when ``duplicate`` is not merged."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                select(memory_links).where(memory_links.c.from_id == duplicate, memory_links.c.relation == MERGED_INTO)
            ).first()
            if row is None:
                return None
            link = _link(row)
            given = link.detail or {}
            conn.execute(
                update(memories)
                .where(memories.c.id == link.to_id)
                .values(
                    **{c: func.max(memories.c[c] - int(given.get(c, 0)), 0) for c in COUNTERS}
                    if self.db.is_sqlite
                    else {c: func.greatest(memories.c[c] - int(given.get(c, 0)), 0) for c in COUNTERS}
                )
            )
            conn.execute(
                delete(memory_links).where(
                    and_(memory_links.c.from_id == duplicate, memory_links.c.relation == MERGED_INTO)
                )
            )
            return link.to_id, set_status(conn, duplicate, ACTIVE, None, MERGED, now)
