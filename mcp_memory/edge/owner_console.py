"""The console of a process that does not own the store: every read is answered by the owner, over its socket.

The owner serves ``POST /console/data/{method}`` on its Unix socket beside the MCP endpoint other processes
forward to, with the same secret; the answer is the owner's ``LocalData`` result as JSON, so a page looks
the same from any process. When the owner goes away, the process's ``OwnerLink`` finds the next one — or
this process takes the store over, and from then on the console reads its own store.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_memory.app import MemoryApp
from mcp_memory.console.local import LocalData, local_data
from mcp_memory.console.models import EpisodeFilter, EpisodePage, MemoryDetail, MemoryTrends, StoreOverview
from mcp_memory.edge.ownership import StoreOwnership
from mcp_memory.edge.proxy import TAKEOVER_WAIT_SECONDS, OwnerLink
from mcp_memory.errors import InvalidInput, MemoryStoreError, NotFound, Unavailable
from mcp_memory.models import EpisodeReplay, FailureAnalysis, MemoryType, RecallResult, SimilarEpisodes

logger = logging.getLogger(__name__)

DATA_PATH = "/console/data/{method}"
RESULTS: dict[str, TypeAdapter[Any]] = {
    "search": TypeAdapter(RecallResult),
    "memory": TypeAdapter(MemoryDetail),
    "trends_now": TypeAdapter(MemoryTrends | None),
    "overview": TypeAdapter(StoreOverview),
    "episodes": TypeAdapter(EpisodePage),
    "episode": TypeAdapter(EpisodeReplay),
    "similar_episodes": TypeAdapter(SimilarEpisodes),
    "failures": TypeAdapter(FailureAnalysis),
}


def presents_secret(request: Request, secret: str) -> bool:
    """Whether a request to the owner's socket carries the owner's secret (``Bearer <secret>.<agent>``)."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").partition(".")[0]
    return hmac.compare_digest(token.encode(), secret.encode())


def owner_data_route(data: LocalData, secret: str) -> Route:
    """The owner's side: answers console reads of processes that present the owner's secret."""

    async def answer(request: Request) -> Response:
        if not presents_secret(request, secret):
            return JSONResponse({"kind": "unauthorized", "message": "Wrong or missing secret."}, status_code=401)
        method = request.path_params["method"]
        adapter = RESULTS.get(method)
        if adapter is None:
            return JSONResponse({"kind": "not_found", "message": f"No console read '{method}'."}, status_code=404)
        try:
            params = await request.json()
            result = await getattr(data, method)(**params)
        except NotFound as exc:
            return JSONResponse({"kind": "not_found", "message": str(exc)}, status_code=404)
        except InvalidInput as exc:
            body = {"kind": "invalid", "field": exc.field, "problem": exc.problem, "fix": exc.fix}
            return JSONResponse(body, status_code=400)
        except MemoryStoreError as exc:
            return JSONResponse({"kind": "unavailable", "message": str(exc)}, status_code=503)
        except (TypeError, ValueError) as exc:  # a request this version does not understand
            return JSONResponse({"kind": "invalid", "field": "request", "problem": str(exc), "fix": ""}, 400)
        return Response(adapter.dump_json(result), media_type="application/json")

    return Route(DATA_PATH, answer, methods=["POST"])


class _OwnerUnreachable(Exception):
    pass


class OwnerData:
    """``ConsoleData`` answered by the process that owns the store (or by this one after a takeover)."""

    def __init__(self, ownership: StoreOwnership, link: OwnerLink, owned_app: Callable[[], MemoryApp | None]) -> None:
        self.ownership = ownership
        self.link = link
        self._owned_app = owned_app

    async def _call(self, method: str, **params: Any) -> Any:
        deadline = time.monotonic() + TAKEOVER_WAIT_SECONDS
        while True:
            app = self._owned_app()
            if app is not None:  # this process took the store over
                return await getattr(local_data(app), method)(**params)
            try:
                return await self._ask_owner(method, params)
            except _OwnerUnreachable as exc:
                if time.monotonic() > deadline:
                    raise Unavailable(f"No server answers for the store in {self.ownership.data_dir}: {exc}") from exc
                logger.info("the store's owner did not answer a console read (%s); finding the owner", exc)
                # The link waits for a live owner, taking the store over when it is free.
                await self.link.forward(lambda client: client.list_tools())

    async def _ask_owner(self, method: str, params: dict[str, Any]) -> Any:
        import httpx2

        try:
            info = self.ownership.owner_info()
        except Unavailable as exc:
            raise _OwnerUnreachable(str(exc)) from exc
        transport = httpx2.AsyncHTTPTransport(uds=str(info.socket_path))
        try:
            async with httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(30.0, read=300.0)) as client:
                response = await client.post(
                    "http://localhost" + DATA_PATH.format(method=method),
                    content=json.dumps(params),
                    headers={"Authorization": f"Bearer {info.secret}", "Content-Type": "application/json"},
                )
        except httpx2.TransportError as exc:
            raise _OwnerUnreachable(repr(exc)) from exc
        if response.status_code == 401:  # a new owner with a new secret since owner.json was read
            raise _OwnerUnreachable("the owner changed")
        if response.status_code != 200:
            raise _error(response)
        try:
            return RESULTS[method].validate_json(response.content)
        except ValidationError as exc:
            raise Unavailable(f"The store's owner answered {method} with something unexpected: {exc}") from exc

    async def search(
        self,
        query: str,
        types: list[MemoryType],
        language: str | None,
        agent: str | None,
        n_results: int,
        project: str | None = None,
    ) -> RecallResult:
        asked = {"query": query, "types": types, "language": language, "agent": agent, "n_results": n_results}
        return await self._call("search", **asked, **({"project": project} if project is not None else {}))

    async def memory(self, memory_id: str) -> MemoryDetail:
        return await self._call("memory", memory_id=memory_id)

    async def trends_now(self) -> MemoryTrends | None:
        return await self._call("trends_now")

    async def overview(self) -> StoreOverview:
        return await self._call("overview")

    async def episodes(
        self,
        outcome: EpisodeFilter | None,
        role: str | None,
        text: str | None,
        offset: int,
        limit: int,
        project: str | None = None,
    ) -> EpisodePage:
        asked = {"outcome": outcome, "role": role, "text": text, "offset": offset, "limit": limit}
        return await self._call("episodes", **asked, **({"project": project} if project is not None else {}))

    async def episode(self, episode_id: str, after_seq: int, limit: int) -> EpisodeReplay:
        return await self._call("episode", episode_id=episode_id, after_seq=after_seq, limit=limit)

    async def similar_episodes(self, episode_id: str, n_results: int) -> SimilarEpisodes:
        return await self._call("similar_episodes", episode_id=episode_id, n_results=n_results)

    async def failures(self, limit: int) -> FailureAnalysis:
        return await self._call("failures", limit=limit)


def _error(response: Any) -> MemoryStoreError:
    """The owner's answer to a read that failed, as the exception the owner raised."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = str(body.get("message") or f"The store's owner answered HTTP {response.status_code}.")
    if body.get("kind") == "not_found":
        return NotFound(message)
    if body.get("kind") == "invalid":
        return InvalidInput(str(body.get("field", "")), str(body.get("problem", "")), str(body.get("fix", "")))
    return Unavailable(message)
