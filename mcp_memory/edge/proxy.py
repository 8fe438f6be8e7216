"""Serving when another process owns the store: every MCP request is forwarded to the owner.

A forwarding process loads neither the model nor Chroma. If the owner goes away, the next request
takes ownership (see ``ownership``), opens the store in this process and from then on is answered
here — and this process starts serving the other processes in turn.

The caller's project is found here, where the client's session is (its roots, or this process's
MCP_MEMORY_PROJECT), and named to the owner in each request's ``_meta`` (``edge.projects``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import Client
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from mcp_memory import __version__
from mcp_memory.config import Settings
from mcp_memory.edge.ownership import OwnerInfo, StoreOwnership
from mcp_memory.edge.projects import PROJECT_META_KEY, CallerProjects
from mcp_memory.errors import MemoryStoreError, Unavailable, find_in

logger = logging.getLogger(__name__)
T = TypeVar("T")
TAKEOVER_WAIT_SECONDS = 60.0


class OwnerGone(Exception):
    """The owner's socket did not answer."""


@dataclass
class _Upstream:
    client: Client | None = None
    closed: anyio.Event = field(default_factory=anyio.Event)
    failure: BaseException | None = None


def owner_socket_client(socket_path: str, secret: str, agent: str | None) -> Any:
    """An MCP client transport to the owner's Unix socket, carrying the caller's agent name."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http_client = httpx2.AsyncClient(
        transport=httpx2.AsyncHTTPTransport(uds=socket_path),
        headers={"Authorization": f"Bearer {secret}.{agent or ''}"},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    return streamable_http_client("http://localhost/mcp", http_client=http_client)


class OwnerLink:
    """Reaches whoever owns the store now: another process over its socket, or this process after a takeover."""

    def __init__(
        self,
        settings: Settings,
        ownership: StoreOwnership,
        become_owner: Callable[[TaskGroup], Awaitable[MCPServer]],
    ) -> None:
        self.settings = settings
        self.ownership = ownership
        self._become_owner = become_owner
        self.task_group: TaskGroup | None = None
        self.local_server: MCPServer | None = None
        self._takeover_lock = anyio.Lock()
        self._open_lock = anyio.Lock()
        self._sessions: dict[str, _Upstream] = {}
        self._read_only_tools: set[str] | None = None
        self._project_tools: set[str] = set()

    async def _client(self, agent: str | None) -> Client:
        """An open client session to the owner for this agent, reused across requests."""
        key = agent or ""
        upstream = self._sessions.get(key)
        if upstream is not None and upstream.client is not None:
            return upstream.client
        async with self._open_lock:
            upstream = self._sessions.get(key)
            if upstream is not None and upstream.client is not None:
                return upstream.client
            if self.task_group is None:
                raise OwnerGone("not serving yet")
            upstream = _Upstream()
            ready = anyio.Event()
            self.task_group.start_soon(self._hold, upstream, agent, ready)
            await ready.wait()
            if upstream.client is None:
                raise OwnerGone(str(upstream.failure))
            self._sessions[key] = upstream
            return upstream.client

    async def _hold(self, upstream: _Upstream, agent: str | None, ready: anyio.Event) -> None:
        """Keep one client session open in its own task (sessions must close in the task that opened them)."""
        try:
            if self.local_server is not None:
                connection: Any = Client(self.local_server)
            else:
                info = self.ownership.owner_info()
                transport = owner_socket_client(str(info.socket_path), info.secret, agent)
                connection = Client(transport, read_timeout_seconds=300)
            async with connection as client:
                upstream.client = client
                ready.set()
                await upstream.closed.wait()
        except Exception as exc:
            upstream.failure = exc
        finally:
            upstream.client = None
            upstream.closed.set()
            ready.set()

    def _drop(self, agent: str | None) -> None:
        upstream = self._sessions.pop(agent or "", None)
        if upstream is not None:
            upstream.closed.set()

    async def forward(
        self, operation: Callable[[Client], Awaitable[T]], agent: str | None = None, *, read_only: bool = True
    ) -> T:
        """Run ``operation`` against the owner, finding the new owner when it is gone.

        A read-only operation is retried after any transport failure. Anything else is retried only when it
        certainly never reached the owner, so it cannot be applied twice.
        """
        deadline = time.monotonic() + TAKEOVER_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                client = await self._client(agent)
                try:
                    return await operation(client)
                except MCPError as exc:
                    if exc.error.code != CONNECTION_CLOSED:
                        raise  # the owner answered with a protocol error: a real answer
                    self._drop(agent)  # the session to the owner broke
                    if read_only:
                        raise OwnerGone(str(exc)) from exc
                    raise
                except Exception as exc:
                    self._drop(agent)
                    if read_only or _never_reached_owner(exc):
                        raise OwnerGone(str(exc)) from exc
                    raise
            except OwnerGone as exc:
                if time.monotonic() > deadline:
                    raise Unavailable(f"No server answers for the store in {self.settings.data_dir}: {exc}") from exc
                await self._take_over_if_free()
                await anyio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def tool_is_read_only(self, name: str) -> bool:
        """Whether the owner declares the tool read-only (so a call to it may be repeated safely)."""
        if self._read_only_tools is None:
            self.remember_tools(await self.forward(lambda c: c.list_tools()))
        return name in (self._read_only_tools or set())

    def remember_tools(self, listed: types.ListToolsResult) -> None:
        self._read_only_tools = {
            tool.name for tool in listed.tools if tool.annotations is not None and tool.annotations.read_only_hint
        }
        self._project_tools = {
            tool.name for tool in listed.tools if "project" in (tool.input_schema.get("properties") or {})
        }

    async def tool_takes_project(self, name: str) -> bool:
        """Whether the tool reads or writes a project (so the owner needs the caller's)."""
        if self._read_only_tools is None:
            self.remember_tools(await self.forward(lambda c: c.list_tools()))
        return name in self._project_tools

    async def _take_over_if_free(self) -> None:
        async with self._takeover_lock:
            if self.local_server is None and self.task_group is not None and self.ownership.try_acquire():
                logger.warning("the process owning %s is gone; this process owns the store now", self.settings.data_dir)
                self.local_server = await self._become_owner(self.task_group)
                for key in list(self._sessions):
                    self._drop(key or None)


def _never_reached_owner(exc: BaseException) -> bool:
    """True when a request failed to connect at all, so retrying it cannot apply it twice."""
    import httpx2

    return find_in(exc, (httpx2.ConnectError, ConnectionRefusedError, FileNotFoundError)) is not None


def _tool_error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def build_forwarding_server(link: OwnerLink, instructions: str, current_agent: Callable[[], str | None]) -> Server:
    """A low-level MCP server whose every request is answered by the owner."""
    projects = CallerProjects(link.settings.project)

    async def caller(ctx: Any, params: Any) -> types.RequestParamsMeta | types.InputRequiredResult:
        """The ``_meta`` that names the client's project to the owner, or the roots question to ask the client."""
        found = await projects.of(ctx.session, ctx.request_id, ctx.meta, params.input_responses)
        if isinstance(found, types.InputRequiredResult):
            return found
        return cast(types.RequestParamsMeta, {PROJECT_META_KEY: found})

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        listed = await link.forward(lambda c: c.list_tools())
        link.remember_tools(listed)
        return listed

    async def call_tool(
        ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            read_only = await link.tool_is_read_only(params.name)
            meta = await caller(ctx, params) if await link.tool_takes_project(params.name) else None
            if isinstance(meta, types.InputRequiredResult):
                return meta
            return await link.forward(
                lambda c: c.call_tool(params.name, params.arguments or {}, meta=meta),
                current_agent(),
                read_only=read_only,
            )
        except Unavailable as exc:
            return _tool_error(str(exc))
        except Exception as exc:
            logger.warning("forwarded call %s failed: %r", params.name, exc)
            return _tool_error(
                f"The server process that owns the store stopped while answering {params.name}; the call may or "
                "may not have taken effect. Retry it (stores are de-duplicated; check an episode before re-recording)."
            )

    async def list_resources(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return await link.forward(lambda c: c.list_resources())

    async def list_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await link.forward(lambda c: c.list_resource_templates())

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        meta = await caller(ctx, params)
        if isinstance(meta, types.InputRequiredResult):
            return meta
        return await link.forward(lambda c: c.read_resource(params.uri, meta=meta), current_agent())

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return await link.forward(lambda c: c.list_prompts())

    async def get_prompt(
        ctx: Any, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        meta = await caller(ctx, params)
        if isinstance(meta, types.InputRequiredResult):
            return meta
        return await link.forward(
            lambda c: c.get_prompt(params.name, params.arguments or {}, meta=meta),
            current_agent(),
        )

    async def roots_changed(ctx: Any, params: Any) -> None:
        projects.forget(ctx.session)

    server = Server(
        "mcp-memory",
        version=__version__,
        title="mcp-memory",
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    server.add_notification_handler("notifications/roots/list_changed", types.NotificationParams, roots_changed)
    return server


def ask_owner(owner: OwnerInfo, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call one tool of the owning server over its socket; its tool error becomes ours."""

    async def call() -> dict[str, Any]:
        async with Client(owner_socket_client(str(owner.socket_path), owner.secret, "cli")) as client:
            result = await client.call_tool(tool, arguments)
        if result.is_error:
            raise MemoryStoreError(" ".join(getattr(block, "text", "") for block in result.content))
        return dict(result.structured_content or {})

    return anyio.run(call)
