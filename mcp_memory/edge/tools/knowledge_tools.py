"""Knowledge tools and resources: add custom knowledge, seed the built-in knowledge base, and read it (with the
store's figures) as MCP resources."""

import json
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_memory.edge.tools.context import WRITES, ToolContext, resource_errors, tool_errors
from mcp_memory.knowledge.service import render_knowledge_index, render_knowledge_markdown
from mcp_memory.models import KnowledgeType, SeedCounts, StoreResult


def register(mcp: MCPServer, ctx: ToolContext) -> None:
    # -- knowledge ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def add_custom_knowledge(
        title: Annotated[str, Field(description="e.g. 'OAuth2 implementation pattern'.")],
        content: Annotated[str, Field(description="The knowledge itself: markdown, code or both.")],
        knowledge_type: Annotated[KnowledgeType, Field(description="pattern, best_practice, error or solution.")],
        metadata: Annotated[
            dict[str, Any], Field(description='e.g. {"language": "python", "framework": "fastapi", "tags": ["auth"]}.')
        ] = {},
        project: Annotated[
            str | None,
            Field(
                description="Leave it out for knowledge every project sees (global); name a project, e.g. "
                '"acme-api", for knowledge that holds only there.'
            ),
        ] = None,
    ) -> StoreResult:
        """Add team or domain knowledge to the knowledge base; recall and search find it like any memory.

        Knowledge is global (every project sees it) unless you name a project.
        """
        with tool_errors():
            title, content = ctx.text("title", title), ctx.text("content", content)
            metadata = ctx.json_object("metadata", metadata)
            caller = await ctx.begin(writes=True)
            return await ctx.app.knowledge.add(title, content, knowledge_type, metadata, caller.agent, project)

    @mcp.tool(annotations=WRITES)
    async def seed_initial_knowledge() -> SeedCounts:
        """Seed the built-in design patterns, best practices and common errors. Safe to repeat: no duplicates."""
        with tool_errors():
            await ctx.begin(writes=True)
            return await ctx.app.knowledge.seed()

    # -- resources ---------------------------------------------------------------------------------

    @mcp.resource("memory://knowledge", name="knowledge-index", mime_type="text/markdown")
    async def knowledge_index() -> str:
        """Index of the knowledge base: seeded and custom patterns, best practices and errors (global ones and your
        project's)."""
        with resource_errors():
            await ctx.begin()
            return render_knowledge_index(await ctx.app.knowledge.index(await ctx.project(None)))

    @mcp.resource("memory://knowledge/{kind}/{slug}", name="knowledge-item", mime_type="text/markdown")
    async def knowledge_item(kind: str, slug: str) -> str:
        """One knowledge item as markdown; kind is pattern, best_practice, error or solution."""
        with resource_errors():
            await ctx.begin()
            return render_knowledge_markdown(await ctx.app.knowledge.item(kind, slug))

    @mcp.resource("memory://stats", name="stats", mime_type="application/json")
    async def stats_resource() -> str:
        """The same figures as the memory_stats tool, for your project."""
        with resource_errors():
            await ctx.begin()
            return json.dumps((await ctx.app.memory.stats(await ctx.project(None))).model_dump(), indent=2)
