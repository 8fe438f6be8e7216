"""Start-up checks that turn a taken port, or an error raised while starting, into one sentence saying what to do."""

from __future__ import annotations

import errno
import socket

from mcp_memory.errors import CannotStart, MemoryStoreError, find_in


def listening_socket(host: str, port: int) -> socket.socket:
    """The bound HTTP socket, taken before anything else starts, so that a taken port is reported at once.

    The protocol is named (``IPPROTO_TCP``, not 0): asyncio sets TCP_NODELAY only on connections whose socket says
    TCP, and without it a response written in two parts waits out the client's delayed ACK (about 40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotStart(
                f"Port {port} on {host} is in use by another program. Stop that program, or choose another port "
                "with --port (MCP_MEMORY_PORT)."
            ) from exc
        raise CannotStart(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Choose another --host or --port "
            "(MCP_MEMORY_HOST, MCP_MEMORY_PORT)."
        ) from exc
    return sock


def store_error_in(exc: BaseException) -> MemoryStoreError | None:
    """Our error inside ``exc`` (itself, its cause, or one raised in a task group), if there is one."""
    found = find_in(exc, MemoryStoreError)
    return found if isinstance(found, MemoryStoreError) else None
