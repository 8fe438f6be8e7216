"""Consolidation asked of the process that owns the store: ``mcp-memory consolidate`` on a data dir a server owns
posts here over the owner's socket (with the owner's secret), and the owner runs it on its own store."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_memory.app import MemoryApp
from mcp_memory.edge.owner_console import presents_secret
from mcp_memory.errors import InvalidInput, MemoryStoreError

CONSOLIDATE_PATH = "/owner/consolidate"


def owner_consolidate_route(app: MemoryApp, secret: str) -> Route:
    async def consolidate(request: Request) -> Response:
        if not presents_secret(request, secret):
            return JSONResponse({"kind": "unauthorized", "message": "Wrong or missing secret."}, status_code=401)
        try:
            params: dict[str, Any] = await request.json()
            await app.ready()
            report = await app.consolidator.run(bool(params.get("dry_run")), params.get("project"))
        except InvalidInput as exc:
            return JSONResponse({"kind": "invalid", "message": str(exc)}, status_code=400)
        except MemoryStoreError as exc:
            return JSONResponse({"kind": "unavailable", "message": str(exc)}, status_code=503)
        except ValueError as exc:  # not JSON
            return JSONResponse({"kind": "invalid", "message": str(exc)}, status_code=400)
        return Response(report.model_dump_json(), media_type="application/json")

    return Route(CONSOLIDATE_PATH, consolidate, methods=["POST"])
