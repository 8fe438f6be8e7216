"""Purges for an admin at the command line: everything one agent wrote into tombstones (restorable), or
tombstones removed for good."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from mcp_memory.models import MemoryType

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService

Listed = tuple[str, str, str]  # (id, type, title)


def purge_agent_blocking(memory: MemoryService, agent: str, since: float | None, dry_run: bool) -> list[Listed]:
    """Every memory ``agent`` wrote (since ``since`` when given) deleted into tombstones, unless ``dry_run``."""
    store = memory.store
    store.open()
    written = store.rows.written_by(agent, since)
    if not dry_run:
        for memory_type in dict.fromkeys(kind for _, kind, _ in written):
            ids = [item_id for item_id, kind, _ in written if kind == memory_type]
            store.delete_many(cast(MemoryType, memory_type), ids, "purge", f"purged: everything agent '{agent}' wrote")
        memory.mark_changed()
    return written


def purge_tombstones_blocking(memory: MemoryService, since: float | None, dry_run: bool) -> list[Listed]:
    """Tombstones (of deletes since ``since`` when given) removed for good, unless ``dry_run``."""
    store = memory.store
    store.open()
    buried = [t for t in store.tombstones.buried(limit=1_000_000) if since is None or t.deleted_at >= since]
    if not dry_run:
        store.tombstones.purge([t.id for t in buried])
    return [(t.id, t.type, t.title) for t in buried]
