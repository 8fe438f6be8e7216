"""Archived memories: listing them, and ``restore_memory``, which brings back whatever left recall by a delete,
an archive or a merge.

- a deleted memory comes out of its tombstone, as it was (so a deleted archived memory is archived again, then
  comes back like one);
- an archived memory is in recall again, with its parts;
- a merged near-duplicate is unmerged: the memory it was merged into gives back the counts it was given.

A superseded memory is not restored here: removing the ``supersedes`` link (``unlink_memories``) brings it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from mcp_memory.errors import Conflict, NotFound
from mcp_memory.memory.records import iso_time
from mcp_memory.memory.validation import require_n_results, require_text
from mcp_memory.models import ArchivedMemories, ArchivedMemory, DeletedMemory, MemoryType, MemoryWithLinks
from mcp_memory.storage.memory_links import ACTIVE, ARCHIVED, MERGED, SUPERSEDED, SUPERSEDES, Moved

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService

MAX_PROJECT_CHARS = 200


def restore_blocking(memory: MemoryService, item_id: str) -> MemoryWithLinks:
    """Bring a deleted, archived or merged memory back into recall (see the module's docstring)."""
    require_text("id", item_id, 200)
    store = memory.store
    unburied = store.restore(item_id, lambda found: memory.encode_items([found])[0])
    state = store.states.of(item_id)
    moved: Moved = []
    if state is None or (state.status == ACTIVE and unburied is None):
        raise NotFound(
            f"No deleted memory with id '{item_id}', nor an archived or merged one. list_deleted_memories and "
            "list_archived show what can be restored."
        )
    if state.status == ARCHIVED:
        moved = store.states.unarchive(item_id)
    elif state.status == MERGED:
        unmerged = store.links.unmerge(item_id)
        moved = unmerged[1] if unmerged is not None else []
    elif state.status == SUPERSEDED and unburied is None:
        newest = [
            link.from_id for link in store.links.of(item_id) if link.relation == SUPERSEDES and link.to_id == item_id
        ]
        raise Conflict(
            f"Memory '{item_id}' is superseded by {', '.join(newest) or 'another memory'}, not deleted or archived. "
            f"unlink_memories(from_id='{newest[-1] if newest else '...'}', to_id='{item_id}', relation='supersedes') "
            "brings it back into recall."
        )
    if moved and store.links.keep_superseded(item_id):  # a newer memory still replaces it: readable, not recalled
        moved = []
    store.back_in_recall(moved, memory.encode_items)
    memory.mark_changed()
    return memory.links.get_blocking(item_id)


def archived_blocking(memory: MemoryService, project: str | None, limit: int) -> ArchivedMemories:
    require_n_results(limit, 1000, "limit")
    if project is not None:
        project = require_text("project", project, MAX_PROJECT_CHARS, allow_empty=True).strip()
    rows = memory.store.states.archived(project, limit)
    return ArchivedMemories(
        memories=[
            ArchivedMemory(
                id=row.id,
                type=row.type,  # type: ignore[arg-type]
                title=row.title,
                agent=row.agent or None,
                project=row.project,
                archived_at=iso_time(row.archived_at),
                reason=row.reason,
                usage_count=row.usage_count,
                success_count=row.success_count,
                failure_count=row.failure_count,
            )
            for row in rows
        ]
    )


def deleted_blocking(memory: MemoryService, agent: str | None, limit: int) -> list[DeletedMemory]:
    """Tombstones, newest first (of memories ``agent`` wrote, when given)."""
    require_n_results(limit, 1000, "limit")
    return [
        DeletedMemory(
            id=t.id,
            type=cast(MemoryType, t.type),
            title=t.title,
            agent=t.agent or None,
            deleted_at=iso_time(t.deleted_at),
            deleted_by=t.deleted_by,
            reason=t.reason,
        )
        for t in memory.store.tombstones.buried(agent, limit)
    ]
