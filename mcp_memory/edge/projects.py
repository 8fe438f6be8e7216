"""The caller's project, found where the client's session is.

In order: the tool's ``project`` argument; the project a forwarding process names for its client (the request's
``_meta``, see ``PROJECT_META_KEY``); the client's roots, asked with ``roots/list`` when the client declared the roots
capability — the first root's git ``origin`` repository name when it is a checkout with an origin, else its folder
name; ``MCP_MEMORY_PROJECT``; else global (``""``).

Roots are asked once per connection and kept for it (``ConnectionProjects``), until the client says they changed
(``notifications/roots/list_changed``). A 2026-07-28 connection has no back-channel and no session: the question
rides an ``InputRequiredResult`` and the client answers it with the retried call, on every call that needs it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types import InputRequiredResult, ListRootsRequest, ListRootsResult, Root
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from mcp_memory.errors import InvalidInput
from mcp_memory.memory.projects import require_project

logger = logging.getLogger(__name__)

PROJECT_META_KEY = "mcp-memory/project"  # a forwarding process names its client's project here
ROOTS_CHANGED = "notifications/roots/list_changed"
ROOTS_QUESTION = "mcp-memory/roots"  # the key of the roots question in an InputRequiredResult
ROOTS_TIMEOUT_SECONDS = 5.0


def project_of_roots(roots: Sequence[Root]) -> str | None:
    """The project the client works in: named after its first root that is a folder (``file://``)."""
    for root in roots:
        url = urlparse(str(root.uri))
        if url.scheme != "file":
            continue
        folder = unquote(url.path)
        name = project_of_folder(Path(folder)) or PurePosixPath(folder.rstrip("/")).name
        if name:
            return name[:200]
    return None


def project_of_folder(folder: Path) -> str | None:
    """The name of the repository a git checkout's ``origin`` points to; None when the folder is not a checkout
    with an origin here (a client on another machine names folders this one does not have)."""
    config = _git_config(folder)
    if config is None:
        return None
    try:
        text = config.read_text(errors="replace")
    except OSError:
        return None
    url = _origin_url(text)
    return repository_name(url) if url else None


def repository_name(url: str) -> str | None:
    """``git@github.com:acme/api.git``, ``https://github.com/acme/api``, ``/srv/git/api.git`` -> ``api``."""
    path = url.strip().rstrip("/")
    name = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    name = name.removesuffix(".git")
    return name or None


def _git_config(folder: Path) -> Path | None:
    """The config file of the checkout at ``folder``: ``.git/config``, or for a worktree or submodule (``.git`` is a
    file naming the git dir) the config of that git dir's common dir."""
    dot_git = folder / ".git"
    try:
        if dot_git.is_dir():
            return dot_git / "config"
        if not dot_git.is_file():
            return None
        line = dot_git.read_text(errors="replace").strip()
        if not line.startswith("gitdir:"):
            return None
        git_dir = Path(line.removeprefix("gitdir:").strip())
        git_dir = git_dir if git_dir.is_absolute() else folder / git_dir
        common = git_dir / "commondir"
        if common.is_file():
            shared = Path(common.read_text(errors="replace").strip())
            git_dir = shared if shared.is_absolute() else git_dir / shared
        return git_dir / "config"
    except OSError:
        return None


def _origin_url(config: str) -> str | None:
    """The ``url`` of ``[remote "origin"]`` in a git config file."""
    section = ""
    for raw in config.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = " ".join(line.strip("[]").split())
            continue
        key, _, value = line.partition("=")
        if section == 'remote "origin"' and key.strip().lower() == "url":
            return value.strip().strip('"') or None
    return None


class ConnectionProjects:
    """The project found for each open connection.

    A connection is known by its ``initialize`` parameters: the one object the session's public API
    (``client_params``) hands out unchanged for a connection's whole life (a 2026-07-28 request brings its own, so
    nothing outlives it). An entry goes when that object does, with its connection."""

    def __init__(self) -> None:
        self._known: dict[int, str] = {}

    def get(self, session: Any) -> str | None:
        params = getattr(session, "client_params", None)
        return None if params is None else self._known.get(id(params))

    def remember(self, session: Any, project: str) -> None:
        params = getattr(session, "client_params", None)
        if params is None:
            return
        key = id(params)
        if key not in self._known:
            weakref.finalize(params, self._known.pop, key, None)
        self._known[key] = project

    def forget(self, session: Any) -> None:
        params = getattr(session, "client_params", None)
        if params is not None:
            self._known.pop(id(params), None)


class ForgetOnRootsChanged:
    """Server middleware: after a client's ``notifications/roots/list_changed`` its project is found again."""

    def __init__(self, projects: CallerProjects) -> None:
        self.projects = projects

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if ctx.request_id is None and ctx.method == ROOTS_CHANGED:
            self.projects.forget(ctx.session)
        return await call_next(ctx)


def forwarded_project(meta: Mapping[str, Any] | None) -> str | None:
    """The project a forwarding process named for its client, if any."""
    value = (meta or {}).get(PROJECT_META_KEY)
    if not isinstance(value, str):
        return None
    try:
        return require_project(value, allow_every=False)
    except InvalidInput:
        return None


class CallerProjects:
    """Finds the project of the client behind a request (see the module docstring); ``default`` is
    MCP_MEMORY_PROJECT."""

    def __init__(self, default: str) -> None:
        self.default = default
        self.known = ConnectionProjects()

    async def of(
        self, session: Any, request_id: Any, meta: Mapping[str, Any] | None, input_responses: Mapping[str, Any] | None
    ) -> str | InputRequiredResult:
        """The caller's project, or the roots question to ask a 2026-07-28 client first."""
        named = forwarded_project(meta)
        if named is not None:
            return named
        known = self.known.get(session)
        if known is not None:
            return known
        capabilities = getattr(session, "client_capabilities", None)
        if capabilities is None or capabilities.roots is None:
            return self.default
        if getattr(session, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS:
            answer = (input_responses or {}).get(ROOTS_QUESTION)
            if answer is None:
                return InputRequiredResult(input_requests={ROOTS_QUESTION: ListRootsRequest()})
            roots = _roots_answer(answer)
        else:
            roots = await self._ask_roots(session, request_id)
        project = (project_of_roots(roots.roots) if roots is not None else None) or self.default
        self.known.remember(session, project)
        return project

    @staticmethod
    async def _ask_roots(session: Any, request_id: Any) -> ListRootsResult | None:
        """``roots/list`` on the request's own channel (an HTTP client that opened no stream of its own gets it)."""
        try:
            with anyio.fail_after(ROOTS_TIMEOUT_SECONDS):
                return await session.send_request(
                    ListRootsRequest(), ListRootsResult, metadata=ServerMessageMetadata(related_request_id=request_id)
                )
        except (MCPError, TimeoutError, ValidationError) as exc:
            logger.warning("the client declared roots but did not list them (%s); using the default project", exc)
            return None

    def forget(self, session: Any) -> None:
        """The client's roots changed: ask again on the next call that needs the project."""
        self.known.forget(session)


def _roots_answer(answer: Any) -> ListRootsResult | None:
    if isinstance(answer, ListRootsResult):
        return answer
    if hasattr(answer, "model_dump"):  # parsed as another kind of answer: read it again as roots
        answer = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        return ListRootsResult.model_validate(answer)
    except ValidationError:
        logger.warning("the client's answer to roots/list is not a list of roots; using the default project")
        return None
