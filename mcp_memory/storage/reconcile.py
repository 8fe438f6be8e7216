"""Mending what a crash between a row and its vector left behind: a row in recall without a vector is embedded
again, a vector of this store without a row in recall is removed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mcp_memory.models import MEMORY_TYPES, ReconcileReport
from mcp_memory.storage.memory_rows import StoredItem

if TYPE_CHECKING:
    from mcp_memory.storage.store import MemoryStore

RECONCILE_BATCH = 256


def reconcile(
    store: MemoryStore,
    embed_text: Callable[[StoredItem], str],
    encode: Callable[[list[str]], Sequence[Any]],
    settle_seconds: float = 0.0,
) -> ReconcileReport:
    """Embed rows in recall that have no vector, remove vectors of this store that have no row in recall (a
    superseded, merged or archived memory has none). With other writers about (a serving process, servers
    sharing the database), ``settle_seconds`` lets stores in flight add their own vectors first."""
    report = ReconcileReport()
    for memory_type in MEMORY_TYPES:
        # Vectors first: a store in flight writes its row before its vector, so a vector read here has its
        # row in the read below (read the other way round, a store in between looked like an orphan).
        present = set(store.index.all_ids(memory_type))
        rows = set(store.states.live_ids(memory_type))
        # A vector without a row is removed only if this store wrote it (a Chroma server may hold other stores').
        strays = [item_id for item_id in present if item_id not in rows]
        tags = store.index.store_tags(memory_type, strays) if strays else {}
        orphans = [item_id for item_id in strays if tags.get(item_id) == store.store_id]
        if orphans:
            store.index.delete(memory_type, orphans)
            report.removed += len(orphans)
        missing = sorted(rows - present)
        if missing and settle_seconds > 0:  # a store in flight adds its vector right after its row: let it
            time.sleep(settle_seconds)
            arrived = store.index.vectors(memory_type, missing)
            missing = [item_id for item_id in missing if item_id not in arrived]
        for start in range(0, len(missing), RECONCILE_BATCH):
            items = store.rows.get(missing[start : start + RECONCILE_BATCH], memory_type)
            if items:
                store.put_vectors(memory_type, items, encode([embed_text(item) for item in items]))
                report.embedded += len(items)
    return report
