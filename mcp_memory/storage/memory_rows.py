"""Memory rows in the database: text, fields, counters and the outcome log.

Every counter change is one atomic statement (``SET usage_count = usage_count + 1``), and a store is an
insert-or-bump keyed on the id (which is derived from the type and the content hash): however many servers store
the same content at once, there is one row and every store is counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, delete, func, insert, select, update

from mcp_memory.storage.change_feed import record_changes
from mcp_memory.storage.database import Database, in_chunks
from mcp_memory.storage.memory_links import ACTIVE, ARCHIVED, follow_merges, set_status
from mcp_memory.storage.schema import (
    memories,
    outcome_reports,
    outcome_votes,
)

COUNTER_KEYS = ("usage_count", "success_count", "failure_count")
TEXT_KEYS = ("type", "title", "language", "agent", "source", "project", "content_hash")
# Metadata keys that are columns; everything else of a memory's flat metadata is kept in flat_json.
COLUMN_KEYS = (*TEXT_KEYS, "created_at", "updated_at", *COUNTER_KEYS)
# Kept in the outcome log now; the releases that kept it in metadata are imported from it.
LEGACY_NOTES_KEY = "outcome_notes_json"
LOCAL_VOTER = "local"  # who votes when no token names the caller

StoreOutcome = Literal["new", "duplicate", "replaced", "revived"]


@dataclass(frozen=True)
class StoredItem:
    """A memory as the services see it: id, text, and its flat metadata (counters included)."""

    id: str
    document: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Counters:
    usage_count: int
    success_count: int
    failure_count: int
    type: str = ""


@dataclass(frozen=True)
class OutcomeNote:
    success: bool
    note: str
    agent: str
    at: float


def _values(item: StoredItem) -> dict[str, Any]:
    """The row of an item; metadata keys that are not columns go to flat_json."""
    meta = item.metadata
    flat = {k: v for k, v in meta.items() if k not in COLUMN_KEYS and k != LEGACY_NOTES_KEY}
    part_of = meta.get("part_of")
    now = time.time()
    return {
        "id": item.id,
        "type": meta["type"],
        "content_hash": str(meta.get("content_hash", "")),
        "title": str(meta.get("title", "")),
        "content": item.document,
        "language": str(meta.get("language") or ""),
        "agent": str(meta.get("agent") or ""),
        "source": str(meta.get("source") or "agent"),
        "part_of": part_of if isinstance(part_of, str) and part_of else None,
        "flat_json": json.dumps(flat, ensure_ascii=False, separators=(",", ":")),
        "created_at": float(meta.get("created_at") or now),
        "updated_at": float(meta.get("updated_at") or now),
        "usage_count": _count(meta.get("usage_count")),
        "success_count": _count(meta.get("success_count")),
        "failure_count": _count(meta.get("failure_count")),
        "project": str(meta.get("project") or ""),
    }


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


ROW_COLUMNS = (
    memories.c.id,
    memories.c.content,
    memories.c.flat_json,
    memories.c.type,
    memories.c.title,
    memories.c.language,
    memories.c.agent,
    memories.c.source,
    memories.c.created_at,
    memories.c.updated_at,
    memories.c.content_hash,
    memories.c.usage_count,
    memories.c.success_count,
    memories.c.failure_count,
    memories.c.last_failure_note,
    memories.c.project,
)
# Built once: a recall reads rows by id on every call, and building the statement cost more than running it.
_ROWS_BY_ID = select(*ROW_COLUMNS).where(memories.c.id.in_(bindparam("ids", expanding=True)))


def stored_item(row: Any) -> StoredItem:
    metadata = json.loads(row.flat_json or "{}")
    metadata.update(
        type=row.type,
        title=row.title,
        language=row.language,
        agent=row.agent,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        content_hash=row.content_hash,
        usage_count=row.usage_count,
        success_count=row.success_count,
        failure_count=row.failure_count,
    )
    if row.last_failure_note:
        metadata["last_failure_note"] = row.last_failure_note
    metadata.pop("project", None)  # an old caller's own "project" key is not the memory's project
    if row.project:  # global memories carry no project key, as before projects
        metadata["project"] = row.project
    return StoredItem(row.id, row.content, metadata)


class MemoryRows:
    """Reads and atomic writes of memory rows over one ``Database``."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # -- writes ------------------------------------------------------------------------------------

    def insert_or_bump(
        self, item: StoredItem, success: bool | None, voter: str = LOCAL_VOTER
    ) -> tuple[StoreOutcome, StoredItem]:
        """Insert a new memory; if its id is taken by the same content, count this store instead; if by other
        content (a fixed id whose text changed, e.g. an edited seed), replace the content and keep its history.
        A success flag is ``voter``'s vote (see ``report``). A store of a merged memory's content counts on the
        memory it was merged into; one of an archived memory's brings it back ("revived": it needs its vector).
        Returns what happened and the row as it now is."""
        values = _values(item)
        now = values["updated_at"]
        with self.db.write() as conn:
            if self._inserted(conn, values):
                if success is not None:
                    self._vote(conn, item.id, voter, success, now)
                record_changes(conn, [(item.id, values["type"])], "put", now)
                return "new", self._get_one(conn, item.id)
            same = conn.execute(
                select(memories.c.id)
                .where(memories.c.id == item.id, memories.c.content_hash == values["content_hash"])
                .with_for_update()
            ).first()
            if same is not None:
                # A merged memory's uses count on the one it was merged into; an archived one is used again.
                target, status = follow_merges(conn, item.id)
                worked, failed = self._vote(conn, target, voter, success, now) if success is not None else (0, 0)
                bumped = conn.execute(
                    update(memories)
                    .where(memories.c.id == target)
                    .values(
                        usage_count=memories.c.usage_count + 1,
                        success_count=memories.c.success_count + worked,
                        failure_count=memories.c.failure_count + failed,
                        updated_at=now,
                    )
                    .returning(*ROW_COLUMNS)
                ).one()
                if status == ARCHIVED and set_status(conn, target, ACTIVE, None, ARCHIVED, now):
                    return "revived", stored_item(bumped)
                return "duplicate", stored_item(bumped)
            replaced = {k: v for k, v in values.items() if k not in ("id", "created_at", *COUNTER_KEYS)}
            conn.execute(update(memories).where(memories.c.id == item.id).values(**replaced))
            record_changes(conn, [(item.id, values["type"])], "put", now)
            return "replaced", self._get_one(conn, item.id)

    @staticmethod
    def _vote(conn: Any, item_id: str, voter: str, success: bool, now: float) -> tuple[int, int]:
        """Record ``voter``'s latest outcome on a memory whose row this transaction holds; returns how the
        (success, failure) counters move: a first vote adds one, a changed vote moves one, a repeated vote none."""
        where = (outcome_votes.c.memory_id == item_id, outcome_votes.c.agent == voter)
        old = conn.execute(select(outcome_votes.c.success).where(*where)).first()
        if old is None:
            conn.execute(insert(outcome_votes).values(memory_id=item_id, agent=voter, success=success, voted_at=now))
            return (1, 0) if success else (0, 1)
        conn.execute(update(outcome_votes).where(*where).values(success=success, voted_at=now))
        if bool(old.success) == success:
            return 0, 0
        return (1, -1) if success else (-1, 1)

    def _inserted(self, conn: Any, values: dict[str, Any]) -> bool:
        """Insert a row unless its id exists; whether it was inserted (RETURNING: rowcount is not reliable)."""
        statement = self.db.insert_or_ignore(memories, values).returning(memories.c.id)
        return conn.execute(statement).first() is not None

    def put_many(self, items: Sequence[StoredItem]) -> None:
        """Write whole rows as given (seeds, import, episode records): insert, or replace everything."""
        if not items:
            return
        rows = [_values(item) for item in items]
        with self.db.write() as conn:
            ids = [row["id"] for row in rows]
            for chunk in in_chunks(ids):
                conn.execute(delete(memories).where(memories.c.id.in_(chunk)))
            conn.execute(insert(memories), rows)
            record_changes(conn, [(row["id"], row["type"]) for row in rows], "put", time.time())

    def import_legacy(self, items: Sequence[StoredItem]) -> int:
        """Rows of a store written by an earlier release, with their outcome notes; rows present are kept."""
        added = 0
        with self.db.write() as conn:
            for item in items:
                values = _values(item)
                notes = json.loads(item.metadata.get(LEGACY_NOTES_KEY) or "[]")
                failed = [n for n in notes if not n.get("success") and n.get("note")]
                values["last_failure_note"] = str(failed[-1]["note"]) if failed else None
                if not self._inserted(conn, values):
                    continue
                added += 1
                for note in notes:
                    conn.execute(
                        insert(outcome_reports).values(
                            memory_id=item.id,
                            agent=str(note.get("agent") or ""),
                            success=bool(note.get("success")),
                            note=str(note.get("note") or ""),
                            reported_at=float(note.get("at") or values["updated_at"]),
                        )
                    )
            if added:
                record_changes(conn, [(i.id, i.metadata["type"]) for i in items], "put", time.time())
        return added

    def report(self, item_id: str, success: bool, note: str, agent: str) -> Counters | None:
        """Log an outcome and count it as ``agent``'s vote, in one transaction; None when there is no such memory.

        Every report is logged and counted as a use; the success and failure counters count agents (each one's
        latest vote), so repeating a report moves nothing and changing one's mind moves one count."""
        now = time.time()
        voter = agent or LOCAL_VOTER
        with self.db.write() as conn:
            held = conn.execute(select(memories.c.type).where(memories.c.id == item_id).with_for_update()).first()
            if held is None:
                return None
            worked, failed = self._vote(conn, item_id, voter, success, now)
            changes: dict[str, Any] = {
                "usage_count": memories.c.usage_count + 1,
                "success_count": memories.c.success_count + worked,
                "failure_count": memories.c.failure_count + failed,
                "updated_at": now,
            }
            if note and not success:
                changes["last_failure_note"] = note
            counted = conn.execute(
                update(memories)
                .where(memories.c.id == item_id)
                .values(**changes)
                .returning(memories.c.usage_count, memories.c.success_count, memories.c.failure_count)
            ).one()
            conn.execute(
                insert(outcome_reports).values(
                    memory_id=item_id, agent=voter, success=success, note=note, reported_at=now
                )
            )
            return Counters(counted.usage_count, counted.success_count, counted.failure_count, held.type)

    def written_by(self, agent: str, since: float | None = None) -> list[tuple[str, str, str]]:
        """(id, type, title) of every live memory ``agent`` wrote (since ``since``), oldest first."""
        query = select(memories.c.id, memories.c.type, memories.c.title).where(memories.c.agent == agent)
        if since is not None:
            query = query.where(memories.c.created_at >= since)
        with self.db.read() as conn:
            return [(r.id, r.type, r.title) for r in conn.execute(query.order_by(memories.c.created_at))]

    # -- reads -------------------------------------------------------------------------------------

    def _get_one(self, conn: Any, item_id: str) -> StoredItem:
        return stored_item(conn.execute(select(*ROW_COLUMNS).where(memories.c.id == item_id)).one())

    def get(self, ids: Sequence[str], memory_type: str | None = None) -> list[StoredItem]:
        """Items by id (of ``memory_type`` when given), in no particular order; unknown ids are left out."""
        # The type is checked here, not in SQL: with ``type = ?`` beside ``id IN (...)``, SQLite's planner (which has
        # no statistics) walks every row of the type through ``memories_by_type`` instead of looking the ids up by
        # primary key — 40-130 ms instead of 0.3 ms for a recall's 20 ids at 10,000 memories.
        found: list[StoredItem] = []
        with self.db.read() as conn:
            for chunk in in_chunks(list(dict.fromkeys(ids))):
                rows = conn.execute(_ROWS_BY_ID, {"ids": chunk})
                found += [stored_item(row) for row in rows if memory_type is None or row.type == memory_type]
        return found

    def type_of(self, item_id: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(memories.c.type).where(memories.c.id == item_id)).scalar()

    def scan(self, memory_type: str, page: int = 2000) -> Iterator[StoredItem]:
        """Every item of a type, read a page at a time in id order."""
        after = ""
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(*ROW_COLUMNS)
                    .where(memories.c.type == memory_type, memories.c.id > after)
                    .order_by(memories.c.id)
                    .limit(page)
                ).all()
            yield from (stored_item(row) for row in rows)
            if len(rows) < page:
                return
            after = rows[-1].id

    def ids(self, memory_type: str) -> list[str]:
        with self.db.read() as conn:
            return list(conn.execute(select(memories.c.id).where(memories.c.type == memory_type)).scalars())

    def ids_where(self, memory_type: str, **equal: Any) -> list[str]:
        """Ids of a type whose columns equal the given values (e.g. ``part_of=...``, ``language=...``)."""
        query = select(memories.c.id).where(memories.c.type == memory_type)
        for column, value in equal.items():
            query = query.where(memories.c[column] == value)
        with self.db.read() as conn:
            return list(conn.execute(query).scalars())

    def count(self, memory_type: str | None = None) -> int:
        query = select(func.count()).select_from(memories)
        if memory_type is not None:
            query = query.where(memories.c.type == memory_type)
        with self.db.read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def count_by(self, column: str) -> dict[tuple[str, str], int]:
        """Counts per (type, value of ``column``)."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(memories.c.type, memories.c[column], func.count()).group_by(memories.c.type, memories.c[column])
            )
            return {(row[0], row[1]): int(row[2]) for row in rows}

    def outcome_notes(self, item_id: str, limit: int = 10) -> list[OutcomeNote]:
        """The latest reports with a note, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    outcome_reports.c.success,
                    outcome_reports.c.note,
                    outcome_reports.c.agent,
                    outcome_reports.c.reported_at,
                )
                .where(outcome_reports.c.memory_id == item_id, outcome_reports.c.note != "")
                .order_by(outcome_reports.c.n.desc())
                .limit(limit)
            ).all()
        return [OutcomeNote(bool(r.success), r.note, r.agent, r.reported_at) for r in reversed(rows)]

    def success_voters(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """For each memory, the agents whose latest vote on it is a success (memories without one are left out)."""
        voters: dict[str, set[str]] = {}
        with self.db.read() as conn:
            for chunk in in_chunks(list(dict.fromkeys(ids))):
                rows = conn.execute(
                    select(outcome_votes.c.memory_id, outcome_votes.c.agent).where(
                        outcome_votes.c.memory_id.in_(chunk), outcome_votes.c.success.is_(True)
                    )
                )
                for memory_id, agent in rows:
                    voters.setdefault(memory_id, set()).add(agent)
        return voters

    def outcome_log(self, item_id: str) -> list[OutcomeNote]:
        """Every report on a memory, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    outcome_reports.c.success,
                    outcome_reports.c.note,
                    outcome_reports.c.agent,
                    outcome_reports.c.reported_at,
                )
                .where(outcome_reports.c.memory_id == item_id)
                .order_by(outcome_reports.c.n)
            ).all()
        return [OutcomeNote(bool(r.success), r.note, r.agent, r.reported_at) for r in rows]
