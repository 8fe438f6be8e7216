"""Limits that keep one agent or one client address from locking the others out of the HTTP server.

- ``SessionCap``: each agent (bearer token) holds at most so many open MCP sessions; the server's own table of
  sessions is shared by everyone, so without this one agent could fill it and leave the others with 503s.
- ``AuthFailureThrottle``: a client address whose requests keep failing authentication gets 429 with
  ``Retry-After`` for a while, so tokens cannot be guessed at thousands a second.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

SESSION_HEADER = b"mcp-session-id"
FAILURE_WINDOW_SECONDS = 60.0
MAX_TRACKED_ADDRESSES = 100_000


async def _answer(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


@dataclass
class _Session:
    last_seen: float
    in_flight: int = 0


class SessionCap:
    """ASGI middleware inside the MCP app's authentication: at most ``limit`` open sessions per agent.

    A session counts from the response that opened it (with its ``Mcp-Session-Id``) until the client deletes it,
    the server answers 404 for it, or it has been idle (no request in flight) for ``idle_seconds`` — the idle time
    after which the SDK closes it too. Requests without a token-named agent are not counted.
    """

    def __init__(self, app: ASGIApp, limit: int, idle_seconds: float | None, path: str = "/mcp") -> None:
        self.app = app
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.path = path
        self._open: dict[str, dict[str, _Session]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        agent = getattr(scope.get("user"), "display_name", None) if scope["type"] == "http" else None
        if not agent or scope["path"] != self.path or not getattr(scope.get("user"), "is_authenticated", False):
            await self.app(scope, receive, send)
            return
        sessions = self._open.setdefault(agent, {})
        session_id = _header(scope, SESSION_HEADER)
        if session_id is None:
            await self._open_session(agent, sessions, scope, receive, send)
        else:
            await self._use_session(sessions, session_id, scope, receive, send)

    async def _open_session(
        self, agent: str, sessions: dict[str, _Session], scope: Scope, receive: Any, send: Any
    ) -> None:
        self._forget_idle(sessions)
        if len(sessions) >= self.limit:
            message = (
                f"Agent '{agent}' already has {len(sessions)} open MCP sessions, the most one agent may hold "
                f"(MCP_MEMORY_MAX_SESSIONS_PER_AGENT={self.limit}). Reuse an open session, or end one with "
                "DELETE /mcp and its Mcp-Session-Id header."
            )
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
            await _answer(send, 429, body, [(b"retry-after", b"60")])
            return
        pending = f"pending:{id(scope)}"  # holds the slot while the opening request is served
        sessions[pending] = _Session(time.monotonic(), in_flight=1)
        opened: str | None = None

        async def watch(message: Message) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and message["status"] < 400:
                opened = next((v.decode("latin-1") for k, v in message.get("headers", []) if k == SESSION_HEADER), None)
                if opened:
                    sessions[opened] = _Session(time.monotonic(), in_flight=1)
                    # the session holds the slot now: the client may open the next one as soon as it has this
                    # answer, before this request's handler has returned
                    sessions.pop(pending, None)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            sessions.pop(pending, None)
            if opened and opened in sessions:
                sessions[opened].in_flight -= 1
                sessions[opened].last_seen = time.monotonic()

    async def _use_session(
        self, sessions: dict[str, _Session], session_id: str, scope: Scope, receive: Any, send: Any
    ) -> None:
        session = sessions.get(session_id)
        if session is None:  # not this agent's (the SDK answers 404), or opened before a restart
            await self.app(scope, receive, send)
            return
        session.in_flight += 1
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            session.in_flight -= 1
            session.last_seen = time.monotonic()
            if status == 404 or (scope["method"] == "DELETE" and 200 <= status < 300):
                sessions.pop(session_id, None)

    def _forget_idle(self, sessions: dict[str, _Session]) -> None:
        if self.idle_seconds is None:
            return
        cutoff = time.monotonic() - self.idle_seconds
        for session_id in [k for k, s in sessions.items() if s.in_flight == 0 and s.last_seen < cutoff]:
            del sessions[session_id]


class AuthFailureThrottle:
    """ASGI middleware: ``limit`` responses of 401 to one client address within a minute, then 429 for that
    address until its oldest failure leaves the window.

    The address is the connection's, or the one a trusted proxy forwarded (uvicorn believes ``X-Forwarded-For``
    only from ``MCP_MEMORY_TRUSTED_PROXIES``).
    """

    def __init__(self, app: ASGIApp, limit: int, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        now = time.monotonic()
        failures = self._failures.get(address)
        if failures is not None:
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) >= self.limit:
                wait = max(1, math.ceil(failures[0] + self.window - now))
                message = (
                    f"Too many requests with a wrong or missing token from {address}: {len(failures)} in the last "
                    f"{self.window:.0f} s (MCP_MEMORY_MAX_AUTH_FAILURES={self.limit}). Retry in {wait} s with a "
                    "valid token."
                )
                body = {"error": "too_many_failed_logins", "message": message}
                await _answer(send, 429, body, [(b"retry-after", str(wait).encode())])
                return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self._record(address, time.monotonic())
            await send(message)

        await self.app(scope, receive, watch)

    def _record(self, address: str, now: float) -> None:
        if address not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
            stale = [a for a, f in self._failures.items() if not f or f[-1] <= now - self.window]
            for old in stale or list(self._failures)[: MAX_TRACKED_ADDRESSES // 10]:
                del self._failures[old]
        self._failures.setdefault(address, deque()).append(now)
