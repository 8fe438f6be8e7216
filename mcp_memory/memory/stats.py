"""What the store holds: counts per type, language and project, what is out of recall, where it lives and how big."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mcp_memory.memory.projects import ProjectScope
from mcp_memory.models import MEMORY_TYPES, MemoryStats, MemoryType
from mcp_memory.storage.store import COLLECTION_NAMES

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService


def stats_blocking(memory: MemoryService, project: str | None) -> MemoryStats:
    """Counts of the memories ``project`` sees (its own and global ones; ``"*"``: all), and per project of all."""
    scope = ProjectScope.of(project)
    by_type: dict[str, int] = dict.fromkeys(MEMORY_TYPES, 0)
    by_language: Counter[str] = Counter()
    for (memory_type, language), count in memory.store.count_by("language", scope.projects).items():
        by_type[memory_type] = by_type.get(memory_type, 0) + count
        by_language[language or "none"] += count
    by_project: Counter[str] = Counter()
    stored: Counter[str] = Counter()  # every project's
    for (memory_type, name), count in memory.store.count_by("project").items():
        by_project[name] += count
        stored[memory_type] += count
    return MemoryStats(
        project=scope.label,
        total=sum(by_type.values()),
        by_type=by_type,
        by_language=dict(by_language),
        by_project=dict(sorted(by_project.items())),
        collections={COLLECTION_NAMES[t]: stored[t] for t in MEMORY_TYPES},
        data_dir=None if memory.settings.chroma_url else str(memory.settings.data_dir),
        chroma_url=memory.settings.chroma_url,
        size_on_disk_bytes=memory.store.size_on_disk(),
        model=memory.embedder.model_name,
        model_loaded=memory.embedder.loaded,
        out_of_recall=memory.store.states.counts(),
    )


def memory_count_blocking(memory: MemoryService) -> int:
    """Every memory the store holds, of every type and project."""
    return sum(memory.store.count(memory_type) for memory_type in MEMORY_TYPES)


def size_on_disk_blocking(memory: MemoryService) -> int | None:
    return memory.store.size_on_disk()


def metadata_blocking(memory: MemoryService, memory_type: MemoryType) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every memory's metadata of one type, read page by page (for figures over the whole store)."""
    return memory.store.scan_metadata(memory_type)
