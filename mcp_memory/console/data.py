"""What the console reads, behind one interface: from this process's store, or from the process that owns it."""

from __future__ import annotations

from typing import Protocol

from mcp_memory.console.models import EpisodeFilter, EpisodePage, MemoryDetail, MemoryTrends, StoreOverview
from mcp_memory.models import (
    EpisodeReplay,
    FailureAnalysis,
    MemoryType,
    RecallResult,
    SimilarEpisodes,
)


class ConsoleData(Protocol):
    """Read-only access to memories and episodes. Raises ``NotFound`` and ``InvalidInput`` like the services."""

    async def search(
        self,
        query: str,
        types: list[MemoryType],
        language: str | None,
        agent: str | None,
        n_results: int,
        project: str | None = None,
    ) -> RecallResult:
        """The best memories; with ``project``, what an agent in that project recalls (its own and global ones)."""
        ...

    async def memory(self, memory_id: str) -> MemoryDetail: ...

    async def trends_now(self) -> MemoryTrends | None:
        """The last scan of the memories, without waiting for one."""
        ...

    async def overview(self) -> StoreOverview: ...

    async def episodes(
        self,
        outcome: EpisodeFilter | None,
        role: str | None,
        text: str | None,
        offset: int,
        limit: int,
        project: str | None = None,
    ) -> EpisodePage:
        """A page of episodes, newest first; with ``project``, that project's only ("" the global ones)."""
        ...

    async def episode(self, episode_id: str, after_seq: int, limit: int) -> EpisodeReplay: ...

    async def similar_episodes(self, episode_id: str, n_results: int) -> SimilarEpisodes: ...

    async def failures(self, limit: int) -> FailureAnalysis: ...
