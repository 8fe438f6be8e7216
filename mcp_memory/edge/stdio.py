"""The stdio transport, answering lines it cannot read instead of dropping them.

The SDK's stdio transport passes a line that is not JSON, or not a JSON-RPC message, to the server as an
exception, which logs it; the client gets no answer and waits for ever on a request it believes was sent. Over
HTTP the same line gets a 400. Here it gets the JSON-RPC answer: ``-32700`` (parse error, id null) for a line
that is not JSON, ``-32600`` (invalid request, with the request's id when it is a request with a usable one) for
JSON that is not a message.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp.server import MCPServer, Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

MAX_SHOWN_CHARS = 200


def unreadable_line_error(problem: Exception) -> types.JSONRPCError:
    """The JSON-RPC error answering a line the transport could not read as a message."""
    if isinstance(problem, ValidationError):
        errors = problem.errors()
        if any(error["type"] == "json_invalid" for error in errors):
            return _error(None, types.PARSE_ERROR, f"Parse error: the line is not JSON ({errors[0]['msg']}).")
        message = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), None)
        # A malformed *response* carries the id of a request of the server's own: not answered with that id.
        is_response = (
            isinstance(message, dict) and "method" not in message and ("result" in message or "error" in message)
        )
        request_id = message.get("id") if isinstance(message, dict) and not is_response else None
        if isinstance(request_id, bool) or not isinstance(request_id, int | str):
            request_id = None
        problems = "; ".join(
            dict.fromkeys(
                f"{'.'.join(str(part) for part in error['loc'][1:]) or 'the message'}: {error['msg']}"
                for error in errors
            )
        )
        return _error(request_id, types.INVALID_REQUEST, f"Invalid request: not a JSON-RPC message ({problems}).")
    return _error(None, types.PARSE_ERROR, f"Parse error: {str(problem)[:MAX_SHOWN_CHARS]}")


def _error(request_id: Any, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(
        jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message[: MAX_SHOWN_CHARS * 2])
    )


class _Answering:
    """The transport's read stream, answering the lines it could not read on the write stream as it meets them.

    It filters inside ``receive`` rather than in a relay task, so a request reaches the server with no extra task
    switch on its way."""

    def __init__(self, read_stream: Any, write_stream: Any) -> None:
        self._read = read_stream
        self._write = write_stream

    async def receive(self) -> SessionMessage:
        while True:
            item = await self._read.receive()
            if not isinstance(item, Exception):
                return item
            await self._write.send(SessionMessage(unreadable_line_error(item)))

    async def aclose(self) -> None:
        await self._read.aclose()

    def __aiter__(self) -> "_Answering":
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> "_Answering":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@asynccontextmanager
async def answering_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """``stdio_server()``'s streams, with unreadable lines answered on the write stream and kept from the server."""
    async with stdio_server() as (read_stream, write_stream):
        yield _Answering(read_stream, write_stream), write_stream


async def serve_stdio(front: MCPServer | Server) -> None:
    """Serve ``front`` over stdin and stdout through ``answering_stdio``.

    A low-level ``Server`` runs on any streams. An ``MCPServer`` runs its low-level server the same way in
    ``run_stdio_async``, on the SDK's plain streams; the SDK offers no public way to hand it others and names that
    server only privately (its own in-memory client reaches it likewise). Should a release rename it, the SDK's
    stdio serves: everything works but an unreadable line goes unanswered."""
    lowlevel = getattr(front, "_lowlevel_server", None) if isinstance(front, MCPServer) else front
    if not isinstance(lowlevel, Server):
        await front.run_stdio_async()  # type: ignore[union-attr]
        return
    async with answering_stdio() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
