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
from anyio.streams.memory import MemoryObjectReceiveStream
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


@asynccontextmanager
async def answering_stdio() -> AsyncIterator[tuple[MemoryObjectReceiveStream[Any], Any]]:
    """``stdio_server()``'s streams, with unreadable lines answered on the write stream and kept from the server."""
    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(unreadable_line_error(item)))
                    else:
                        await send.send(item)

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(relay)
            try:
                yield receive, write_stream
            finally:
                task_group.cancel_scope.cancel()


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
