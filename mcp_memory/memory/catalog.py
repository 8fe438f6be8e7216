"""What ranking needs to know about every stored memory without asking the stores: language, signature, words.

The catalog is *derived* from the database and never persisted, so nothing of it can go stale across a restart or
a crash:

- **Built from the database** the first time a memory type is ranked: one paged read of its rows. A restarted or
  crashed process simply builds it again.
- **Updated on every write** through this process: it listens to ``MemoryStore`` (``store.watch``), which tells
  it right after a row and its vector landed. Counter bumps leave it alone: it holds no counters.
- **Writes by other servers** sharing the database are picked up from the database's change feed (one row per
  memory written or deleted, numbered): a recall that finds the catalog older than ``SYNC_SECONDS`` reads the
  changes after the last one it applied and applies them. Numbers are handed out before commit, so a change may
  land behind a later one; the feed is re-read ``LOOKBACK`` numbers back and changes are applied once each.

Types with a word index (errors) are catalogued completely. For the others the catalog is lazy: it reads the
ids of a language the first time a recall filters by it, and — for languages too rare to find by over-fetching —
their vectors; both then follow every write like the rest. Those reads (seconds at a million memories) are made
outside the catalog's lock, which recalls with a project scope and every write of the type take: the writes that
reach the catalog meanwhile are kept beside the read and applied after it (``type_catalog.Reading``).

Every catalog knows which memories belong to a project (global ones, usually most, are simply not listed): read
once per type, ids only, then kept current like the rest. A recall learns from it in constant time whether its
project scope leaves anything out — on a store without projects it never does, and nothing is filtered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mcp_memory.memory.type_catalog import DROPPED, Reading, TypeCatalog, facts_from_metadata
from mcp_memory.models import MemoryType
from mcp_memory.storage.store import MemoryStore, StoredItem

if TYPE_CHECKING:
    from mcp_memory.memory.vector_cache import LanguageVectors

logger = logging.getLogger(__name__)
_Found = TypeVar("_Found")

SYNC_SECONDS = 1.0
LOOKBACK = 1000
# A lazy catalog's collection size only steers the choice of search path; it is counted again this often.
COUNT_SECONDS = 10.0
# Bytes of language vectors held for exact search, over all types: 1,928 each (384 float32, 384 one-byte codes,
# two bounds), so ~278,000 vectors. The 1,000,000 patterns of bench/filter_speed.py hold 250,000 in its languages of
# at most 12% (482 MB).
MAX_CACHED_BYTES = 512 * 2**20


class Catalog:
    """One ``TypeCatalog`` per memory type, built lazily from the vector store."""

    def __init__(self, store: MemoryStore, word_types: set[MemoryType], shared: bool) -> None:
        self.store = store
        store.watch(self)
        self.word_types = word_types
        self.shared = shared  # other servers write to the same database
        self._types: dict[MemoryType, TypeCatalog] = {}
        self._lock = threading.Lock()
        self._follow_lock = threading.Lock()
        self._seen: int | None = None  # the change feed's number up to which changes are applied
        self._applied: set[int] = set()  # numbers applied within the lookback window
        self._followed_at = 0.0
        self._reserved = 0  # bytes of language vectors being read, counted against MAX_CACHED_BYTES
        self._reserve_lock = threading.Lock()

    def built(self, memory_type: MemoryType) -> bool:
        """Whether the type's catalog has been read from Chroma (a recall would not wait for it)."""
        catalog = self._types.get(memory_type)
        return catalog is not None and catalog.loaded.is_set() and not catalog.failed

    def view(self, memory_type: MemoryType) -> TypeCatalog:
        """The catalog of a type: built on first use, refreshed when the store is shared and it is old."""
        while True:
            if self.shared and self._seen is None:
                self._seen = self.store.last_change()  # before any build reads: later changes are re-applied
            with self._lock:
                catalog = self._types.get(memory_type)
                building = catalog is None
                if catalog is None:
                    # Registered before it is read, so writes during the read wait for it and then apply.
                    catalog = self._types[memory_type] = TypeCatalog(memory_type in self.word_types)
            if building:
                self._build(memory_type, catalog)
            catalog.loaded.wait()
            if not catalog.failed:
                break
        if self.shared and time.monotonic() - self._followed_at > SYNC_SECONDS:
            self.follow()
        return catalog

    def _build(self, memory_type: MemoryType, catalog: TypeCatalog) -> None:
        try:
            with catalog.lock:
                if catalog.complete:
                    self._load(memory_type, catalog)
                catalog.synced_at = time.monotonic()
        except BaseException:
            catalog.failed = True
            with self._lock:
                self._types.pop(memory_type, None)
            raise
        finally:
            catalog.loaded.set()

    def stored(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None:
        """Record memories Chroma just stored (new, or with new content)."""
        catalog = self._types.get(memory_type)
        if catalog is None:  # not built yet: it will be read from Chroma, these writes included
            return
        with catalog.lock:  # waits for a build in progress
            for item, vector in zip(items, embeddings, strict=True):
                facts = facts_from_metadata(memory_type, item.metadata, catalog.words is not None)
                catalog.put(item.id, facts, vector)

    def removed(self, memory_type: MemoryType, ids: Sequence[str]) -> None:
        catalog = self._types.get(memory_type)
        if catalog is not None:
            with catalog.lock:
                for item_id in ids:
                    catalog.drop(item_id)

    def language_ids(self, memory_type: MemoryType, language: str) -> frozenset[str]:
        """Every id of one language (a lazy catalog reads them once, ids only)."""
        catalog = self.view(memory_type)
        snapshot = catalog.snapshots.get(language)
        if snapshot is not None:
            return snapshot

        def known() -> frozenset[str] | None:
            members = catalog.by_language.get(language)
            if members is None and not catalog.complete:
                return None
            snapshot = catalog.snapshots[language] = frozenset(members or ())
            return snapshot

        def read(reading: Reading) -> frozenset[str]:
            ids = set(self.store.ids(memory_type, {"language": language}))
            with catalog.lock:
                for item_id, vector in reading.writes:
                    (ids.discard if vector is DROPPED else ids.add)(item_id)
                catalog.by_language[language] = ids
                snapshot = catalog.snapshots[language] = frozenset(ids)
                return snapshot

        return self._read_apart(catalog, catalog.reading_ids, language, known, read)

    def _read_apart(
        self,
        catalog: TypeCatalog,
        readings: dict[str, Reading],
        language: str,
        known: Callable[[], _Found | None],
        read: Callable[[Reading], _Found],
    ) -> _Found:
        """What ``known`` finds under the catalog's lock, or else what ``read`` reads outside it: one read of a
        language at a time (other callers wait for it, then look again), given up whatever happens to it."""
        while True:
            with catalog.lock:
                found = known()
                if found is not None:
                    return found
                reading = readings.get(language)
                mine = reading is None
                if reading is None:
                    reading = readings[language] = Reading()
            if mine:
                break
            reading.done.wait()
        try:
            return read(reading)
        finally:
            with catalog.lock:
                readings.pop(language, None)
            reading.done.set()

    def projects(self, memory_type: MemoryType) -> tuple[dict[str, int], dict[str, str]]:
        """How many memories of the type each project holds (global ones are not counted), and every such memory's
        project by id (kept current, for membership tests). Read once per type, then followed like the rest."""
        catalog = self.view(memory_type)
        if not catalog.projects_read:
            with catalog.lock:
                if not catalog.projects_read:
                    for item_id, project in self.store.project_members(memory_type):
                        catalog.project_of[item_id] = project
                        catalog.by_project.setdefault(project, set()).add(item_id)
                    catalog.projects_read = True
        with catalog.lock:
            return {project: len(ids) for project, ids in catalog.by_project.items()}, catalog.project_of

    def size(self, memory_type: MemoryType) -> int:
        """How many memories the collection holds (for a lazy catalog, as counted at most COUNT_SECONDS ago)."""
        catalog = self.view(memory_type)
        if catalog.complete:
            return len(catalog.facts)
        now = time.monotonic()
        if catalog.count is None or now - catalog.count[0] > COUNT_SECONDS:
            catalog.count = (now, self.store.count(memory_type))
        return catalog.count[1]

    def follow(self) -> None:
        """Apply the changes other servers wrote to the shared database since the last ones applied."""
        with self._follow_lock:
            if self._seen is None:
                self._seen = self.store.last_change()
            changes = [c for c in self.store.changes_after(max(0, self._seen - LOOKBACK)) if c.seq not in self._applied]
            puts: dict[str, list[str]] = {}
            for change in changes:
                catalog = self._types.get(change.type)  # type: ignore[call-overload]
                if catalog is None:
                    continue
                if change.op == "delete":
                    with catalog.lock:
                        catalog.drop(change.memory_id)
                else:
                    puts.setdefault(change.type, []).append(change.memory_id)
            for name, ids in puts.items():
                memory_type = cast(MemoryType, name)
                catalog = self._types[memory_type]
                with catalog.lock:
                    # Held language vectors (and those being read) take the new ones; one not indexed yet drops
                    # its language's (re-read).
                    wanted = catalog.vectors or catalog.reading_vectors
                    vectors = self.store.vectors(memory_type, ids, settle=False) if wanted else {}
                    for item in self.store.get(memory_type, ids):
                        facts = facts_from_metadata(memory_type, item.metadata, catalog.words is not None)
                        catalog.put(item.id, facts, vectors.get(item.id))
            for change in changes:
                self._applied.add(change.seq)
                self._seen = max(self._seen, change.seq)
            self._applied = {seq for seq in self._applied if seq > self._seen - LOOKBACK}
            self._followed_at = time.monotonic()

    def nearest_in_language(
        self,
        memory_type: MemoryType,
        language: str,
        embedding: Sequence[float],
        depth: int,
        admits: Callable[[str], bool] | None = None,
    ) -> list[tuple[str, float]] | None:
        """The language's nearest memories by an exact search over its vectors held in memory (loaded on first
        use); None when they would not fit the cache."""
        catalog = self.view(memory_type)
        cached = catalog.vectors.get(language)
        if cached is None:
            cached = self._load_vectors(memory_type, catalog, language)
        if cached is None:
            return None
        with catalog.lock:  # a write changes rows in place: searched whole, not half-written
            return cached.nearest(embedding, depth, admits)

    def _load_vectors(self, memory_type: MemoryType, catalog: TypeCatalog, language: str) -> LanguageVectors | None:
        """Read a language's vectors from Chroma outside the catalog's lock, then hold them (None when they would
        not fit the cache)."""
        return self._read_apart(
            catalog,
            catalog.reading_vectors,
            language,
            lambda: catalog.vectors.get(language),
            lambda reading: self._read_vectors(memory_type, catalog, language, reading),
        )

    def _read_vectors(
        self, memory_type: MemoryType, catalog: TypeCatalog, language: str, reading: Reading
    ) -> LanguageVectors | None:
        from mcp_memory.memory.vector_cache import LanguageVectors

        ids = sorted(self.language_ids(memory_type, language))
        found: dict[str, Any] = {}
        size = 0  # bytes reserved for them, once the first vector tells their length
        try:
            for start in range(0, len(ids), 2000):
                # Not waiting for the store's backlog: what it writes meanwhile reaches the catalog as a write.
                found.update(self.store.vectors(memory_type, ids[start : start + 2000], settle=False))
                if not size and found:
                    size = (5 * len(next(iter(found.values()))) + 8) * len(ids)
                    if not self._reserve(size):
                        size = 0
                        return None
            # Coded outside the lock too (seconds for 120,000 vectors); the writes made meanwhile go in under it.
            cached = LanguageVectors(list(found), list(found.values()))
            with catalog.lock:
                stale = False
                for item_id, vector in reading.writes:
                    if vector is DROPPED:
                        cached.remove(item_id)
                    elif vector is None:  # written without its vector: this read may lack it
                        stale = True
                    else:
                        cached.put(item_id, vector)
                if not stale:  # else answered from, but not kept: read again next time
                    catalog.vectors[language] = cached
                return cached
        finally:
            self._unreserve(size)

    def _reserve(self, size: int) -> bool:
        """Count ``size`` bytes against the cache's limit, with what every type holds and what other reads reserved;
        False when they would not fit."""
        with self._reserve_lock:
            held = sum(view.cached_bytes() for view in list(self._types.values())) + self._reserved
            if held + size > MAX_CACHED_BYTES:
                return False
            self._reserved += size
            return True

    def _unreserve(self, size: int) -> None:
        with self._reserve_lock:
            self._reserved -= size

    def _load(self, memory_type: MemoryType, catalog: TypeCatalog) -> None:
        started = time.perf_counter()
        with_words = catalog.words is not None
        for item_id, metadata in self.store.scan_metadata(memory_type):
            catalog.put(item_id, facts_from_metadata(memory_type, metadata, with_words), None)
        logger.info(
            "catalog of %s: %d memories in %.2f s", memory_type, len(catalog.facts), time.perf_counter() - started
        )
