"""The MCP edge: tools, resources and prompts that call the memory services and translate their errors."""


import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_memory import __version__
from mcp_memory.app import MemoryApp
from mcp_memory.auth import AgentTokens, RateLimiter
from mcp_memory.config import Settings
from mcp_memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.errors import MemoryStoreError, NotFound
from mcp_memory.knowledge import render_knowledge_index, render_knowledge_markdown
from mcp_memory.models import (
    MEMORY_TYPES,
    DeleteResult,
    KnowledgeType,
    MemoryRecord,
    MemoryStats,
    MemoryType,
    RecallResult,
    SeedCounts,
    StoreResult,
)
from mcp_memory.validation import FILTER_EXAMPLE, normalize_language, require_json_object, require_text

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
A shared, persistent memory for coding agents. Before a task: recall_similar_patterns, recall_solutions and
recall_error_solutions (or search_memory across everything). After a task: store what worked
(store_code_pattern, store_solution) and every error you fixed or failed to fix (store_error_resolution).
Storing the same thing twice is safe: it counts the reuse instead of duplicating. Seeded knowledge is
readable at memory://knowledge."""

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class AgentTokenVerifier:
    """Bearer tokens that name agents (MCP_MEMORY_TOKENS / MCP_MEMORY_TOKENS_FILE)."""

    def __init__(self, tokens: AgentTokens) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        agent = self.tokens.agent_for(token)
        return AccessToken(token=token, client_id=agent, scopes=[]) if agent else None


def current_agent() -> str | None:
    """The agent named by the bearer token of the current HTTP request, if any."""
    token = get_access_token()
    return token.client_id if token else None


@contextmanager
def tool_errors() -> Iterator[None]:
    """Our expected failures become tool errors whose text the agent reads."""
    try:
        yield
    except MemoryStoreError as exc:
        raise ToolError(str(exc)) from exc


def build_server(app: MemoryApp) -> MCPServer:
    """The MCP server over ``app``; nothing heavy happens until the first tool call or ``app.start_*``."""
    settings = app.settings
    max_n = settings.max_results

    @asynccontextmanager
    async def warm_up(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # Runs once the transport is up (stdout already claimed in stdio mode): load while the client lists tools.
        app.start_in_background()
        yield {}

    tokens = AgentTokens(settings.tokens, settings.tokens_file)
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    auth_options: dict[str, Any] = {}
    if tokens.configured:
        base_url = f"http://{settings.host}:{settings.port}"
        auth_options = {
            "token_verifier": AgentTokenVerifier(tokens),
            "auth": AuthSettings(
                issuer_url=base_url, resource_server_url=f"{base_url}/mcp", validate_token_resource=False
            ),
        }

    async def begin(agent_role: str | None = None) -> str | None:
        """Rate-limit the caller, wait until the store is ready, and say who is writing."""
        agent = current_agent()
        limiter.check(agent or agent_role or "local")
        await app.ready()
        return agent or agent_role

    mcp = MCPServer(
        "mcp-memory",
        lifespan=warm_up,
        **auth_options,
        title="mcp-memory",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
    )

    def text(field: str, value: str) -> str:
        return require_text(field, value, settings.max_text_chars)

    def optional_text(field: str, value: str) -> str:
        return require_text(field, value, settings.max_text_chars, allow_empty=True)

    def json_object(field: str, value: dict[str, Any]) -> dict[str, Any]:
        return require_json_object(field, value, settings.max_text_chars)

    # -- patterns ----------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_code_pattern(
        pattern_name: Annotated[str, Field(description="Short name, e.g. 'JWT authentication middleware'.")],
        code: Annotated[str, Field(description="The code of the pattern, as it should be reused.")],
        language: Annotated[str, Field(description="Programming language, e.g. 'python', 'typescript'.")],
        context: Annotated[str, Field(description="When and why to use it; what problem it solved.")],
        success_metrics: Annotated[
            dict[str, Any], Field(description='How well it worked, e.g. {"success_rate": 1.0, "tests_passed": 12}.')
        ] = {},
        tags: Annotated[list[str], Field(description="Keywords, e.g. ['auth', 'fastapi'].", max_length=50)] = [],
        agent_role: Annotated[str | None, Field(description="Who stores it, e.g. 'WORKER_BACKEND'.")] = None,
    ) -> StoreResult:
        """Store a reusable code pattern that worked, so later tasks can recall it.

        Example: {"pattern_name": "Retry with backoff", "code": "async def retry(...): ...",
        "language": "python", "context": "Flaky HTTP calls", "success_metrics": {"success_rate": 1.0}}.
        Storing the same code again counts a reuse instead of creating a copy.
        """
        with tool_errors():
            agent = await begin(agent_role)
            draft = pattern_draft(
                text("pattern_name", pattern_name),
                text("code", code),
                text("language", language),
                optional_text("context", context),
                json_object("success_metrics", success_metrics),
                [text("tags", t) for t in tags],
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_similar_patterns(
        description: Annotated[str, Field(description="What you are about to build, in words.")],
        language: Annotated[str | None, Field(description="Only patterns in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall stored code patterns relevant to a task, best first. Call before writing code.

        Example: {"description": "implement user authentication with JWT", "language": "python"}.
        """
        with tool_errors():
            await begin()
            return await app.memory.recall(
                description, ["pattern"], n_results, language=normalize_language(language), query_field="description"
            )

    # -- solutions ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_solution(
        problem: Annotated[str, Field(description="The problem, as a task would describe it.")],
        solution: Annotated[str, Field(description="The complete solution (code and/or steps).")],
        language: Annotated[str | None, Field(description="Programming language, if any.")] = None,
        context: Annotated[str, Field(description="Constraints, environment, caveats.")] = "",
        success_metrics: Annotated[dict[str, Any], Field(description='e.g. {"success_rate": 1.0}.')] = {},
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
    ) -> StoreResult:
        """Store a complete solution to a problem, so the next agent with the same problem can reuse it."""
        with tool_errors():
            agent = await begin(agent_role)
            draft = solution_draft(
                text("problem", problem),
                text("solution", solution),
                language,
                optional_text("context", context),
                json_object("success_metrics", success_metrics),
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_solutions(
        problem: Annotated[str, Field(description="The problem you face, in words.")],
        language: Annotated[str | None, Field(description="Only solutions in this language.")] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall stored solutions to similar problems, best first."""
        with tool_errors():
            await begin()
            return await app.memory.recall(
                problem, ["solution"], n_results, language=normalize_language(language), query_field="problem"
            )

    # -- errors ------------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def store_error_resolution(
        error_message: Annotated[str, Field(description="The error as printed, e.g. the last traceback line.")],
        context: Annotated[str, Field(description="What you were doing when it happened.")],
        resolution: Annotated[str, Field(description="What you did about it: commands, code changes.")],
        success: Annotated[bool, Field(description="True if the resolution fixed the error; False if it did not.")],
        agent_role: Annotated[str | None, Field(description="Who stores it.")] = None,
    ) -> StoreResult:
        """Store how an error was resolved — or that an attempt failed, so nobody repeats it.

        Example: {"error_message": "ModuleNotFoundError: No module named 'fastapi'", "context": "starting the API",
        "resolution": "pip install fastapi uvicorn", "success": true}.
        """
        with tool_errors():
            agent = await begin(agent_role)
            draft = error_draft(
                text("error_message", error_message),
                optional_text("context", context),
                text("resolution", resolution),
                success,
                agent=agent,
            )
            return await app.memory.remember(draft)

    @mcp.tool(annotations=READ_ONLY)
    async def recall_error_solutions(
        error_message: Annotated[str, Field(description="The error you see, or a description of it.")],
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 3,
    ) -> RecallResult:
        """Recall how similar errors were resolved, best first.

        Each result has an outcome: 'worked' is a fix that worked; 'failed' is an attempt that did NOT work
        (do not repeat it); 'mixed' worked sometimes. Counts are in success_count and failure_count.
        """
        with tool_errors():
            await begin()
            return await app.memory.recall(error_message, ["error"], n_results, query_field="error_message")

    # -- everything --------------------------------------------------------------------------------

    @mcp.tool(annotations=READ_ONLY, description=SEARCH_DESCRIPTION)
    async def search_memory(
        query: Annotated[str, Field(description="What to look for, in words or code.")],
        memory_types: Annotated[
            list[MemoryType] | None,
            Field(description=f"Types to search (default all): {', '.join(MEMORY_TYPES)}."),
        ] = None,
        where: Annotated[
            dict[str, Any] | None, Field(description=f"Metadata filter. {FILTER_EXAMPLE}")
        ] = None,
        n_results: Annotated[int, Field(description="How many to return.", ge=1, le=max_n)] = 5,
    ) -> RecallResult:
        with tool_errors():
            await begin()
            types = list(dict.fromkeys(memory_types)) if memory_types else list(MEMORY_TYPES)
            return await app.memory.recall(query, types, n_results, where=where)

    @mcp.tool(annotations=READ_ONLY)
    async def get_memory(
        id: Annotated[str, Field(description="A memory id from a store or recall result.")],
    ) -> MemoryRecord:
        """Read one memory in full by its id."""
        with tool_errors():
            await begin()
            return await app.memory.get(id)

    @mcp.tool(annotations=DESTRUCTIVE)
    async def delete_memory(
        id: Annotated[str, Field(description="The id of the memory to delete.")],
    ) -> DeleteResult:
        """Delete one memory for good (e.g. a wrong or harmful fix). Seeded knowledge returns on the next seeding."""
        with tool_errors():
            await begin()
            return await app.memory.delete(id)

    @mcp.tool(annotations=READ_ONLY)
    async def memory_stats() -> MemoryStats:
        """Counts per memory type and language, where the data lives, its size on disk and the embedding model."""
        with tool_errors():
            await begin()
            return await app.memory.stats()

    # -- knowledge ---------------------------------------------------------------------------------

    @mcp.tool(annotations=WRITES)
    async def add_custom_knowledge(
        title: Annotated[str, Field(description="e.g. 'OAuth2 implementation pattern'.")],
        content: Annotated[str, Field(description="The knowledge itself: markdown, code or both.")],
        knowledge_type: Annotated[KnowledgeType, Field(description="pattern, best_practice, error or solution.")],
        metadata: Annotated[
            dict[str, Any], Field(description='e.g. {"language": "python", "framework": "fastapi", "tags": ["auth"]}.')
        ] = {},
    ) -> StoreResult:
        """Add team or domain knowledge to the knowledge base; recall and search find it like any memory."""
        with tool_errors():
            title, content = text("title", title), text("content", content)
            metadata = json_object("metadata", metadata)
            await begin()
            return await app.knowledge.add(title, content, knowledge_type, metadata)

    @mcp.tool(annotations=WRITES)
    async def seed_initial_knowledge() -> SeedCounts:
        """Seed the built-in design patterns, best practices and common errors. Safe to repeat: no duplicates."""
        with tool_errors():
            await begin()
            return await app.knowledge.seed()

    # -- resources ---------------------------------------------------------------------------------

    @mcp.resource("memory://knowledge", name="knowledge-index", mime_type="text/markdown")
    async def knowledge_index() -> str:
        """Index of the knowledge base: seeded and custom patterns, best practices and errors."""
        with resource_errors():
            await begin()
            return render_knowledge_index(await app.knowledge.index())

    @mcp.resource("memory://knowledge/{kind}/{slug}", name="knowledge-item", mime_type="text/markdown")
    async def knowledge_item(kind: str, slug: str) -> str:
        """One knowledge item as markdown; kind is pattern, best_practice, error or solution."""
        with resource_errors():
            await begin()
            return render_knowledge_markdown(await app.knowledge.item(kind, slug))

    @mcp.resource("memory://stats", name="stats", mime_type="application/json")
    async def stats_resource() -> str:
        """The same figures as the memory_stats tool."""
        with resource_errors():
            await begin()
            return json.dumps((await app.memory.stats()).model_dump(), indent=2)

    return mcp


SEARCH_DESCRIPTION = f"""\
Search all memory types at once (patterns, solutions, errors, best practices, episodes), best first.

Filter with `where` on metadata: language, source (agent | seed | knowledge | consensus), agent, usage_count,
success_count, failure_count, created_at (unix seconds), or any scalar metadata key you stored.
{FILTER_EXAMPLE}
Example call: {{"query": "retry HTTP requests", "memory_types": ["pattern", "solution"],
"where": {{"language": "python"}}, "n_results": 5}}."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_http(mcp: MCPServer, settings: Settings) -> None:
    """Streamable HTTP at /mcp with DNS-rebinding protection on and the request body size capped."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    if not is_loopback(settings.host):
        hosts = [settings.host, "localhost", "127.0.0.1", *settings.allowed_host_list()]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{h}:*" for h in hosts] + hosts,
            allowed_origins=[f"http://{h}:*" for h in hosts] + [f"https://{h}:*" for h in hosts],
        )
    starlette_app = mcp.streamable_http_app(
        host=settings.host, transport_security=security, max_request_body_size=settings.max_request_bytes
    )
    uvicorn.run(starlette_app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except MemoryStoreError as exc:
        raise ResourceError(str(exc)) from exc
