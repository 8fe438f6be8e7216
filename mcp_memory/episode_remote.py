"""Episodes kept by another mcp-memory server, for servers on several machines that share one Chroma server.

Memories live in Chroma, which every server reaches; episodes live in SQLite in one server's data dir, because
their events need sequence numbers handed out atomically. With ``MCP_MEMORY_EPISODES_URL`` naming that server's
``/mcp`` endpoint, this server answers every episode tool by calling the same tool there, so all machines write
into one log and read the same replays, recalls and failure clusters. Errors come back with the episode
server's own text (which names the field and the problem).

Each call opens its own MCP session to the episode server (an initialize and the call: a few milliseconds on a
local network) and closes it, so nothing needs to be kept open or recovered after the episode server restarts.
A call takes at most ``CALL_SECONDS``; a write whose answer was lost says it may or may not have been recorded.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from mcp_memory.errors import MemoryStoreError, NotFound, Unavailable
from mcp_memory.models import (
    EpisodeEnded,
    EpisodeList,
    EpisodeReplay,
    EpisodeStarted,
    EpisodeStatus,
    EventRecorded,
    FailureAnalysis,
    SimilarEpisodes,
)

M = TypeVar("M", bound=BaseModel)
CONNECT_SECONDS = 5.0
CALL_SECONDS = 30.0  # the whole call, connection and initialize included: an agent never waits longer
WRITES = {"start_episode", "record_event", "end_episode"}
NOT_FOUND = re.compile(r"Episode '[^']*' not found")


class EpisodeServerRefused(MemoryStoreError):
    """The episode server answered the call with an error (its text is the message)."""


class RemoteEpisodes:
    """The episode calls of ``EpisodeService`` and ``FailureAnalyst``, answered by the episode server."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self._token = token

    async def start(self, task: str, context: dict[str, Any], agent_role: str | None) -> EpisodeStarted:
        return await self._call("start_episode", {"task": task, "context": context, "agent_role": agent_role},
                                EpisodeStarted)

    async def record(self, episode_id: str, event_type: str, agent_role: str, data: dict[str, Any]) -> EventRecorded:
        arguments = {"episode_id": episode_id, "event_type": event_type, "agent_role": agent_role, "data": data}
        return await self._call("record_event", arguments, EventRecorded)

    async def end(self, episode_id: str, success: bool, metrics: dict[str, Any], summary: str) -> EpisodeEnded:
        arguments = {"episode_id": episode_id, "success": success, "metrics": metrics, "summary": summary}
        return await self._call("end_episode", arguments, EpisodeEnded)

    async def get(self, episode_id: str, after_seq: int = 0, max_events: int = 1000) -> EpisodeReplay:
        arguments = {"episode_id": episode_id, "after_seq": after_seq, "max_events": max_events}
        return await self._call("get_episode", arguments, EpisodeReplay)

    async def list(self, status: EpisodeStatus | None, success: bool | None, limit: int) -> EpisodeList:
        return await self._call("list_episodes", {"status": status, "success": success, "limit": limit}, EpisodeList)

    async def recall_similar(self, task_description: str, n_results: int, success_only: bool) -> SimilarEpisodes:
        arguments = {"task_description": task_description, "n_results": n_results, "success_only": success_only}
        return await self._call("recall_similar_episodes", arguments, SimilarEpisodes)

    async def analyze(self, limit: int) -> FailureAnalysis:
        return await self._call("analyze_failures", {"limit": limit}, FailureAnalysis)

    async def _call(self, tool: str, arguments: dict[str, Any], model: type[M]) -> M:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        sent = False
        refusals: list[int] = []  # HTTP statuses >= 400 (the SDK reports them only as "an error response")

        async def note_refusal(response: Any) -> None:
            if response.status_code >= 400:
                refusals.append(response.status_code)

        try:
            with anyio.fail_after(CALL_SECONDS):
                timeout = httpx2.Timeout(CALL_SECONDS, connect=CONNECT_SECONDS)
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks={"response": [note_refusal]}) as http,
                    Client(streamable_http_client(self.url, http_client=http), read_timeout_seconds=CALL_SECONDS) as client,
                ):
                    sent = True
                    result = await client.call_tool(tool, arguments)
        except Exception as exc:  # any failure to reach it is the same thing to the agent, told precisely
            raise Unavailable(self._failure(tool, exc, sent, refusals)) from exc
        if result.is_error:
            text = " ".join(getattr(part, "text", "") for part in result.content).strip()
            if NOT_FOUND.match(text):
                raise NotFound(text)
            raise EpisodeServerRefused(text or f"The episode server refused {tool}.")
        try:
            return model.model_validate(result.structured_content)
        except ValidationError as exc:
            raise Unavailable(
                f"The episode server {self.url} answered {tool} with something else than episodes "
                f"({exc.error_count()} problems): is it an mcp-memory server of this version?"
            ) from exc

    def _failure(self, tool: str, exc: BaseException, sent: bool, refusals: list[int]) -> str:
        """What went wrong, in words an agent (and whoever runs the servers) can act on."""
        import httpx2

        cause = _root_cause(exc)
        status = cause.response.status_code if isinstance(cause, httpx2.HTTPStatusError) else None
        status = status or (refusals[-1] if refusals else None)
        if status in (401, 403):
            what = f"refused this server's token (HTTP {status}): check MCP_MEMORY_EPISODES_TOKEN"
        elif status is not None:
            what = f"answered HTTP {status}"
        elif isinstance(cause, TimeoutError | httpx2.TimeoutException):
            what = f"did not answer {tool} within {CALL_SECONDS:.0f} s"
        else:
            what = f"could not be reached ({type(cause).__name__}: {cause})"
        text = f"The episode server {self.url} (MCP_MEMORY_EPISODES_URL) {what}."
        if sent and tool in WRITES:
            return text + " The call may or may not have been recorded there: check with get_episode or list_episodes before repeating it."
        return text + " Nothing was recorded; memories still work."


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error under task-group wrappers and chained causes (the one that says what happened)."""
    current = exc
    while True:
        if isinstance(current, BaseExceptionGroup) and current.exceptions:
            current = current.exceptions[0]
        elif current.__cause__ is not None:
            current = current.__cause__
        else:
            return current
