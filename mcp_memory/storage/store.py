"""The memory store: rows in the database (the system of record), vectors in Chroma (an index of them).

Writes go to the database first (committed), then to Chroma (for a store into the embedded index, right after the
answer: ``vector_backlog``); ``reconcile`` mends what a crash between the two left behind: a row without a vector
is embedded again, a vector without a row is removed. Reads of text, fields
and counters come from the database; Chroma answers only "which ids are nearest".

Knows nothing of MCP or of what a memory means beyond its flat metadata.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mcp_memory.errors import Unavailable
from mcp_memory.models import MemoryType, ReconcileReport
from mcp_memory.storage.archive import MemoryStates
from mcp_memory.storage.change_feed import Change, ChangeFeed, StoreFacts
from mcp_memory.storage.database import Database
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.filters import DATABASE_ONLY_KEYS, matches, split_where
from mcp_memory.storage.memory_export import exported
from mcp_memory.storage.memory_legacy import import_legacy_rows
from mcp_memory.storage.memory_links import ACTIVE, MemoryLinks, Moved
from mcp_memory.storage.memory_rows import (
    LEGACY_NOTES_KEY,
    Counters,
    MemoryRows,
    OutcomeNote,
    StoredItem,
    StoreOutcome,
)
from mcp_memory.storage.project_rows import ProjectRows
from mcp_memory.storage.reconcile import reconcile
from mcp_memory.storage.tombstone_rows import TombstoneRows
from mcp_memory.storage.vector_backlog import SETTLE_SECONDS, VectorBacklog
from mcp_memory.storage.vectors import COLLECTION_NAMES, MODEL_KEY, ChromaIndex

__all__ = [
    "COLLECTION_NAMES",
    "MODEL_KEY",
    "Change",
    "Counters",
    "MemoryStore",
    "OutcomeNote",
    "QueryMatch",
    "StoreOutcome",
    "StoredItem",
]
logger = logging.getLogger(__name__)

# Flat metadata that stays out of Chroma: it changes after the vector is written, or is large.
VECTORLESS_KEYS = DATABASE_ONLY_KEYS | {"fields_json", "metadata_json", LEGACY_NOTES_KEY, "last_failure_note"}
STORE_ID_KEY = "store_id"
LEGACY_IMPORTED = "legacy_chroma_imported"


class WriteListener(Protocol):
    """Told about every write after it landed (the catalog keeps itself current this way)."""

    def stored(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None: ...

    def removed(self, memory_type: MemoryType, ids: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class QueryMatch:
    item: StoredItem
    distance: float


class MemoryStore:
    """The database rows and the Chroma vectors of every memory type, kept in step."""

    def __init__(
        self,
        embedder: Embedder,
        data_dir: Path | None,
        chroma_url: str | None = None,
        database: Database | None = None,
    ) -> None:
        self.db = database or Database(None, data_dir)
        self.rows = MemoryRows(self.db)
        self.tombstones = TombstoneRows(self.db)
        self.feed = ChangeFeed(self.db)
        self.facts = StoreFacts(self.db)
        self.projects = ProjectRows(self.db)
        self.links = MemoryLinks(self.db)
        self.states = MemoryStates(self.db)
        self.embedder = embedder
        self._index = ChromaIndex(embedder, data_dir, chroma_url)
        # The embedded index is written behind the rows (see vector_backlog); a Chroma server shared with other
        # servers is written before a store is answered, so that they all find what one acknowledged.
        self.backlog = VectorBacklog(self._index_now) if chroma_url is None else None
        self.store_id = ""
        self._rows_only = False
        self._listeners: list[WriteListener] = []

    def watch(self, listener: WriteListener) -> None:
        """Call ``listener`` after every add and delete through this store."""
        self._listeners.append(listener)

    @property
    def index(self) -> ChromaIndex:
        """The vector index, once every vector waiting in the backlog is in it."""
        self.settle()
        return self._index

    def settle(self, timeout: float = SETTLE_SECONDS) -> None:
        """Wait until every vector of a store answered so far is indexed (see ``vector_backlog``)."""
        if self.backlog is not None:
            self.backlog.settle(timeout)

    @property
    def is_open(self) -> bool:
        return self.db.is_open and self._index.is_open and bool(self.store_id)

    @property
    def shared(self) -> bool:
        """Whether other servers write to the same memory (a shared database)."""
        return self.db.shared

    def open_rows_only(self) -> None:
        """Open the database alone, for reading rows beside a server that owns the embedded vector store."""
        self._rows_only = True
        self.db.open()
        self.store_id = self.facts.fact_or_set(STORE_ID_KEY, uuid.uuid4().hex)

    def open(self) -> None:
        """Open the database (migrating it) and Chroma; import a store an earlier release wrote (idempotent)."""
        if self.is_open or (self._rows_only and self.store_id):
            return
        self.db.open()
        self._index.open()
        self.store_id = self.facts.fact_or_set(STORE_ID_KEY, uuid.uuid4().hex)
        if self.facts.fact(LEGACY_IMPORTED) is None:
            imported = self.import_legacy()
            if imported:
                logger.warning("imported %d memories from the Chroma store into the database", imported)
            self.facts.set_fact(LEGACY_IMPORTED, "1")

    def import_legacy(self) -> int:
        """Rows for records of releases that kept text and counters in Chroma metadata (present rows are kept)."""
        return import_legacy_rows(self.index, self.rows)

    # -- reads -------------------------------------------------------------------------------------

    def get(
        self, memory_type: MemoryType | None, ids: list[str], where: dict[str, Any] | None = None
    ) -> list[StoredItem]:
        """Items by id (of ``memory_type``, or of any type when it is None; those matching ``where``), in no
        particular order; unknown ids are left out."""
        self.open()
        items = self.rows.get(ids, memory_type)
        return [item for item in items if matches(where, item.metadata)] if where else items

    def nearest(
        self, memory_type: MemoryType, embedding: Any, n_results: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine distances of the nearest memories, best first (without reading rows when Chroma can
        answer the whole filter)."""
        self.open()
        chroma_where, row_where = split_where(where)
        if row_where is None:
            return self.index.nearest(memory_type, embedding, n_results, chroma_where)
        total = self.index.count(memory_type)
        fetch = min(max(n_results * 4, 20), max(total, 1))
        while True:
            found = self.index.nearest(memory_type, embedding, fetch, chroma_where)
            keep = {item.id for item in self.get(memory_type, [i for i, _ in found], row_where)}
            kept = [(item_id, distance) for item_id, distance in found if item_id in keep]
            if len(kept) >= n_results or len(found) < fetch or fetch >= total:
                return kept[:n_results]
            fetch = min(fetch * 4, total)

    def query(
        self, memory_type: MemoryType, embedding: Any, n_results: int, where: dict[str, Any] | None = None
    ) -> list[QueryMatch]:
        """The nearest memories with their rows, best first."""
        found = self.nearest(memory_type, embedding, n_results, where)
        items = {item.id: item for item in self.get(memory_type, [item_id for item_id, _ in found])}
        return [QueryMatch(items[item_id], distance) for item_id, distance in found if item_id in items]

    def vectors(
        self, memory_type: MemoryType, ids: list[str], where: dict[str, Any] | None = None, settle: bool = True
    ) -> dict[str, Any]:
        """The stored vectors of ``ids`` (those whose rows match ``where``); ``settle=False`` for a write listener's
        lock holder, which the backlog's writes wait for (it hears of the vectors still waiting as they land)."""
        self.open()
        if where:
            ids = [item.id for item in self.get(memory_type, ids, where)]
        return (self.index if settle else self._index).vectors(memory_type, ids)

    def scan_metadata(self, memory_type: MemoryType, page: int = 2000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every id with its metadata, read a page at a time."""
        self.open()
        for item in self.rows.scan(memory_type, page):
            yield item.id, item.metadata

    def ids(self, memory_type: MemoryType, where: dict[str, Any] | None = None) -> list[str]:
        """Ids of the memories matching ``where`` (every id of the type without it: a snapshot to page through,
        stable while others write)."""
        self.open()
        if not where:
            return self.rows.ids(memory_type)
        if len(where) == 1 and (key := next(iter(where))) in ("language", "part_of", "agent", "source", "project"):
            value = where[key]
            if isinstance(value, str):
                return self.rows.ids_where(memory_type, **{key: value})
        return [item.id for item in self.find(memory_type, where)]

    def find(self, memory_type: MemoryType, where: dict[str, Any], limit: int | None = None) -> list[StoredItem]:
        """The memories matching ``where`` (at most ``limit``)."""
        self.open()
        chroma_where, row_where = split_where(where)
        ids = self.index.ids(memory_type, chroma_where) if chroma_where else self.rows.ids(memory_type)
        found = self.get(memory_type, ids, row_where) if row_where else self.get(memory_type, ids)
        found.sort(key=lambda item: item.id)
        return found[:limit] if limit is not None else found

    def exported(self, memory_type: MemoryType, ids: list[str], with_vectors: bool) -> list[tuple[StoredItem, Any]]:
        """Items with their whole outcome log in their metadata and, when asked, their vectors (None if none)."""
        return exported(self, memory_type, ids, with_vectors)

    def outcome_notes(self, item_id: str, limit: int = 10) -> list[OutcomeNote]:
        self.open()
        return self.rows.outcome_notes(item_id, limit)

    def success_voters(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """Per memory, the agents whose latest vote on it says it worked: one query for all of ``ids``."""
        if not ids:
            return {}
        self.open()
        return self.rows.success_voters(ids)

    def count(self, memory_type: MemoryType) -> int:
        self.open()
        return self.rows.count(memory_type)

    def count_by(self, column: str, projects: Collection[str] | None = None) -> dict[tuple[str, str], int]:
        """Counts per (type, value of ``column``), of the memories in ``projects`` (every project when None)."""
        self.open()
        return self.projects.count_by(column, projects)

    def project_members(self, memory_type: MemoryType) -> list[tuple[str, str]]:
        """(id, project) of every memory of one type that belongs to a project (global ones are left out)."""
        self.open()
        return self.projects.members(memory_type)

    def changes_after(self, seq: int) -> list[Change]:
        return self.feed.changes_after(seq)

    def last_change(self) -> int:
        self.open()
        return self.feed.last_change()

    def write_marks(self) -> tuple[int, ...]:
        """What moves when any server sharing the database writes (see ``ChangeFeed.write_marks``)."""
        self.open()
        return self.feed.write_marks()

    def size_on_disk(self) -> int | None:
        """Bytes used by the embedded store and the SQLite file; None when servers hold the data."""
        with contextlib.suppress(Unavailable):  # with the answered stores' vectors, unless the index is failing
            self.settle(timeout=2.0)
        vectors, rows = self._index.size_on_disk(), self.db.size_on_disk()
        if vectors is None and rows is None:
            return None
        return (vectors or 0) + (rows or 0)

    # -- writes ------------------------------------------------------------------------------------

    def insert_or_bump(self, item: StoredItem, success: bool | None, voter: str) -> tuple[StoreOutcome, StoredItem]:
        """Store a row or count it again (``MemoryRows.insert_or_bump``); its vector goes by ``index_later``."""
        self.open()
        return self.rows.insert_or_bump(item, success, voter)

    def index_later(self, memory_type: MemoryType, items: Sequence[StoredItem], texts: Sequence[str]) -> None:
        """Embed ``texts`` and index the vectors of rows already written: behind the answer for the embedded
        index (the backlog), before it for a Chroma server."""
        if self.backlog is not None:
            self.backlog.add(memory_type, items, texts)
        else:
            self._index_now(memory_type, list(items), list(texts))

    def _index_now(self, memory_type: MemoryType, items: list[StoredItem], texts: list[str]) -> None:
        self.put_vectors(memory_type, items, self.embedder.encode_batch(texts))

    def put_vectors(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None:
        """Index the vectors of rows already written."""
        if not items:
            return
        self.index.upsert(
            memory_type, [item.id for item in items], [self._vector_metadata(item) for item in items], list(embeddings)
        )
        for listener in self._listeners:
            listener.stored(memory_type, items, embeddings)

    def add(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None:
        """Write whole rows as given (insert or replace), then their vectors."""
        self.open()
        self.rows.put_many(items)
        self.put_vectors(memory_type, items, embeddings)

    def add_missing(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> int:
        """Rows not yet present (with the outcome logs in their metadata), then every given vector; for import."""
        self.open()
        added = self.rows.import_legacy(items)
        self.put_vectors(memory_type, items, embeddings)
        return added

    def restore(self, item_id: str, embed: Callable[[StoredItem], Any]) -> StoredItem | None:
        """Bring a deleted memory back (with a fresh vector when it was in recall); None when nothing by that id
        was deleted."""
        self.open()
        item = self.tombstones.unbury(item_id)
        state = self.states.of(item_id) if item is not None else None
        if item is not None and state is not None and state.status == ACTIVE:
            self.put_vectors(item.metadata["type"], [item], [embed(item)])
        return item

    def report(self, item_id: str, success: bool, note: str, agent: str) -> Counters | None:
        self.open()
        return self.rows.report(item_id, success, note, agent)

    def leave_recall(self, moved: Moved) -> None:
        """Remove the vectors of memories whose rows just left recall (superseded, merged, archived)."""
        for memory_type, ids in _by_type(moved).items():
            self._unindex(memory_type, ids)

    def back_in_recall(self, moved: Moved, embed: Callable[[list[StoredItem]], Sequence[Any]]) -> None:
        """Index again the memories whose rows just came back into recall."""
        for memory_type, ids in _by_type(moved).items():
            items = self.rows.get(ids, memory_type)
            if items:
                self.put_vectors(memory_type, items, embed(items))

    def delete(self, memory_type: MemoryType, item_id: str, by: str = "local", reason: str = "") -> None:
        self.delete_many(memory_type, [item_id], by, reason)

    def discard(self, memory_type: MemoryType, ids: list[str]) -> None:
        """Undo stores whose vectors failed: rows gone for good (no tombstone), and any vector that did land."""
        self.tombstones.discard([(item_id, memory_type) for item_id in ids])
        self._unindex(memory_type, ids, settle=False)  # never queued: nothing of theirs waits in the backlog

    def delete_many(self, memory_type: MemoryType, ids: list[str], by: str = "local", reason: str = "") -> None:
        """Rows into tombstones first (the record), then the vectors go; a crash in between leaves vectors
        ``reconcile`` removes."""
        self.open()
        self.tombstones.bury([(item_id, memory_type) for item_id in ids], by, reason)
        self._unindex(memory_type, ids)

    def _unindex(self, memory_type: MemoryType, ids: list[str], settle: bool = True) -> None:
        """Vectors out of the index (the rows are already written), and listeners told."""
        (self.index if settle else self._index).delete(memory_type, ids)
        for listener in self._listeners:
            listener.removed(memory_type, ids)

    def _vector_metadata(self, item: StoredItem) -> dict[str, Any]:
        kept = {
            key: value
            for key, value in item.metadata.items()
            if key not in VECTORLESS_KEYS and isinstance(value, str | int | float | bool)
        }
        kept[STORE_ID_KEY] = self.store_id
        return kept

    # -- consistency -------------------------------------------------------------------------------

    def reconcile(
        self,
        embed_text: Callable[[StoredItem], str],
        encode: Callable[[list[str]], Sequence[Any]],
        settle_seconds: float = 0.0,
    ) -> ReconcileReport:
        """Embed rows in recall that have no vector, remove vectors of this store that have no row in recall
        (``storage.reconcile``)."""
        self.open()
        return reconcile(self, embed_text, encode, settle_seconds)


def _by_type(moved: Moved) -> dict[MemoryType, list[str]]:
    grouped: dict[MemoryType, list[str]] = {}
    for item_id, memory_type in moved:
        grouped.setdefault(memory_type, []).append(item_id)  # type: ignore[arg-type]
    return grouped
