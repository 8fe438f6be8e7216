"""What every tool shares: the app, the rate limit, the caller's project, argument checks, annotations and error
translation."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, InputRequiredResult, ToolAnnotations

from mcp_memory.access.tokens import DEFAULT_ROLE, RateLimiter
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.projects import CallerProjects
from mcp_memory.edge.tool_inputs import KnownKeys
from mcp_memory.errors import Forbidden, MemoryStoreError, NotFound
from mcp_memory.memory.projects import require_project
from mcp_memory.memory.records import LOCAL_AGENT, MemoryDraft, voter_of
from mcp_memory.memory.validation import require_json_object, require_text

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
# Each call adds a record (an event, an outcome): not idempotent.
APPENDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


_REQUEST: ContextVar[Context[Any, Any] | None] = ContextVar("mcp_memory_request", default=None)


@contextmanager
def serving(request: Context[Any, Any] | None) -> Iterator[None]:
    """Make ``request`` the one a tool, prompt or resource asks about its caller's project."""
    reset = _REQUEST.set(request)
    try:
        yield
    finally:
        _REQUEST.reset(reset)


class AskClient(MCPError):
    """The client must answer a question before the call can go on (a 2026-07-28 connection has no back-channel):
    the call returns ``question``, and the client retries it with the answer."""

    def __init__(self, question: InputRequiredResult) -> None:
        super().__init__(INTERNAL_ERROR, "The client's roots are needed first.")
        self.question = question


def current_agent() -> str | None:
    """The agent named by the bearer token of the current HTTP request, if any."""
    token = get_access_token()
    return (token.client_id or None) if token else None


def current_role() -> str:
    """The role of the current request's token: ``admin`` without a token (the local user), else its role."""
    token = get_access_token()
    if token is None or not token.client_id:
        return "admin"
    return token.scopes[0] if token.scopes else DEFAULT_ROLE


def current_identity() -> str | None:
    """``agent:role`` of the current request, as a forwarding process passes it on to the owner."""
    agent = current_agent()
    return f"{agent}:{current_role()}" if agent else None


@contextmanager
def tool_errors() -> Iterator[None]:
    """Our expected failures become tool errors whose text the agent reads."""
    try:
        yield
    except MemoryStoreError as exc:
        raise ToolError(str(exc)) from exc


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except MemoryStoreError as exc:
        raise ResourceError(str(exc)) from exc


@dataclass(frozen=True)
class Caller:
    """Who calls: ``agent`` from the token (``local`` without tokens), never from arguments; ``role`` is the
    ``agent_role`` it claims, kept as a label."""

    agent: str
    role: str | None
    permission: str = DEFAULT_ROLE  # reader, writer or admin: the token's role (admin without tokens)

    @property
    def admin(self) -> bool:
        """May delete others' memories, list and restore deleted ones."""
        return self.permission == "admin"

    def require_admin(self, action: str) -> None:
        if not self.admin:
            raise Forbidden(f"Only an admin may {action}; agent '{self.agent}' is not one.")

    def require_writer(self) -> None:
        if self.permission == "reader":
            raise Forbidden(
                f"Agent '{self.agent}' is a reader: it may recall and read, not write. Ask for a writer token."
            )

    @property
    def voter(self) -> str:
        return voter_of(self.agent, self.role)

    def stamped(self, draft: MemoryDraft, project: str = "") -> MemoryDraft:
        """The draft with this caller's provenance, whatever it said before, in ``project``."""
        draft.agent, draft.agent_role, draft.project = self.agent, self.role, project
        return draft


@dataclass
class ToolContext:
    """The app the tools call and the per-agent rate limit they share."""

    app: MemoryApp
    limiter: RateLimiter
    projects: CallerProjects | None = None  # MCP_MEMORY_PROJECT's when not given

    def __post_init__(self) -> None:
        if self.projects is None:
            self.projects = CallerProjects(self.settings.project)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    async def project(self, given: str | None, *, stores: bool = False) -> str:
        """The project a call reads (``"*"``: every one) or, with ``stores``, writes: ``given``, else the caller's
        (its client's roots, else MCP_MEMORY_PROJECT, else global; see ``edge.projects``)."""
        if given is not None:
            return require_project(given, allow_every=not stores) or ""
        request = _REQUEST.get()
        try:
            context = request.request_context if request is not None else None
        except ValueError:  # a call made in-process, outside any request
            context = None
        if request is None or context is None:
            return self.settings.project
        assert self.projects is not None
        found = await self.projects.of(context.session, context.request_id, context.meta, request.input_responses)
        if isinstance(found, InputRequiredResult):
            raise AskClient(found)
        return found

    @property
    def max_results(self) -> int:
        return self.app.settings.max_results

    def check_rate(self) -> None:
        """Rate-limit agents named by a token (a self-declared ``agent_role`` is not throttled, as anonymous local
        use is not)."""
        agent = current_agent()
        if agent:
            self.limiter.check(agent)

    def admit(self, writes: bool = False) -> None:
        """Say why the server could not start, else rate-limit the caller (and, for ``writes``, refuse a reader).
        For the episode tools, which never wait for the model (episodes are database rows), so they do not wait
        for a start either."""
        self.app.check_started()
        self.check_rate()
        if writes:
            self.caller().require_writer()

    async def begin(self, agent_role: str | None = None, writes: bool = False) -> Caller:
        """Rate-limit the caller, wait until the store is ready, and say who is calling (for ``writes``, refuse a
        reader before anything is done)."""
        self.check_rate()
        caller = self.caller(agent_role)
        if writes:
            caller.require_writer()
        await self.app.ready()
        return caller

    @staticmethod
    def caller(agent_role: str | None = None) -> Caller:
        return Caller(current_agent() or LOCAL_AGENT, agent_role or None, current_role())

    def text(self, field: str, value: str) -> str:
        return require_text(field, value, self.settings.max_text_chars)

    def optional_text(self, field: str, value: str) -> str:
        return require_text(field, value, self.settings.max_text_chars, allow_empty=True)

    def json_object(self, field: str, value: dict[str, Any] | KnownKeys) -> dict[str, Any]:
        plain = value.as_dict() if isinstance(value, KnownKeys) else value
        return require_json_object(field, plain, self.settings.max_text_chars)
