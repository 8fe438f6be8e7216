"""Memories of releases that kept text and counters in Chroma metadata, brought into the database once."""

from __future__ import annotations

from mcp_memory.models import MEMORY_TYPES
from mcp_memory.storage.memory_rows import MemoryRows, StoredItem
from mcp_memory.storage.vectors import ChromaIndex

BATCH = 1000


def import_legacy_rows(index: ChromaIndex, rows: MemoryRows) -> int:
    """Rows for every record the index holds in the old form; rows already present are kept. Returns how many
    were added."""
    added = 0
    for memory_type in MEMORY_TYPES:
        batch: list[StoredItem] = []
        for item_id, document, metadata in index.legacy_records(memory_type):
            metadata.setdefault("type", memory_type)
            batch.append(StoredItem(item_id, document, metadata))
            if len(batch) >= BATCH:
                added += rows.import_legacy(batch)
                batch = []
        added += rows.import_legacy(batch) if batch else 0
    return added
