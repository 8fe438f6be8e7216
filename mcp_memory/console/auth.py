"""Who may read the console: the HTTP server's bearer tokens, typed once on a login page or sent by scripts.

With tokens configured (``MCP_MEMORY_TOKENS`` / ``MCP_MEMORY_TOKENS_FILE``), a browser logs in with one of
them and gets a session cookie: an opaque random id (the token itself never goes into the cookie), HttpOnly,
SameSite=Strict, Secure when served over https. Every request checks the session's token again, so removing
a token from the tokens file ends its sessions too. Sessions outlive a restart and are known to every server
sharing the database: they are kept in its ``console_sessions`` table (``storage/console_sessions.py``) as SHA-256
hashes of session ids and tokens, not the ids or tokens themselves. Scripts send ``Authorization: Bearer <token>``
instead.
Without a valid session or token only the login page and static files are served: pages redirect to it,
requests for JSON get 401. Without tokens configured the console is open, like ``/mcp``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol
from urllib.parse import quote

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mcp_memory.access.tokens import AgentTokens, RateLimiter

SESSION_SECONDS = 7 * 86_400
PUBLIC_PREFIXES = ("/login", "/static/")
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class SessionStore(Protocol):
    """Where login sessions are kept (the memory's database): by digest, never the session or token itself."""

    def add(self, session_hash: str, token_hash: str, now: float, expires_at: float) -> None: ...

    def find(self, session_hash: str) -> tuple[str, float] | None: ...

    def remove(self, session_hash: str) -> None: ...


class ConsoleAuth:
    """Tokens, login sessions and the cookie that names one."""

    def __init__(self, tokens: AgentTokens | None, port: int, sessions: SessionStore | None = None) -> None:
        self.tokens = tokens if tokens is not None and tokens.configured else None
        self.cookie_name = f"mcp_memory_console_{port}"  # browsers share cookies across ports of one host
        self._sessions = sessions
        self._login_attempts = RateLimiter(per_second=1.0, burst=10)

    @property
    def required(self) -> bool:
        return self.tokens is not None

    def agent_for_token(self, token: str) -> str | None:
        return self.tokens.agent_for(token) if self.tokens is not None and token else None

    def check_login_rate(self, client: str) -> None:
        """Raises RateLimited when one client guesses tokens faster than a person types them."""
        self._login_attempts.check(f"login:{client}")

    def start_session(self, token: str) -> str:
        if self._sessions is None:
            raise RuntimeError("the console has no session store (tokens are not configured)")
        session = secrets.token_urlsafe(32)
        now = time.time()
        self._sessions.add(_digest(session), _digest(token), now, now + SESSION_SECONDS)
        return session

    def end_session(self, session: str) -> None:
        if self._sessions is not None:
            self._sessions.remove(_digest(session))

    def agent_for_request(self, request: Request) -> str | None:
        """The agent named by the request's bearer token, or by the token its session cookie stands for."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.agent_for_token(header[7:].strip())
        session = request.cookies.get(self.cookie_name)
        if not session or self.tokens is None or self._sessions is None:
            return None
        found = self._sessions.find(_digest(session))
        if found is None:
            return None
        token_digest, expires = found
        if expires < time.time():
            self.end_session(session)
            return None
        return self.tokens.agent_for_digest(token_digest)

    def set_cookie(self, response: Response, request: Request, session: str) -> None:
        response.set_cookie(
            self.cookie_name,
            session,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear_cookie(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            self.cookie_name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def wants_json(request: Request) -> bool:
    """A script rather than a browser page: a bearer header, ``?format=json`` or an Accept of JSON."""
    if request.headers.get("authorization") or request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def safe_next(target: str | None) -> str:
    """A path on this site to go to (never another site): one ``/``, then anything but a second ``/`` or ``\\``.

    Browsers drop tabs and newlines from a URL and read ``\\`` as ``/``, so ``/<TAB>/evil.com`` would be
    ``//evil.com``; control characters are refused outright.
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def same_origin(request: Request) -> bool:
    """A form post from one of our own pages (browsers send Origin on POST)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


class RequireLogin:
    """ASGI middleware: pages need a logged-in session or a bearer token once tokens are configured."""

    def __init__(self, app: ASGIApp, auth: ConsoleAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        agent = self.auth.agent_for_request(request) if self.auth.required else None
        scope.setdefault("state", {})["agent"] = agent
        if not self.auth.required or agent is not None or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        await self._refuse(request)(scope, receive, send)

    def _refuse(self, request: Request) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": "unauthorized", "message": "Send Authorization: Bearer <token>, or log in at /login."},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="mcp-memory console"'},
            )
        target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if request.method == "GET" and request.headers.get("sec-fetch-site") == "cross-site":
            # A link followed from another site arrives without the SameSite=Strict cookie; opening the same
            # address again from this site sends it (and a browser that is not logged in gets the login page).
            return HTMLResponse(_BOUNCE.format(target=escape(target)), headers={"Cache-Control": "no-store"})
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


_BOUNCE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={target}"><title>mcp-memory</title></head>
<body><p><a href="{target}">Continue to mcp-memory</a></p></body></html>"""
