"""The MCP server: its identity, who may call it, and the tool groups of ``mcp_memory.edge.tools`` registered on it."""

import hmac
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import Icon, ToolAnnotations
from pydantic import AnyHttpUrl, ValidationError

from mcp_memory import __version__
from mcp_memory.access.hosts import is_loopback
from mcp_memory.access.tokens import AgentTokens, RateLimiter, shared_tokens
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.projects import CallerProjects, ForgetOnRootsChanged
from mcp_memory.edge.tools import episode_tools, knowledge_tools, learning_tools, link_tools, memory_tools
from mcp_memory.edge.tools.context import AskClient, ToolContext, current_agent, current_identity, serving
from mcp_memory.memory.validation import argument_problems

__all__ = [
    "INSTRUCTIONS",
    "CallsInFlight",
    "build_server",
    "current_agent",
    "current_identity",
    "explain_unauthorized",
    "http_security",
    "rate_limiter",
    "user_auth",
]

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
A shared, persistent memory for coding agents. Before a task: recall_similar_patterns, recall_solutions and
recall_error_solutions (or search_memory across everything). After a task: store what worked
(store_code_pattern, store_solution) and every error you fixed or failed to fix (store_error_resolution).
Storing the same thing twice is safe: it counts the reuse instead of duplicating. Seeded knowledge is
readable at memory://knowledge. Memories belong to projects: by default you store into and recall from your
own project (found from your workspace) plus the global memories; pass project="*" to search every project."""


class AfterToolsListed:
    """Server middleware: calls ``then`` once a ``tools/list`` is answered (the end of a client's handshake)."""

    def __init__(self, then: Callable[[], None]) -> None:
        self.then = then

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        result = await call_next(ctx)
        if ctx.method == "tools/list":
            self.then()
        return result


QUIET_SECONDS = 0.1  # no tool call answered for this long: a quiet moment


class CallsInFlight:
    """How many tool calls are being answered, so that work a server can put off waits for a quiet moment."""

    def __init__(self) -> None:
        self.count = 0
        self._quiet: anyio.Event | None = None  # made by a first call (an event needs the running loop)

    @contextmanager
    def answering(self) -> Iterator[None]:
        if self.count == 0:
            self._quiet = anyio.Event()
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0 and self._quiet is not None:
                self._quiet.set()

    async def settled(self, app: MemoryApp, limit: float) -> None:
        """Until the app's warm-up has ended and no tool call has been answered for ``QUIET_SECONDS`` (the first
        recall, which waits for the warm-up, most of all), at most ``limit`` seconds."""
        with anyio.move_on_after(limit):
            if app.warmup is not None:
                await anyio.to_thread.run_sync(app.warmup.join, limit, abandon_on_cancel=True)
            while self._quiet is not None:
                await self._quiet.wait()
                await anyio.sleep(QUIET_SECONDS)  # the answer just made is written out first
                if self.count == 0:
                    return


class MemoryServer(MCPServer):
    """The SDK's server, with arguments that break a tool's schema reported like the tools' own checks
    (``Invalid 'field': problem. Example: ...`` instead of pydantic's text), tidy tool descriptions, and every
    request's context at hand for finding the caller's project (``ToolContext.project``)."""

    def __init__(
        self,
        *args: Any,
        projects: CallerProjects | None = None,
        on_tools_listed: Callable[[], None] | None = None,
        calls: CallsInFlight | None = None,
        **kwargs: Any,
    ) -> None:
        self.projects = projects or CallerProjects("")
        middleware: list[Any] = [ForgetOnRootsChanged(self.projects)]
        if on_tools_listed is not None:
            middleware.append(AfterToolsListed(on_tools_listed))
        self.calls = calls or CallsInFlight()
        super().__init__(*args, middleware=middleware, **kwargs)

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        """Tools described by their docstrings, without the docstring's indentation."""
        super().add_tool(
            fn,
            name=name,
            title=title,
            description=description or inspect.cleandoc(fn.__doc__ or "") or None,
            annotations=annotations,
            icons=icons,
            meta=meta,
            structured_output=structured_output,
        )

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        try:
            with serving(context):
                return await super().get_prompt(name, arguments, context)
        except AskClient as ask:
            return ask.question

    async def read_resource(self, uri: Any, context: Any = None) -> Any:
        try:
            with serving(context):
                return await super().read_resource(uri, context)
        except AskClient as ask:
            return ask.question

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        try:
            with serving(context), self.calls.answering():
                return await super().call_tool(name, arguments, context)
        except AskClient as ask:
            return ask.question
        except ToolError as exc:
            tool = self._tool_manager.get_tool(name)
            if not isinstance(exc.__cause__, ValidationError) or tool is None:
                raise
            problems = argument_problems(exc.__cause__, tool.parameters)
            raise ToolError(f"Error executing tool {name}: {problems}") from exc.__cause__


class AgentTokenVerifier:
    """Bearer tokens that name agents (MCP_MEMORY_TOKENS / MCP_MEMORY_TOKENS_FILE)."""

    def __init__(self, tokens: AgentTokens) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        found = self.tokens.identity_for(token)
        return AccessToken(token=token, client_id=found[0], scopes=[found[1]]) if found else None


class ForwardedAgentVerifier:
    """Tokens ``<secret>.<agent>`` from server processes that forward to the store's owner."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def verify_token(self, token: str) -> AccessToken | None:
        secret, _, caller = token.partition(".")
        if not hmac.compare_digest(secret.encode(), self.secret.encode()):
            return None
        agent, _, role = caller.partition(":")  # an agent name never holds ':' (see auth.parse_tokens)
        return AccessToken(token=token, client_id=agent, scopes=[role] if role else [])


def _auth_settings(settings: Settings) -> AuthSettings:
    """Bearer tokens, and no OAuth: no protected-resource metadata, so clients are not sent to a login that
    does not exist (the SDK wants an issuer URL all the same; nothing serves it)."""
    base_url = f"http://{settings.host}:{settings.port}"
    return AuthSettings(issuer_url=AnyHttpUrl(base_url), resource_server_url=None, validate_token_resource=False)


BEARER_HINT = (
    "Send the header 'Authorization: Bearer <token>' with a token from MCP_MEMORY_TOKENS or MCP_MEMORY_TOKENS_FILE."
)


def explain_unauthorized(app: Any) -> Any:
    """The ASGI ``app`` with its 401 answers saying how to authenticate: a bearer token, in the header and the body."""
    import json

    body = json.dumps({"error": "invalid_token", "error_description": f"Authentication required. {BEARER_HINT}"})
    challenge = f'Bearer realm="mcp-memory", error="invalid_token", error_description="{BEARER_HINT}"'

    async def explained(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        replaced = False

        async def send_explained(message: dict[str, Any]) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 401:
                replaced = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"www-authenticate", b"content-length", b"content-type")
                ]
                headers += [
                    (b"www-authenticate", challenge.encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({**message, "headers": headers})
            elif message["type"] == "http.response.body" and replaced:
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": body.encode()})
            else:
                await send(message)

        await app(scope, receive, send_explained)

    return explained


def user_auth(settings: Settings) -> dict[str, Any]:
    """Bearer-token auth for agents when tokens are configured (keyword arguments for the SDK)."""
    tokens = shared_tokens(settings.tokens, settings.tokens_file)
    if not tokens.configured:
        return {}
    return {"token_verifier": AgentTokenVerifier(tokens), "auth": _auth_settings(settings)}


def forwarded_auth(secret: str) -> dict[str, Any]:
    verifier = ForwardedAgentVerifier(secret)
    return {"token_verifier": verifier, "auth": _auth_settings(Settings(host="localhost", port=0))}


def build_server(
    app: MemoryApp,
    *,
    forwarded_secret: str | None = None,
    limiter: RateLimiter | None = None,
    calls: CallsInFlight | None = None,
) -> MCPServer:
    """The MCP server over ``app``; nothing heavy happens until the first tool call or ``app.start_*``.

    With ``forwarded_secret`` it is the owner's socket server: callers are other server processes that
    present the secret and the name of the agent they forward for. Servers of one process that share
    ``limiter`` give each agent one rate limit across them.
    """
    settings = app.settings

    @asynccontextmanager
    async def warm_up(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # Runs once the transport is up (stdout already claimed in stdio mode): load while the client lists tools.
        app.start_in_background()
        yield {}

    auth_options = forwarded_auth(forwarded_secret) if forwarded_secret else user_auth(settings)
    projects = CallerProjects(settings.project)
    mcp = MemoryServer(
        "mcp-memory",
        projects=projects,
        on_tools_listed=app.handshake_done,
        calls=calls,
        lifespan=warm_up,
        **auth_options,
        title="mcp-memory",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
    )
    context = ToolContext(app, limiter or rate_limiter(settings), projects)
    for group in (memory_tools, knowledge_tools, link_tools, episode_tools, learning_tools):
        group.register(mcp, context)
    return mcp


def rate_limiter(settings: Settings) -> RateLimiter:
    """The per-agent limit of MCP_MEMORY_RATE_LIMIT_PER_SECOND and MCP_MEMORY_RATE_LIMIT_BURST."""
    return RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


def http_security(settings: Settings) -> Any:
    """DNS-rebinding protection: the SDK's loopback defaults, or the bound host plus allowed extra names."""
    from mcp.server.transport_security import TransportSecuritySettings

    if is_loopback(settings.host):
        return None
    hosts = [settings.host, "localhost", "127.0.0.1", *settings.allowed_host_list()]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{h}:*" for h in hosts] + hosts,
        allowed_origins=[f"http://{h}:*" for h in hosts] + [f"https://{h}:*" for h in hosts],
    )
