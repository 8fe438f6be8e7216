"""What a page about one memory shows beside it: the outcome notes agents left on it and the memories nearest to it
in meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_memory.memory.records import to_record
from mcp_memory.models import MemoryRecord, MemoryType
from mcp_memory.storage.memory_rows import OutcomeNote

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService


def outcome_notes_blocking(memory: MemoryService, memory_id: str, limit: int = 10) -> list[OutcomeNote]:
    """The latest outcome reports on a memory that came with a note."""
    return memory.store.outcome_notes(memory_id, limit)


def nearest_blocking(
    memory: MemoryService, memory_type: MemoryType, memory_id: str, n_results: int
) -> list[tuple[MemoryRecord, float]]:
    """Up to ``n_results`` other memories of the type nearest to this one's vector, with their cosine; none when it
    has no vector (out of recall). Parts of the memory itself are left out."""
    vectors = list(memory.store.vectors(memory_type, [memory_id]).values())
    if not vectors:
        return []
    vector = [float(x) for x in vectors[0]]
    found: list[tuple[MemoryRecord, float]] = []
    for match in memory.store.query(memory_type, vector, n_results + 4):
        if match.item.id == memory_id or match.item.metadata.get("part_of") == memory_id:
            continue
        found.append((to_record(match.item), round(1.0 - match.distance, 4)))
    return found[:n_results]
