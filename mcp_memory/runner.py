"""Running ``mcp-memory serve``: own the store or forward to its owner, over stdio or HTTP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.ownership import StoreOwnership
from mcp_memory.proxy import OwnerLink, build_forwarding_server
from mcp_memory.server import INSTRUCTIONS, build_server, current_agent, http_security, user_auth

logger = logging.getLogger(__name__)


def _uvicorn_server(app: Any, *, quiet_signals: bool, **config: Any) -> Any:
    import signal
    import threading

    import uvicorn
    from uvicorn.server import HANDLED_SIGNALS

    class SocketServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The front transport owns the process's signals; this one stops when told to.
            yield

    class FrontServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # SIGTERM/SIGINT stop serving gracefully. Unlike uvicorn's own, the signal is not raised again
            # afterwards: that would kill the process before it drains the owner's socket and lets go of the store.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    server_class = SocketServer if quiet_signals else FrontServer
    return server_class(uvicorn.Config(app, **config))


async def start_owner_socket(app: MemoryApp, ownership: StoreOwnership, task_group: TaskGroup) -> Any:
    """Serve the other processes on this data dir over the owner's Unix socket."""
    from mcp.server.transport_security import TransportSecuritySettings

    socket_server = build_server(app, forwarded_secret=ownership.secret)
    starlette_app = socket_server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        json_response=True,
    )
    server = _uvicorn_server(
        starlette_app,
        quiet_signals=True,
        uds=str(ownership.socket_path),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    stopped = anyio.Event()

    async def run() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    task_group.start_soon(run)
    return server, stopped


async def serve_front(front: MCPServer | Server, settings: Settings) -> None:
    """The transport agents talk to: stdio, or streamable HTTP at /mcp."""
    if settings.transport == "stdio":
        if isinstance(front, MCPServer):
            await front.run_stdio_async()
        else:
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read_stream, write_stream):
                await front.run(read_stream, write_stream, front.create_initialization_options())
        return
    options: dict[str, Any] = {
        "host": settings.host,
        "transport_security": http_security(settings),
        "max_request_body_size": settings.max_request_bytes,
    }
    if isinstance(front, MCPServer):
        starlette_app = front.streamable_http_app(**options)
    else:
        starlette_app = front.streamable_http_app(**options, **user_auth(settings))
    server = _uvicorn_server(
        starlette_app, quiet_signals=False, host=settings.host, port=settings.port,
        log_level=settings.log_level.lower(),
    )
    await server.serve()


async def serve(settings: Settings) -> None:
    """Own the embedded store if nobody does, else forward to the owner; a Chroma server needs neither."""
    if settings.chroma_url:
        app = MemoryApp(settings)
        app.start_in_background()
        await serve_front(build_server(app), settings)
        return

    ownership = StoreOwnership(settings.data_dir)
    socket_servers: list[Any] = []

    async def become_owner(task_group: TaskGroup) -> MCPServer:
        app = MemoryApp(settings)
        app.start_in_background()
        socket_servers.append(await start_owner_socket(app, ownership, task_group))
        return build_server(app)

    try:
        async with anyio.create_task_group() as task_group:
            front: MCPServer | Server
            if ownership.try_acquire():
                logger.info("this process owns the store in %s", settings.data_dir)
                front = await become_owner(task_group)
            else:
                logger.info("another process owns the store in %s; forwarding to it", settings.data_dir)
                link = OwnerLink(settings, ownership, become_owner)
                link.task_group = task_group
                front = build_forwarding_server(link, INSTRUCTIONS, current_agent)
            try:
                await serve_front(front, settings)
            finally:
                # Finish what other processes asked of us before letting go of the store.
                for server, _ in socket_servers:
                    server.should_exit = True
                with anyio.move_on_after(15, shield=True):
                    for _, stopped in socket_servers:
                        await stopped.wait()
                task_group.cancel_scope.cancel()
    finally:
        ownership.release()
