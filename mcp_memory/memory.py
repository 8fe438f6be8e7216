"""The memory service: store with de-duplication, recall with outcome-aware ranking, get, delete, stats.

Every blocking call (model, Chroma) runs in a worker thread so the event loop keeps answering.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, TypeVar

import anyio

from mcp_memory.catalog import Catalog
from mcp_memory.config import Settings
from mcp_memory.embeddings import Embedder
from mcp_memory.errors import InvalidInput, NotFound
from mcp_memory.models import (
    MEMORY_TYPES,
    DeleteResult,
    MemoryHit,
    MemoryRecord,
    MemoryStats,
    MemoryType,
    OutcomeReport,
    RecallResult,
    StoreResult,
)
from mcp_memory.ranking import NO_CLOSE_MATCH, POLICIES, keeps_failing, success_rate
from mcp_memory.recall import CANDIDATE_FACTOR, Recaller
from mcp_memory.records import (
    MemoryDraft,
    bumped_metadata,
    content_hash,
    memory_id,
    new_metadata,
    outcome_of,
    to_record,
    type_for_id,
)
from mcp_memory.store import StoredItem, VectorStore
from mcp_memory.store_batcher import StoreBatcher
from mcp_memory.validation import FILTER_EXAMPLE, chroma_where, require_n_results, require_text

__all__ = ["CANDIDATE_FACTOR", "MemoryService"]
logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_NOTE_CHARS = 2000
KEPT_NOTES = 10


class MemoryService:
    """Stores and recalls memories of every type over one vector store and one embedder."""

    def __init__(self, settings: Settings, embedder: Embedder, store: VectorStore) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self._stripes = [threading.Lock() for _ in range(64)]
        self._limiter = anyio.CapacityLimiter(8)
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._batcher = StoreBatcher(lambda draft: self.run(self.remember_blocking, draft), self.remember_many)
        word_types: set[MemoryType] = {t for t in MEMORY_TYPES if POLICIES[t].uses_words}
        self.catalog = Catalog(store, word_types, shared=settings.chroma_url is not None)
        self.recaller = Recaller(store, embedder, self.catalog)

    def warm_indexes(self) -> None:
        """Build the word and signature indexes now, so the first error recall does not wait for them."""
        for memory_type in sorted(self.catalog.word_types):
            self.catalog.view(memory_type)

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    @property
    def generation(self) -> int:
        """Goes up after every write through this service; caches of derived results compare it."""
        return self._generation

    def mark_changed(self) -> None:
        """Count a write; call it after the write is visible, so a reader of the new value sees the data."""
        with self._generation_lock:
            self._generation += 1

    # -- store -------------------------------------------------------------------------------------

    async def remember(self, draft: MemoryDraft) -> StoreResult:
        """Store a draft, or count it again when the same content is already there.

        Stores that arrive together are written as one batch (see ``store_batcher``).
        """
        return await self._batcher.submit(draft)

    def remember_blocking(self, draft: MemoryDraft) -> StoreResult:
        digest = content_hash(draft.type, draft.identity_text)
        item_id = draft.fixed_id or memory_id(draft.type, digest)
        with self._stripes[zlib.crc32(item_id.encode()) % len(self._stripes)]:
            existing = self.store.get(draft.type, [item_id])
            if existing and existing[0].metadata.get("content_hash") == digest:
                metadata = bumped_metadata(existing[0].metadata, draft.success)
                self.store.update_metadata(draft.type, item_id, metadata)
                self.mark_changed()
                return _store_result(item_id, draft.type, metadata, duplicate=True)
            metadata = new_metadata(draft, digest)
            if existing:  # same fixed id, new content (a changed seed file): replace, keep history
                old = existing[0].metadata
                metadata["created_at"] = old.get("created_at", metadata["created_at"])
                metadata["usage_count"] = int(old.get("usage_count", 1))
            embedding = self.embedder.encode([draft.embed_text])[0]
            self.store.add(draft.type, [StoredItem(item_id, draft.content, metadata)], [embedding])
            self.mark_changed()
            return _store_result(item_id, draft.type, metadata, duplicate=False, updated=bool(existing))

    async def remember_many(self, drafts: Sequence[MemoryDraft]) -> list[StoreResult]:
        """Store many drafts at once; results are in the order of ``drafts``."""
        return await self.run(self.remember_many_blocking, list(drafts))

    def remember_many_blocking(self, drafts: Sequence[MemoryDraft]) -> list[StoreResult]:
        """One lookup, one batched encode and one write per type, instead of one of each per draft.

        Content already stored, or repeated earlier in ``drafts``, is counted again and never embedded again;
        the outcome for each draft is what ``remember_blocking`` would have returned for it in turn.
        """
        digests = [content_hash(draft.type, draft.identity_text) for draft in drafts]
        ids = [draft.fixed_id or memory_id(draft.type, digest) for draft, digest in zip(drafts, digests, strict=True)]
        results: list[StoreResult | None] = [None] * len(drafts)
        stripes = sorted({zlib.crc32(item_id.encode()) % len(self._stripes) for item_id in ids})
        with ExitStack() as held:
            for stripe in stripes:  # always in ascending order, so two batches never wait on each other
                held.enter_context(self._stripes[stripe])
            for memory_type in dict.fromkeys(draft.type for draft in drafts):
                positions = [i for i, draft in enumerate(drafts) if draft.type == memory_type]
                wanted = list(dict.fromkeys(ids[i] for i in positions))
                current = {item.id: item.metadata for item in self.store.get(memory_type, wanted)}
                new: dict[str, MemoryDraft] = {}
                counted: set[str] = set()
                for i in positions:
                    draft, digest, item_id = drafts[i], digests[i], ids[i]
                    known = current.get(item_id)
                    if known is not None and known.get("content_hash") == digest:
                        current[item_id] = bumped_metadata(known, draft.success)
                        if item_id not in new:
                            counted.add(item_id)
                        results[i] = _store_result(item_id, memory_type, current[item_id], duplicate=True)
                        continue
                    metadata = new_metadata(draft, digest)
                    if known is not None:  # same fixed id, new content: replace, keep history
                        metadata["created_at"] = known.get("created_at", metadata["created_at"])
                        metadata["usage_count"] = int(known.get("usage_count", 1))
                    current[item_id] = metadata
                    new[item_id] = draft
                    counted.discard(item_id)
                    results[i] = _store_result(item_id, memory_type, metadata, duplicate=False, updated=known is not None)
                if new:
                    vectors = self.embedder.encode_batch([draft.embed_text for draft in new.values()])
                    items = [StoredItem(item_id, draft.content, current[item_id]) for item_id, draft in new.items()]
                    self.store.add(memory_type, items, vectors)  # type: ignore[arg-type]
                for item_id in counted:
                    self.store.update_metadata(memory_type, item_id, current[item_id])
        self.mark_changed()
        return [result for result in results if result is not None]

    # -- recall ------------------------------------------------------------------------------------

    async def recall(
        self,
        query: str,
        memory_types: Sequence[MemoryType],
        n_results: int,
        *,
        language: str | None = None,
        where: dict[str, Any] | None = None,
        query_field: str = "query",
    ) -> RecallResult:
        require_text(query_field, query, self.settings.max_text_chars)
        require_n_results(n_results, self.settings.max_results)
        chroma_filter = chroma_where(where)
        hits = await self.run(self._recall_blocking, query, list(memory_types), n_results, chroma_filter, language)
        note = None
        if not hits:
            note = "Nothing stored matches yet." if not where and not language else "Nothing matches these filters."
        elif all(hit.weak for hit in hits):
            note = NO_CLOSE_MATCH
        return RecallResult(query=query, results=hits, note=note)

    def _recall_blocking(
        self,
        query: str,
        memory_types: list[MemoryType],
        n_results: int,
        where: dict[str, Any] | None,
        language: str | None = None,
    ) -> list[MemoryHit]:
        from chromadb.errors import InvalidArgumentError

        try:
            return self.recaller.recall(query, memory_types, n_results, where, language)
        except (ValueError, InvalidArgumentError) as exc:  # Chroma rejects some filters only when it runs them
            raise InvalidInput("where", f"{exc}.", FILTER_EXAMPLE) from exc

    # -- outcomes ----------------------------------------------------------------------------------

    async def report_outcome(self, item_id: str, success: bool, note: str = "", agent: str | None = None) -> OutcomeReport:
        """Count whether a recalled memory worked when it was used; ranking weighs it from now on."""
        return await self.run(self.report_outcome_blocking, item_id, success, note, agent)

    def report_outcome_blocking(self, item_id: str, success: bool, note: str = "", agent: str | None = None) -> OutcomeReport:
        if not isinstance(success, bool):
            raise InvalidInput("success", f"expected true or false, got {success!r}.")
        note = require_text("note", note, MAX_NOTE_CHARS, allow_empty=True).strip()
        memory_type: MemoryType = self._find_blocking(item_id).metadata.get("type", "pattern")
        with self._stripes[zlib.crc32(item_id.encode()) % len(self._stripes)]:
            found = self.store.get(memory_type, [item_id])  # read again under the lock: no lost count
            if not found:
                raise NotFound(f"Memory '{item_id}' was deleted just now; nothing was recorded.")
            metadata = bumped_metadata(found[0].metadata, success)
            if note:
                notes = json.loads(metadata.get("outcome_notes_json") or "[]")
                notes.append({"success": success, "note": note, "agent": agent or "", "at": metadata["updated_at"]})
                metadata["outcome_notes_json"] = json.dumps(notes[-KEPT_NOTES:], ensure_ascii=False)
            self.store.update_metadata(memory_type, item_id, metadata)
            self.mark_changed()
        successes, failures = int(metadata["success_count"]), int(metadata["failure_count"])
        flagged = keeps_failing(successes, failures)
        rate = success_rate(successes, failures)
        message = f"Recorded: {'worked' if success else 'did not work'}. Success rate now {rate:.2f}"
        message += f" ({successes} worked, {failures} failed)."
        if flagged:
            message += " It keeps failing: recall ranks it lower and flags it."
        return OutcomeReport(
            id=item_id,
            type=memory_type,
            success=success,
            usage_count=int(metadata["usage_count"]),
            success_count=successes,
            failure_count=failures,
            success_rate=round(rate, 4),
            outcome=outcome_of(successes, failures),
            flagged=flagged,
            message=message,
        )

    # -- get, delete, stats ------------------------------------------------------------------------

    async def get(self, item_id: str) -> MemoryRecord:
        return to_record(await self.run(self._find_blocking, item_id))

    async def delete(self, item_id: str) -> DeleteResult:
        def delete_blocking() -> DeleteResult:
            item = self._find_blocking(item_id)
            memory_type: MemoryType = item.metadata.get("type", "pattern")
            parts = self.store.find_ids(memory_type, {"part_of": item_id}) if item.metadata.get("parts", 1) != 1 else []
            self.store.delete(memory_type, item_id)
            for part in parts:  # the pattern first: a crash in between leaves parts that recall already drops
                self.store.delete(memory_type, part)
            self.mark_changed()
            return DeleteResult(
                id=item_id, type=memory_type, deleted=True, title=str(item.metadata.get("title", "")),
                parts_deleted=len(parts),
            )

        return await self.run(delete_blocking)

    def _find_blocking(self, item_id: str) -> StoredItem:
        require_text("id", item_id, 200)
        guessed = type_for_id(item_id)
        order = [guessed] if guessed else []
        order += [t for t in MEMORY_TYPES if t != guessed]
        for memory_type in order:
            found = self.store.get(memory_type, [item_id])
            if found:
                return found[0]
        raise NotFound(
            f"No memory with id '{item_id}'. Ids come from store and recall results; "
            "use search_memory to find one."
        )

    async def stats(self) -> MemoryStats:
        def stats_blocking() -> MemoryStats:
            by_type: dict[str, int] = {}
            by_language: Counter[str] = Counter()
            collections: dict[str, int] = {}
            from mcp_memory.store import COLLECTION_NAMES

            for memory_type in MEMORY_TYPES:
                count = self.store.count(memory_type)
                by_type[memory_type] = count
                collections[COLLECTION_NAMES[memory_type]] = count
                if count:
                    for meta in self.store.all_metadata(memory_type):
                        by_language[(meta or {}).get("language") or "none"] += 1
            return MemoryStats(
                total=sum(by_type.values()),
                by_type=by_type,
                by_language=dict(by_language),
                collections=collections,
                data_dir=None if self.settings.chroma_url else str(self.settings.data_dir),
                chroma_url=self.settings.chroma_url,
                size_on_disk_bytes=self.store.size_on_disk(),
                model=self.embedder.model_name,
                model_loaded=self.embedder.loaded,
            )

        return await self.run(stats_blocking)


def _store_result(
    item_id: str, memory_type: MemoryType, metadata: dict[str, Any], *, duplicate: bool, updated: bool = False
) -> StoreResult:
    if duplicate:
        message = "Already known: counted this use instead of storing a second copy."
    elif updated:
        message = "Replaced the stored content with the new version."
    else:
        message = "Stored."
    return StoreResult(
        id=item_id,
        type=memory_type,
        duplicate=duplicate,
        updated=updated,
        usage_count=int(metadata["usage_count"]),
        success_count=int(metadata["success_count"]),
        failure_count=int(metadata["failure_count"]),
        message=message,
    )

