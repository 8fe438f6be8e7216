"""Memories as an export writes them: each with its whole outcome log in its metadata, and its vector if asked."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mcp_memory.models import MemoryType
from mcp_memory.storage.memory_rows import LEGACY_NOTES_KEY, StoredItem

if TYPE_CHECKING:
    from mcp_memory.storage.store import MemoryStore


def exported(
    store: MemoryStore, memory_type: MemoryType, ids: list[str], with_vectors: bool
) -> list[tuple[StoredItem, Any]]:
    """Items of ``ids`` with their outcome logs, and their vectors (None if none) when ``with_vectors``."""
    items = store.get(memory_type, ids)
    vectors = store.index.vectors(memory_type, [item.id for item in items]) if with_vectors else {}
    result: list[tuple[StoredItem, Any]] = []
    for item in items:
        metadata = dict(item.metadata)
        metadata.pop("last_failure_note", None)
        log = store.rows.outcome_log(item.id) if int(metadata.get("usage_count", 0)) > 1 else []
        if log:
            metadata[LEGACY_NOTES_KEY] = json.dumps(
                [{"success": n.success, "note": n.note, "agent": n.agent, "at": n.at} for n in log],
                ensure_ascii=False,
            )
        result.append((StoredItem(item.id, item.document, metadata), vectors.get(item.id)))
    return result
