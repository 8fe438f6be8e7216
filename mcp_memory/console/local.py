"""The console's reads answered by this process's own memory app (it owns the store, or uses a Chroma server)."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from mcp_memory.app import MemoryApp
from mcp_memory.console.episode_queries import EpisodeQueries
from mcp_memory.console.models import (
    EpisodeFilter,
    EpisodePage,
    MemoryDetail,
    MemoryLink,
    MemoryTrends,
    OutcomeNote,
    StoreOverview,
)
from mcp_memory.console.trends import TrendsCache, scan_trends
from mcp_memory.errors import MemoryStoreError
from mcp_memory.memory.neighbours import nearest_blocking, outcome_notes_blocking
from mcp_memory.memory.projects import EVERY_PROJECT
from mcp_memory.memory.stats import memory_count_blocking, metadata_blocking, size_on_disk_blocking
from mcp_memory.memory.validation import normalize_language
from mcp_memory.models import (
    EpisodeReplay,
    FailureAnalysis,
    MemoryRecord,
    MemoryType,
    RecallResult,
    SimilarEpisodes,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)
SIMILAR_MEMORIES = 6


_SHARED: weakref.WeakKeyDictionary[MemoryApp, LocalData] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def local_data(app: MemoryApp) -> LocalData:
    """The one ``LocalData`` of an app, shared by its console and the console reads it answers for others."""
    with _SHARED_LOCK:
        found = _SHARED.get(app)
        if found is None:
            found = _SHARED[app] = LocalData(app)
        return found


class LocalData:
    """``ConsoleData`` over a ``MemoryApp`` in this process."""

    def __init__(self, app: MemoryApp) -> None:
        self.app = app
        self.queries = EpisodeQueries(app.episodes)
        self.trends = TrendsCache(
            lambda: scan_trends(lambda memory_type: metadata_blocking(app.memory, memory_type)),
            version=lambda: app.memory.generation,
            size=lambda: memory_count_blocking(app.memory),
        )

    def prewarm(self) -> threading.Thread:
        """Open the store and scan it in the background, so the first stats page need not wait."""

        def warm() -> None:
            try:
                self.app.start_blocking()
                self.trends.peek()
            except MemoryStoreError:  # the server's own start reports it; the first page that needs the store too
                pass
            except Exception:
                logger.exception("warming up the console failed")

        thread = threading.Thread(target=warm, name="mcp-memory-console-warmup", daemon=True)
        thread.start()
        return thread

    async def _thread(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args)

    async def search(
        self,
        query: str,
        types: list[MemoryType],
        language: str | None,
        agent: str | None,
        n_results: int,
        project: str | None = None,
    ) -> RecallResult:
        await self.app.ready()
        where = {"agent": agent} if agent else None
        language = normalize_language(language)
        return await self.app.memory.recall(
            query,
            types,
            n_results,
            language=language,
            where=where,
            project=EVERY_PROJECT if project is None else project,
        )

    async def memory(self, memory_id: str) -> MemoryDetail:
        await self.app.ready()
        judged = await self.app.memory.get(memory_id)  # with its trust
        return await self.app.memory.run(self._detail_blocking, judged)

    def _detail_blocking(self, judged: MemoryRecord) -> MemoryDetail:
        memory_id = judged.id
        record = self.app.memory.links.get_blocking(memory_id)
        notes = [
            OutcomeNote(success=note.success, note=note.note, agent=note.agent, at=_iso(note.at))
            for note in outcome_notes_blocking(self.app.memory, memory_id)
        ]
        similar = [
            MemoryLink(
                id=near.id,
                type=near.type,
                title=near.title,
                language=near.language,
                outcome=near.outcome,
                usage_count=near.usage_count,
                success_count=near.success_count,
                failure_count=near.failure_count,
                similarity=similarity,
                agent=near.agent,
                created_at=near.created_at,
            )
            for near, similarity in nearest_blocking(self.app.memory, record.type, memory_id, SIMILAR_MEMORIES)
        ]
        return MemoryDetail(
            record=record.model_copy(update={"trusted": judged.trusted}), outcome_notes=notes, similar=similar
        )

    async def trends_now(self) -> MemoryTrends | None:
        return self.trends.peek() if self.app.is_open else None

    async def overview(self) -> StoreOverview:
        await self.app.ready()
        memories = await self._thread(self.trends.get)
        count = await self._thread(memory_count_blocking, self.app.memory)
        episodes = await self._thread(self.queries.trends)
        size = await self._thread(size_on_disk_blocking, self.app.memory)
        settings = self.app.settings
        return StoreOverview(
            memories=memories,
            memory_count=count,
            episodes=episodes,
            size_on_disk_bytes=size,
            where=settings.chroma_url or str(settings.data_dir),
            model=self.app.embedder.model_name,
        )

    async def episodes(
        self,
        outcome: EpisodeFilter | None,
        role: str | None,
        text: str | None,
        offset: int,
        limit: int,
        project: str | None = None,
    ) -> EpisodePage:
        return await self._thread(self.queries.page, outcome, role, text, offset, limit, project)

    async def episode(self, episode_id: str, after_seq: int, limit: int) -> EpisodeReplay:
        return await self.app.episodes.get(episode_id, after_seq, limit)

    async def similar_episodes(self, episode_id: str, n_results: int) -> SimilarEpisodes:
        task = await self._thread(self.app.episodes.task_of, episode_id)
        await self.app.ready()
        found = await self.app.episodes.recall_similar(task, n_results + 1, False)
        others = [result for result in found.results if result.episode_id != episode_id][:n_results]
        note = found.note if others else "No other ended episode is like this one yet."
        return SimilarEpisodes(results=others, note=note)

    async def failures(self, limit: int) -> FailureAnalysis:
        await self.app.ready()
        return await self.app.failures.analyze(limit)


def _iso(value: object) -> str:
    """Outcome notes keep the unix time they were reported at; pages show ISO times."""
    from datetime import UTC, datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC).isoformat(timespec="seconds")
    return str(value or "")
