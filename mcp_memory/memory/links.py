"""Links between memories: an agent's (supersedes, fixes, caused_by, related), where a memory was learned
(learned_from an episode) and consolidation's (merged_into); and a memory read with all of them.

A superseded memory leaves recall at once and stays readable; removing the link brings it back. Superseding
another agent's memory hides it from every agent, so, like deleting it, only its writer or an admin may.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from mcp_memory.errors import Conflict, Forbidden, InvalidInput, NotFound
from mcp_memory.memory.records import LOCAL_AGENT, iso_time, to_record
from mcp_memory.memory.validation import require_text
from mcp_memory.models import LinkChange, LinkedItem, LinkRelation, MemoryStatus, MemoryWithLinks
from mcp_memory.storage.memory_links import ACTIVE, LEARNED_FROM, MERGED_INTO, SUPERSEDES, Link

if TYPE_CHECKING:
    from mcp_memory.memory.service import MemoryService

AGENT_RELATIONS: tuple[str, ...] = get_args(LinkRelation)
MAX_LINK_NOTE_CHARS = 2000
MAX_ID_CHARS = 200


def status_name(status: str | None) -> MemoryStatus:
    return status or "active"  # type: ignore[return-value]


class MemoryLinker:
    """Make, remove and read links over one memory service."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory
        self.store = memory.store

    # -- an agent's links ----------------------------------------------------------------------------

    async def link(self, from_id: str, to_id: str, relation: str, note: str, agent: str, admin: bool) -> LinkChange:
        return await self.memory.run(self.link_blocking, from_id, to_id, relation, note, agent, admin)

    def link_blocking(self, from_id: str, to_id: str, relation: str, note: str, agent: str, admin: bool) -> LinkChange:
        from_id, to_id = _id("from_id", from_id), _id("to_id", to_id)
        note = require_text("note", note, MAX_LINK_NOTE_CHARS, allow_empty=True).strip()
        _relation(relation)
        if from_id == to_id:
            raise InvalidInput("to_id", "is from_id itself; a memory links to another memory or to an episode.")
        known = self.store.links.lookup([from_id, to_id])
        if known.get(from_id, ("",))[0] != "memory":
            raise NotFound(f"No memory with id '{from_id}' to link from. Ids come from store and recall results.")
        if to_id not in known:
            raise NotFound(
                f"No memory or episode with id '{to_id}' to link to. Memory ids come from store and recall "
                "results, episode ids from start_episode and list_episodes."
            )
        if relation != SUPERSEDES:
            created = self.store.links.add(from_id, to_id, relation, agent, note)
            return LinkChange(
                from_id=from_id,
                to_id=to_id,
                relation=relation,
                changed=created,
                message=f"Linked: {from_id} {relation} {to_id}." if created else "That link was already there.",
            )
        self._check_supersede(from_id, to_id, known, agent, admin)
        created, moved = self.store.links.supersede(from_id, to_id, agent, note)
        self.store.leave_recall(moved)
        self.memory.mark_changed()
        left = [item_id for item_id, _ in moved if item_id == to_id]
        message = f"{from_id} supersedes {to_id}"
        message += ": recall no longer returns it; get_memory still reads it." if left else "."
        return LinkChange(
            from_id=from_id, to_id=to_id, relation=relation, changed=created, left_recall=left, message=message
        )

    def _check_supersede(
        self, from_id: str, to_id: str, known: dict[str, tuple[str, str, str | None]], agent: str, admin: bool
    ) -> None:
        if known[to_id][0] != "memory":
            raise InvalidInput("to_id", f"'{to_id}' is an episode; only a memory can be superseded.")
        if known[from_id][2] != ACTIVE:  # what something supersedes is never active: no supersession goes round
            raise Conflict(
                f"Memory '{from_id}' is {known[from_id][2]} itself, not in recall: it cannot supersede another. "
                "Supersede with a memory recall returns (store the new version first)."
            )
        found = self.store.get(None, [to_id])
        writer = str(found[0].metadata.get("agent") or "") if found else ""
        if not admin and writer != agent:
            raise Forbidden(
                f"Memory '{to_id}' was written by '{writer or 'unknown'}'; an agent supersedes only its own memories. "
                "Link it as 'related' (or report_outcome that it did not work), or ask an admin to supersede it."
            )

    async def unlink(self, from_id: str, to_id: str, relation: str, agent: str, admin: bool) -> LinkChange:
        return await self.memory.run(self.unlink_blocking, from_id, to_id, relation, agent, admin)

    def unlink_blocking(self, from_id: str, to_id: str, relation: str, agent: str, admin: bool) -> LinkChange:
        from_id, to_id = _id("from_id", from_id), _id("to_id", to_id)
        _relation(relation)
        link = self.store.links.get(from_id, to_id, relation)
        if link is None:
            raise NotFound(f"No link {from_id} {relation} {to_id}. get_memory on either id lists the links it has.")
        if not admin and link.agent != agent:
            raise Forbidden(
                f"The link {from_id} {relation} {to_id} was made by '{link.agent or 'unknown'}'; an agent removes "
                "only its own links. Ask an admin."
            )
        removed, moved = self.store.links.remove(from_id, to_id, relation)
        self.store.back_in_recall(moved, self.memory.encode_items)
        if moved:
            self.memory.mark_changed()
        back = [item_id for item_id, _ in moved if item_id == to_id]
        message = f"Removed: {from_id} {relation} {to_id}."
        if back:
            message += f" Nothing supersedes {to_id} any more: recall returns it again."
        return LinkChange(
            from_id=from_id, to_id=to_id, relation=relation, changed=removed, back_in_recall=back, message=message
        )

    # -- links made by the server --------------------------------------------------------------------

    def learned_in(self, memory_ids: list[str], episode_id: str, agent: str | None) -> list[str]:
        """Link memories to the episode they were learned in, when that episode exists; the ones linked."""
        if self.store.links.lookup([episode_id]).get(episode_id, ("",))[0] != "episode":
            return []
        linked = list(dict.fromkeys(memory_ids))
        for memory_id in linked:
            self.store.links.add(memory_id, episode_id, LEARNED_FROM, agent or LOCAL_AGENT)  # kept if already there
        return linked

    # -- reading -------------------------------------------------------------------------------------

    async def get(self, item_id: str) -> MemoryWithLinks:
        return await self.memory.run(self.get_blocking, item_id)

    def get_blocking(self, item_id: str) -> MemoryWithLinks:
        require_text("id", item_id, MAX_ID_CHARS)
        found = self.store.get(None, [item_id])
        item = found[0] if found else None
        state = self.store.states.of(item_id)
        if item is None or state is None:
            raise NotFound(
                f"No memory with id '{item_id}'. Ids come from store and recall results; use search_memory to find one."
            )
        links = self.store.links.of(item_id)
        others = self.store.links.lookup([link.to_id if link.from_id == item_id else link.from_id for link in links])
        shown = [_linked(item_id, link, others) for link in links]
        superseders = [link for link in links if link.relation == SUPERSEDES and link.to_id == item_id]
        merged = [link.to_id for link in links if link.relation == MERGED_INTO and link.from_id == item_id]
        record = MemoryWithLinks(
            **to_record(item).model_dump(),
            status=status_name(state.status),
            status_note=state.status_note,
            status_at=iso_time(state.status_at) if state.status_at else None,
            superseded_by=superseders[-1].from_id if superseders else None,
            merged_into=merged[0] if merged else None,
            last_used_at=iso_time(state.last_used_at) if state.last_used_at else None,
            links=shown,
        )
        return self.memory.judged_blocking([record])[0]


def _linked(item_id: str, link: Link, others: dict[str, tuple[str, str, str | None]]) -> LinkedItem:
    outgoing = link.from_id == item_id
    other = link.to_id if outgoing else link.from_id
    kind, title, status = others.get(other, ("missing", None, None))
    return LinkedItem(
        relation=link.relation,
        direction="out" if outgoing else "in",
        other_id=other,
        other_kind=kind,  # type: ignore[arg-type]
        other_title=title,
        other_status=status_name(status) if kind == "memory" else None,
        note=link.note,
        agent=link.agent,
        created_at=iso_time(link.created_at),
    )


def _id(field: str, value: str) -> str:
    return require_text(field, value, MAX_ID_CHARS).strip()


def _relation(relation: str) -> None:
    if relation not in AGENT_RELATIONS:
        raise InvalidInput(
            "relation", f"must be one of {', '.join(AGENT_RELATIONS)}; got {relation!r}.", '{"relation": "related"}'
        )
