"""The caller's project, found where the client's session is.

In order: the tool's ``project`` argument; the project a forwarding process names for its client (the request's
``_meta``, see ``PROJECT_META_KEY``); the client's roots, asked with ``roots/list`` when the client declared the roots
capability — the first root's git ``origin`` repository name when it is a checkout with an origin, else its folder
name; ``MCP_MEMORY_PROJECT``; else global (``""``).

Roots are asked once per connection and kept in the connection's state, until the client says they changed
(``notifications/roots/list_changed``). A 2026-07-28 connection has no back-channel and no session: the question
rides an ``InputRequiredResult`` and the client answers it with the retried call, on every call that needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
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
ROOTS_QUESTION = "mcp-memory/roots"  # the key of the roots question in an InputRequiredResult
STATE_KEY = "mcp-memory/project"  # where a connection's project is kept
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


def connection_state(session: Any) -> dict[str, Any] | None:
    """The state the SDK keeps per client connection (it outlives requests; a 2026-07-28 request has its own)."""
    # The session is made per request; its connection is what a client holds, and the SDK offers its ``state`` as
    # the per-connection scratch space. The session names it only privately.
    connection = getattr(session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else None


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

    async def of(
        self, session: Any, request_id: Any, meta: Mapping[str, Any] | None, input_responses: Mapping[str, Any] | None
    ) -> str | InputRequiredResult:
        """The caller's project, or the roots question to ask a 2026-07-28 client first."""
        named = forwarded_project(meta)
        if named is not None:
            return named
        state = connection_state(session)
        known = state.get(STATE_KEY) if state is not None else None
        if isinstance(known, str):
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
        if state is not None:
            state[STATE_KEY] = project
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

    @staticmethod
    def forget(session: Any) -> None:
        """The client's roots changed: ask again on the next call that needs the project."""
        state = connection_state(session)
        if state is not None:
            state.pop(STATE_KEY, None)


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
