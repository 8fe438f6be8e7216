"""Running ``mcp-memory serve``: own the store or forward to its owner, over stdio or HTTP."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer

from mcp_memory.access.tokens import RateLimiter
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.ownership import StoreOwnership
from mcp_memory.edge.proxy import OwnerLink, build_forwarding_server
from mcp_memory.edge.server import (
    INSTRUCTIONS,
    CallsInFlight,
    build_server,
    current_identity,
    explain_unauthorized,
    http_security,
    rate_limiter,
    user_auth,
)
from mcp_memory.edge.startup import listening_socket
from mcp_memory.edge.stdio import serve_stdio
from mcp_memory.errors import CannotStart, StoreDamaged
from mcp_memory.storage.data_dir import check_data_dir

logger = logging.getLogger(__name__)
# The owner's socket opens this long after the front starts serving, then once the warm-up has ended and no tool call
# is being answered (at most the second wait): building its server holds the GIL ~0.15 s, which delayed the first
# recall by as much. Forwarders and commands retry a refused connect (up to LISTEN_WAIT_SECONDS).
OWNER_SOCKET_DELAY_SECONDS = 0.5
OWNER_SOCKET_WARMUP_WAIT_SECONDS = 5.0


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


EXPORT_PATH = "/owner/export"


def owner_export_route(app: MemoryApp, secret: str) -> Any:
    """Streams the export (``transfer.streamed_export``) to a local process that presents the owner's secret."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from mcp_memory.edge.owner_console import presents_secret

    async def export(request: Request) -> Response:
        if not presents_secret(request, secret):
            return JSONResponse({"kind": "unauthorized", "message": "Wrong or missing secret."}, status_code=401)
        await app.ready()
        # Imported here, after the start: the socket opens while the warm-up imports Chroma and numpy in its
        # thread, and numpy imported by two threads at once can be seen half made.
        from mcp_memory.transfer.exporting import streamed_export

        with_embeddings = request.query_params.get("with_embeddings") == "1"
        project = request.query_params.get("project")  # one project's memories and episodes; all when absent
        lines = streamed_export(app, with_embeddings, project)
        return StreamingResponse(lines, media_type="application/x-ndjson")

    return Route(EXPORT_PATH, export, methods=["GET"])


async def start_owner_socket(
    app: MemoryApp, ownership: StoreOwnership, task_group: TaskGroup, limiter: RateLimiter
) -> Any:
    """Serve the other processes on this data dir over the owner's Unix socket (with the front's rate limit)."""
    from mcp.server.transport_security import TransportSecuritySettings

    socket_server = build_server(app, forwarded_secret=ownership.secret, limiter=limiter)
    starlette_app = socket_server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        json_response=True,
    )
    from mcp_memory.console.local import local_data
    from mcp_memory.edge.owner_console import owner_data_route

    # Forwarders' consoles, and the CLI's export, backup and consolidate, read through the owner too.
    starlette_app.router.routes.append(owner_data_route(local_data(app), ownership.secret))
    starlette_app.router.routes.append(owner_export_route(app, ownership.secret))
    from mcp_memory.edge.owner_consolidate import owner_consolidate_route

    starlette_app.router.routes.append(owner_consolidate_route(app, ownership.secret))
    server = _uvicorn_server(
        starlette_app,
        quiet_signals=True,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server.config.load()  # uvicorn's imports now: out of descriptors, the caller tries again instead of crashing
    listening = _private_unix_socket(ownership.socket_path)
    stopped = anyio.Event()

    async def run() -> None:
        try:
            await server.serve(sockets=[listening])
        finally:
            stopped.set()

    task_group.start_soon(run)
    return server, stopped


def _private_unix_socket(path: Path) -> socket.socket:
    """A listening Unix socket only this user may connect to (uvicorn's own would be 0666)."""
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound = False
    try:
        listening.bind(str(path))
        bound = True
        os.chmod(path, 0o600)
        listening.listen(2048)
    except OSError:
        listening.close()
        if bound:  # a later try binds the same path
            path.unlink(missing_ok=True)
        raise
    return listening


async def serve_front(
    front: MCPServer | Server,
    settings: Settings,
    console: Any = None,
    console_only: bool = False,
    listening: socket.socket | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """The transport agents talk to: stdio, or streamable HTTP at /mcp on ``listening`` (with the web console on
    ``console``)."""
    if settings.transport == "stdio":
        await serve_stdio(front)
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
    _cap_sessions(starlette_app, settings)
    starlette_app = explain_unauthorized(starlette_app)
    if console is not None:
        from mcp_memory.console.app import build_console, with_console

        console_app = build_console(console, settings)
        starlette_app = console_app if console_only else with_console(starlette_app, console_app)
    await _serve_http(starlette_app, settings, stop or anyio.Event(), listening)


def _cap_sessions(mcp_app: Any, settings: Settings) -> None:
    """Per-agent session limit, inside the MCP app's authentication (which names the agent)."""
    from mcp.server.streamable_http_manager import DEFAULT_SESSION_IDLE_TIMEOUT
    from starlette.middleware import Middleware

    from mcp_memory.edge.http_limits import SessionCap

    mcp_app.user_middleware.append(
        Middleware(SessionCap, limit=settings.max_sessions_per_agent, idle_seconds=DEFAULT_SESSION_IDLE_TIMEOUT)
    )


async def _serve_http(
    asgi_app: Any, settings: Settings, stop: anyio.Event, listening: socket.socket | None = None
) -> None:
    """uvicorn on the settings' address, with the connection limits, the failed-token throttle, and proxies'
    X-Forwarded-For believed only from MCP_MEMORY_TRUSTED_PROXIES (uvicorn would believe any local process)."""
    from mcp_memory.edge.http_connections import guarded_protocol, watch_descriptors
    from mcp_memory.edge.http_limits import AuthFailureThrottle

    trusted = settings.trusted_proxy_list()
    watch_descriptors()
    protocol = guarded_protocol(settings.max_connections_per_address, settings.header_timeout_seconds, trusted)
    server = _uvicorn_server(
        AuthFailureThrottle(asgi_app, settings.max_auth_failures),
        quiet_signals=False,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http=protocol,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )

    async def stop_when_told() -> None:
        await stop.wait()
        server.should_exit = True  # a graceful stop: uvicorn reports a cancelled one as an error

    async with anyio.create_task_group() as group:
        group.start_soon(stop_when_told)
        await server.serve(sockets=[listening] if listening is not None else None)
        group.cancel_scope.cancel()


def local_console(app: MemoryApp, settings: Settings) -> Any:
    """The console's reads over this process's store (HTTP only), warmed up in the background."""
    if settings.transport != "http":
        return None
    from mcp_memory.console.local import local_data

    data = local_data(app)
    data.prewarm()
    return data


async def serve(settings: Settings, *, console_only: bool = False) -> int:
    """Own the embedded store if nobody does, else forward to the owner; a Chroma server needs neither.

    Over HTTP the web console is served beside /mcp; ``console_only`` serves the console alone. A server that
    cannot start raises ``CannotStart`` before it listens; over stdio it answers instead (see ``serve_unstartable``)
    and the exit status is 1.
    """
    if settings.transport == "http" and settings.trusted_agent_names() and not user_auth(settings):
        logger.warning(
            "MCP_MEMORY_TRUSTED_AGENTS is set but no tokens are: every caller writes as 'local' and votes as the "
            "agent_role it names, so quarantine cannot tell agents apart. Give each agent a token."
        )
    listening = listening_socket(settings.host, settings.port) if settings.transport == "http" else None
    try:
        try:
            check_data_dir(settings.data_dir)
        except CannotStart as exc:
            if settings.transport != "stdio":
                raise
            await serve_unstartable(settings, exc)
            return 1
        await _serve_store(settings, console_only, listening)
        return 0
    finally:
        if listening is not None:
            listening.close()


async def serve_unstartable(settings: Settings, problem: CannotStart) -> None:
    """A desktop client shows a tool's error but not our stderr: so a stdio server that cannot start still answers
    ``initialize``, and every tool call returns the problem (retrying the start, in case it was fixed)."""
    logger.error("%s", problem)
    app = MemoryApp(settings)
    app.start_error = problem
    await serve_front(build_server(app), settings)


async def _serve_store(settings: Settings, console_only: bool, listening: socket.socket | None) -> None:
    # Over HTTP the store is opened before listening: a server that cannot reach it exits with the reason.
    open_first = settings.transport == "http"
    damaged: list[StoreDamaged] = []
    stop = anyio.Event()
    if settings.chroma_url:
        app = MemoryApp(settings)
        if open_first:
            await app.open_store()
        app.consolidate_on_schedule()  # servers sharing a database take turns (a database lease)
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(stop_if_damaged, app, app.start_in_background(), damaged, stop)
                await serve_front(
                    build_server(app), settings, local_console(app, settings), console_only, listening, stop
                )
                task_group.cancel_scope.cancel()
        finally:
            app.stop_background_work()
        if damaged:
            raise damaged[0]
        return

    ownership = StoreOwnership(settings.data_dir)
    socket_servers: list[Any] = []
    owned_apps: list[MemoryApp] = []
    leaving = anyio.Event()

    async def become_owner(task_group: TaskGroup, open_now: bool = False) -> MCPServer:
        app = MemoryApp(settings)
        owned_apps.append(app)
        if open_now:
            await app.open_store()
        task_group.start_soon(stop_if_damaged, app, app.start_in_background(), damaged, stop)
        app.consolidate_on_schedule()  # the owner consolidates; processes that forward to it do not
        limiter = rate_limiter(settings)  # one per agent, whether it calls here or through a forwarder
        calls = CallsInFlight()
        task_group.start_soon(open_owner_socket, app, limiter, task_group, calls)
        return build_server(app, limiter=limiter, calls=calls)

    async def open_owner_socket(
        app: MemoryApp, limiter: RateLimiter, task_group: TaskGroup, calls: CallsInFlight
    ) -> None:
        await anyio.sleep(OWNER_SOCKET_DELAY_SECONDS)
        await calls.settled(app, OWNER_SOCKET_WARMUP_WAIT_SECONDS)
        warned = False
        while not leaving.is_set():
            try:
                socket_servers.append(await start_owner_socket(app, ownership, task_group, limiter))
                return
            except OSError as error:  # out of descriptors, say: the front keeps serving, the socket comes later
                if not warned:
                    logger.warning("cannot open the owner socket yet (%s); retrying every second", error)
                    warned = True
                await anyio.sleep(1)

    try:
        async with anyio.create_task_group() as task_group:
            front: MCPServer | Server
            console: Any = None
            if ownership.try_acquire():
                logger.info("this process owns the store in %s", settings.data_dir)
                front = await become_owner(task_group, open_now=open_first)
                console = local_console(owned_apps[0], settings)
            else:
                logger.info("another process owns the store in %s; forwarding to it", settings.data_dir)
                link = OwnerLink(settings, ownership, become_owner)
                link.task_group = task_group
                front = build_forwarding_server(link, INSTRUCTIONS, current_identity)
                if settings.transport == "http":
                    from mcp_memory.edge.owner_console import OwnerData

                    console = OwnerData(ownership, link, lambda: owned_apps[-1] if owned_apps else None)
            try:
                await serve_front(front, settings, console, console_only, listening, stop)
            finally:
                # Finish what other processes asked of us before letting go of the store.
                leaving.set()  # a socket not opened yet is not opened now
                with anyio.move_on_after(15, shield=True):
                    for server, stopped in socket_servers:
                        while not (server.started or stopped.is_set()):  # told to exit while starting, uvicorn
                            await anyio.sleep(0.01)  # would leave its lifespan to be cancelled, with a traceback
                        server.should_exit = True
                    for _, stopped in socket_servers:
                        await stopped.wait()
                task_group.cancel_scope.cancel()
    finally:
        for app in owned_apps:
            app.stop_background_work()
        ownership.release()
    if damaged:
        raise damaged[0]


async def stop_if_damaged(
    app: MemoryApp, warmup: threading.Thread | None, damaged: list[StoreDamaged], stop: anyio.Event
) -> None:
    """A damaged store file does not mend by retrying: stop serving, so that ``serve`` exits naming it."""
    if warmup is None:
        return
    await anyio.to_thread.run_sync(warmup.join, abandon_on_cancel=True)
    problem = app.start_error
    # Only damage stops the server: a database or Chroma server out of reach may come back, and the next tool call
    # retries the start and tells the agent why it failed.
    if isinstance(problem, StoreDamaged):
        damaged.append(problem)
        stop.set()  # HTTP stops gracefully
        if app.settings.transport == "stdio":
            # The SDK reads stdin in a thread that no cancellation reaches while the client keeps stdin open: say
            # why and leave now (the kernel lets go of the store's lock; the next owner replaces what is left).
            print(f"mcp-memory serve: {problem}", file=sys.stderr, flush=True)
            os._exit(1)
