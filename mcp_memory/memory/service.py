"""The memory service: store with de-duplication, recall with outcome-aware ranking, get, delete, stats.

Every blocking call (model, Chroma) runs in a worker thread so the event loop keeps answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio

from mcp_memory.config import Settings
from mcp_memory.errors import Forbidden, InvalidInput, NotFound
from mcp_memory.memory.catalog import Catalog
from mcp_memory.memory.links import MemoryLinker
from mcp_memory.memory.moments import TimeWindow
from mcp_memory.memory.projects import EVERY_PROJECT, EVERYWHERE, ProjectScope
from mcp_memory.memory.ranking import NO_CLOSE_MATCH, POLICIES, keeps_failing, success_rate
from mcp_memory.memory.recall import CANDIDATE_FACTOR, Recaller
from mcp_memory.memory.records import (
    LOCAL_AGENT,
    MemoryDraft,
    content_hash,
    draft_id,
    new_metadata,
    outcome_of,
    store_result,
    to_record,
    voter_of,
)
from mcp_memory.memory.store_batcher import StoreBatcher
from mcp_memory.memory.trust import Subject, TrustPolicy, Verdict
from mcp_memory.memory.usage import UsageTracker
from mcp_memory.memory.validation import (
    FILTER_EXAMPLE,
    and_filters,
    chroma_where,
    require_n_results,
    require_text,
)
from mcp_memory.models import (
    MEMORY_TYPES,
    ArchivedMemories,
    DeletedMemory,
    DeleteResult,
    MemoryHit,
    MemoryRecord,
    MemoryStats,
    MemoryType,
    MemoryWithLinks,
    OutcomeReport,
    RecallResult,
    StoreResult,
)
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.filters import filter_rejections
from mcp_memory.storage.store import MemoryStore, StoredItem

__all__ = ["CANDIDATE_FACTOR", "MemoryService"]
logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R", bound=MemoryRecord)

MAX_NOTE_CHARS = 2000


class MemoryService:
    """Stores and recalls memories of every type over one vector store and one embedder."""

    def __init__(self, settings: Settings, embedder: Embedder, store: MemoryStore) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self._limiter = anyio.CapacityLimiter(8)
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._marks_seen: tuple[int, ...] | None = None  # the shared database's write marks at the last look
        self._batcher = StoreBatcher(lambda draft: self.run(self.remember_blocking, draft), self.remember_many)
        word_types: set[MemoryType] = {t for t in MEMORY_TYPES if POLICIES[t].uses_words}
        self.catalog = Catalog(store, word_types, shared=store.shared)
        self.recaller = Recaller(store, embedder, self.catalog)
        self.trust = TrustPolicy.from_settings(settings)
        self.links = MemoryLinker(self)
        self.usage = UsageTracker(store.states.touch)

    def warm_indexes(self) -> None:
        """Build the word and signature indexes now, so the first error recall does not wait for them."""
        for memory_type in sorted(self.catalog.word_types):
            self.catalog.view(memory_type)

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    @property
    def generation(self) -> int:
        """Goes up after every write through this service; caches of derived results compare it (read once the
        vectors of every store answered so far are in, which count as writes too). On a shared database it also
        goes up once another server wrote: the database's write marks are read each time (one small read)."""
        self.store.settle()
        if self.store.shared:
            marks = self.store.write_marks()
            with self._generation_lock:
                if marks != self._marks_seen:
                    self._marks_seen = marks
                    self._generation += 1
        return self._generation

    async def current_generation(self) -> int:
        """``generation`` read off the event loop: it may wait for the vector backlog and read the database."""
        return await self.run(lambda: self.generation)

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
        return self.remember_many_blocking([draft])[0]

    async def remember_many(self, drafts: Sequence[MemoryDraft]) -> list[StoreResult]:
        """Store many drafts at once; results are in the order of ``drafts``."""
        return await self.run(self.remember_many_blocking, list(drafts))

    def remember_many_blocking(self, drafts: Sequence[MemoryDraft]) -> list[StoreResult]:
        """Each draft is an insert-or-bump in the database (exact however many servers store at once); the new
        and replaced ones are then embedded and indexed (``MemoryStore.index_later``: after the answer for the
        embedded index, whose readers wait for it; before it for a Chroma server).

        If embedding or indexing fails before the answer, the rows this call inserted are removed again, so a
        store reported as failed was not saved.
        """
        results: list[StoreResult] = []
        to_index: dict[MemoryType, dict[str, tuple[StoredItem, MemoryDraft]]] = {}
        inserted: dict[MemoryType, list[str]] = {}
        revived: list[tuple[str, str]] = []
        for draft in drafts:
            digest = content_hash(draft.type, draft.identity_text)
            item_id = draft_id(draft, digest)
            item = StoredItem(item_id, draft.content, new_metadata(draft, digest))
            outcome, row = self.store.insert_or_bump(item, draft.success, voter_of(draft.agent, draft.agent_role))
            if outcome in ("new", "replaced"):
                to_index.setdefault(draft.type, {})[item_id] = (row, draft)
            elif outcome == "revived" and self.store.links.keep_superseded(row.id):
                outcome = "duplicate"  # archived, stored again, but a newer memory supersedes it: not recalled
            elif outcome == "revived":  # archived, stored again: back into recall with its parts
                revived += [(i, draft.type) for i in (row.id, *self.store.ids(draft.type, {"part_of": row.id}))]
            if outcome == "new":
                inserted.setdefault(draft.type, []).append(item_id)
            results.append(
                store_result(
                    row.id,
                    draft.type,
                    row.metadata,
                    duplicate=outcome in ("duplicate", "revived"),
                    updated=outcome == "replaced",
                    revived=outcome == "revived",
                    merged=row.id != item_id,
                )
            )
        try:
            if revived:
                self.store.back_in_recall(revived, self.encode_items)
            for memory_type, entries in to_index.items():
                rows, texts = [row for row, _ in entries.values()], [draft.embed_text for _, draft in entries.values()]
                self.store.index_later(memory_type, rows, texts)
        except BaseException:
            for memory_type, ids in inserted.items():
                try:
                    self.store.discard(memory_type, ids)
                except Exception:  # the next start's reconcile embeds what is left
                    logger.exception("could not remove rows whose vectors failed")
            raise
        finally:
            self.mark_changed()
        return results

    def encode_items(self, items: Sequence[StoredItem]) -> Any:
        """Vectors of stored memories, from the text each was embedded from."""
        from mcp_memory.memory.redraft import embed_text_of

        return self.embedder.encode_batch([embed_text_of(item) for item in items])

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
        project: str | None = EVERY_PROJECT,
        since: str | None = None,
        until: str | None = None,
    ) -> RecallResult:
        """The best memories for ``query``: of ``project`` and global ones (``"*"``, the default here: every
        project), stored between ``since`` and ``until`` (ages such as "7d", or ISO dates/times) when given."""
        require_text(query_field, query, self.settings.max_text_chars)
        require_n_results(n_results, self.settings.max_results)
        scope = ProjectScope.of(project)
        window = TimeWindow.of(since, until)
        chroma_filter = and_filters(chroma_where(where), window.where())
        hits = await self.run(
            self._recall_blocking, query, list(memory_types), n_results, chroma_filter, language, scope
        )
        self.usage.used(hit.id for hit in hits if not hit.weak)
        note = None
        if not hits:
            filtered = where or language or not window.open
            note = "Nothing matches these filters." if filtered else "Nothing stored matches yet."
            if any(self.recaller.dense.left_out(t, scope) for t in memory_types):
                note += ' Memories of other projects were not searched; project="*" searches them too.'
        elif all(hit.weak for hit in hits):
            note = NO_CLOSE_MATCH
        return RecallResult(query=query, project=scope.label, results=hits, note=note)

    def _recall_blocking(
        self,
        query: str,
        memory_types: list[MemoryType],
        n_results: int,
        where: dict[str, Any] | None,
        language: str | None = None,
        scope: ProjectScope = EVERYWHERE,
    ) -> list[MemoryHit]:
        self.store.settle()  # the catalog's scans and word index, too, hold every memory stored before
        try:
            hits = self.recaller.recall(query, memory_types, n_results, where, language, scope)
        except filter_rejections() as exc:  # Chroma rejects some filters only when it runs them
            raise InvalidInput("where", f"{exc}.", FILTER_EXAMPLE) from exc
        return self.judged_blocking(hits)

    # -- trust -------------------------------------------------------------------------------------

    def verdicts_blocking(self, subjects: Sequence[Subject]) -> dict[str, Verdict]:
        """Whether each subject is trusted (see ``trust.py``): one database query for them all, none when
        quarantine is off or every author is trusted."""
        return self.trust.judge(subjects, self.store.success_voters)

    def judged_blocking(self, records: Sequence[R]) -> list[R]:
        """The records with ``trusted`` set; a hit that is not trusted says why in its ``why``."""
        if not self.trust.configured:
            return list(records)
        subjects = {r.id: Subject(r.id, r.agent, r.source) for r in records}
        verdicts = self.verdicts_blocking(list(subjects.values()))
        judged: list[R] = []
        for record in records:
            verdict = verdicts[record.id]
            if verdict.trusted:
                judged.append(record)
                continue
            update: dict[str, Any] = {"trusted": False}
            if isinstance(record, MemoryHit):
                reason = self.trust.why_untrusted(subjects[record.id], verdict)
                update["why"] = f"{reason}; {record.why}" if record.why else reason
            judged.append(record.model_copy(update=update))
        return judged

    async def judged(self, records: Sequence[R]) -> list[R]:
        if not self.trust.configured:
            return list(records)
        return await self.run(self.judged_blocking, records)

    # -- outcomes ----------------------------------------------------------------------------------

    async def report_outcome(
        self, item_id: str, success: bool, note: str = "", agent: str | None = None
    ) -> OutcomeReport:
        """Count whether a recalled memory worked when it was used; ranking weighs it from now on."""
        return await self.run(self.report_outcome_blocking, item_id, success, note, agent)

    def report_outcome_blocking(
        self, item_id: str, success: bool, note: str = "", agent: str | None = None
    ) -> OutcomeReport:
        if not isinstance(success, bool):
            raise InvalidInput("success", f"expected true or false, got {success!r}.")
        note = require_text("note", note, MAX_NOTE_CHARS, allow_empty=True).strip()
        require_text("id", item_id, 200)
        counters = self.store.report(item_id, success, note, agent or "")  # None: no such memory, nothing recorded
        if counters is None:
            raise _no_memory(item_id)
        memory_type: MemoryType = counters.type  # type: ignore[assignment]
        self.mark_changed()
        metadata = {
            "usage_count": counters.usage_count,
            "success_count": counters.success_count,
            "failure_count": counters.failure_count,
        }
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
        def get_blocking() -> MemoryRecord:
            return self.judged_blocking([to_record(self._find_blocking(item_id))])[0]

        return await self.run(get_blocking)

    async def delete(
        self, item_id: str, by: str = LOCAL_AGENT, reason: str = "", any_writer: bool = True
    ) -> DeleteResult:
        """Move a memory (and a long pattern's parts) into a tombstone that records ``by``, when and ``reason``;
        recall no longer sees it, an admin can restore it, ``mcp-memory purge`` removes it for good. Unless
        ``any_writer``, only the agent that wrote it may delete it."""
        reason = require_text("reason", reason, MAX_NOTE_CHARS, allow_empty=True).strip()

        def delete_blocking() -> DeleteResult:
            item = self._find_blocking(item_id)
            memory_type: MemoryType = item.metadata.get("type", "pattern")
            writer = str(item.metadata.get("agent") or "")
            if not any_writer and writer != by:
                raise Forbidden(
                    f"Memory '{item_id}' was written by '{writer or 'unknown'}'; an agent deletes only its own "
                    "memories. Report that it did not work (report_outcome) or ask an admin to delete it."
                )
            parts = self.store.ids(memory_type, {"part_of": item_id}) if item.metadata.get("parts", 1) != 1 else []
            self.store.delete_many(memory_type, [item_id, *parts], by, reason)
            self.mark_changed()
            return DeleteResult(
                id=item_id,
                type=memory_type,
                deleted=True,
                title=str(item.metadata.get("title", "")),
                parts_deleted=len(parts),
                deleted_by=by,
                reason=reason,
            )

        return await self.run(delete_blocking)

    async def restore(self, item_id: str) -> MemoryWithLinks:
        """Bring a deleted, archived or merged memory back into recall, with its counters and a fresh vector."""
        from mcp_memory.memory.archive import restore_blocking

        return await self.run(lambda: self.judged_blocking([restore_blocking(self, item_id)])[0])

    async def archived(self, project: str | None, limit: int) -> ArchivedMemories:
        """Archived memories, most recently archived first (of one project when given)."""
        from mcp_memory.memory.archive import archived_blocking

        return await self.run(archived_blocking, self, project, limit)

    async def deleted(self, agent: str | None, limit: int) -> list[DeletedMemory]:
        """Deleted memories, newest first (of those ``agent`` wrote, when given)."""
        from mcp_memory.memory.archive import deleted_blocking

        return await self.run(deleted_blocking, self, agent, limit)

    def _find_blocking(self, item_id: str) -> StoredItem:
        require_text("id", item_id, 200)
        found = self.store.get(None, [item_id])
        if not found:
            raise _no_memory(item_id)
        return found[0]

    async def stats(self, project: str | None = EVERY_PROJECT) -> MemoryStats:
        """Counts per type and language of the memories ``project`` sees (its own and global ones; ``"*"``: all),
        and per project of every memory in the store."""
        from mcp_memory.memory.stats import stats_blocking

        return await self.run(stats_blocking, self, project)


def _no_memory(item_id: str) -> NotFound:
    return NotFound(
        f"No memory with id '{item_id}'. Ids come from store and recall results; use search_memory to find one."
    )
