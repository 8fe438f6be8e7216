"""The console as an ASGI app: routes, templates, static files, login, and serving it beside ``/mcp``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from mcp_memory.access.tokens import AgentTokens, shared_tokens
from mcp_memory.app import open_console_sessions
from mcp_memory.config import Settings
from mcp_memory.console import render
from mcp_memory.console.auth import ConsoleAuth, RequireLogin
from mcp_memory.console.data import ConsoleData
from mcp_memory.console.pages import Pages

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    # Nothing stored can run: no inline script or style, no plugins, no framing.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def is_mcp_path(path: str) -> bool:
    """Paths the MCP server answers: its endpoint, and discovery paths (404 there: there is no OAuth), never a login."""
    return path == "/mcp" or path.startswith(("/mcp/", "/.well-known/"))


def templates() -> Jinja2Templates:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ago=render.ago,
        duration=render.duration,
        number=render.number,
        percent=render.percent,
        clock=render.clock,
        bytes=render.human_bytes,
        plain=render.plain_text,
    )
    return Jinja2Templates(env=env)


def allowed_hosts(settings: Settings) -> list[str]:
    """Host names the console answers to (DNS-rebinding protection, as for /mcp)."""
    from mcp_memory.access.hosts import is_loopback

    loopback = ["127.0.0.1", "localhost", "[::1]", "::1"]
    if is_loopback(settings.host):
        return loopback
    return [settings.host, *loopback, *settings.allowed_host_list()]


class SecurityHeaders:
    """Adds the console's security headers to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def build_console(data: ConsoleData, settings: Settings, tokens: AgentTokens | None = None) -> Starlette:
    """The console over ``data``; with ``tokens`` (default: the settings' tokens) it asks for one to log in."""
    if tokens is None and (settings.tokens or settings.tokens_file):
        tokens = shared_tokens(settings.tokens, settings.tokens_file)
    sessions = open_console_sessions(settings) if tokens is not None else None
    auth = ConsoleAuth(tokens, settings.port, sessions)
    pages = Pages(data, settings, auth, templates())
    routes = [
        Route("/", pages.search, name="search"),
        Route("/memories/{memory_id}", pages.memory, name="memory"),
        Route("/episodes", pages.episodes, name="episodes"),
        Route("/episodes/{episode_id}", pages.episode, name="episode"),
        Route("/episodes/{episode_id}/similar", pages.similar_episodes, name="similar_episodes"),
        Route("/failures", pages.failures, name="failures"),
        Route("/stats", pages.stats, name="stats"),
        Route("/login", pages.login, methods=["GET", "POST"], name="login"),
        Route("/logout", pages.logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings)),
        Middleware(RequireLogin, auth=auth),
    ]
    return Starlette(routes=routes, middleware=middleware)


def with_console(mcp_app: Any, console_app: Any) -> Any:
    """One ASGI app: ``/mcp`` (and its auth metadata) to the MCP server, every other path to the console."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or is_mcp_path(scope.get("path", "")):
            await mcp_app(scope, receive, send)
        else:
            await console_app(scope, receive, send)

    return app
