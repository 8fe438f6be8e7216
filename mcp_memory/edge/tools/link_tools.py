"""Link tools: link and unlink memories (supersede one with another), and list what consolidation archived."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_memory.edge.tools.context import READ_ONLY, WRITES, ToolContext, tool_errors
from mcp_memory.models import ArchivedMemories, LinkChange, LinkRelation

LINK_DESCRIPTION = """\
Link a memory to another memory, or to an episode, so later agents see how they relate. Relations:
- supersedes: from_id is the newer, correct version of to_id (a corrected fix, an updated pattern). to_id leaves
  recall at once: recall, search_memory, suggestions and the task prompt stop returning it; get_memory still reads
  it and names the memory that superseded it. Supersede only what is wrong or obsolete: if the old memory still
  works in some cases, link it as related and report_outcome instead. You may supersede only memories you wrote
  (an admin: any); unlink_memories undoes it.
- fixes: from_id fixes what to_id describes (an error memory, or an episode that failed).
- caused_by: from_id (typically an error) was caused by to_id (a pattern, a solution, an episode).
- related: worth reading together.
Store the new memory first, then link it. Linking twice is harmless.
Example: {"from_id": "err_9c1d...", "to_id": "err_3f2a...", "relation": "supersedes",
"note": "the old fix pinned a yanked release"}."""


def register(mcp: MCPServer, ctx: ToolContext) -> None:
    @mcp.tool(annotations=WRITES, description=LINK_DESCRIPTION)
    async def link_memories(
        from_id: Annotated[str, Field(description="The memory the link starts from (for supersedes: the new one).")],
        to_id: Annotated[str, Field(description="A memory id, or an episode id (not for supersedes).")],
        relation: Annotated[LinkRelation, Field(description="supersedes, fixes, caused_by or related.")],
        note: Annotated[str, Field(description="Why, in a sentence. Optional.")] = "",
    ) -> LinkChange:
        with tool_errors():
            caller = await ctx.begin(writes=True)
            return await ctx.app.memory.links.link(from_id, to_id, relation, note, caller.agent, caller.admin)

    @mcp.tool(annotations=WRITES)
    async def unlink_memories(
        from_id: Annotated[str, Field(description="The memory the link starts from.")],
        to_id: Annotated[str, Field(description="The memory or episode it points to.")],
        relation: Annotated[LinkRelation, Field(description="supersedes, fixes, caused_by or related.")],
    ) -> LinkChange:
        """Remove one link made with link_memories (yours; an admin: any). Removing the last 'supersedes' link to
        a memory brings it back into recall. get_memory on either id lists its links.

        Example: {"from_id": "err_9c1d...", "to_id": "err_3f2a...", "relation": "supersedes"}.
        """
        with tool_errors():
            caller = await ctx.begin(writes=True)
            return await ctx.app.memory.links.unlink(from_id, to_id, relation, caller.agent, caller.admin)

    @mcp.tool(annotations=READ_ONLY)
    async def list_archived(
        project: Annotated[
            str | None, Field(description='Only this project ("" for memories of no project); default: all.')
        ] = None,
        limit: Annotated[int, Field(description="How many, most recently archived first.", ge=1, le=1000)] = 20,
    ) -> ArchivedMemories:
        """Memories consolidation archived, with why: ones that only ever failed, or that nobody recalled or used
        for a long time (MCP_MEMORY_ARCHIVE_AFTER). Recall no longer returns them; get_memory reads them and an admin
        brings one back with restore_memory."""
        with tool_errors():
            await ctx.begin()
            return await ctx.app.memory.archived(project, limit)
