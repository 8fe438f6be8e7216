"""Start-up checks that turn a bad data dir or a taken port into one sentence saying what to do."""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path

from mcp_memory.errors import CannotStart, MemoryStoreError, find_in
from mcp_memory.ownership import private_dir

ELSEWHERE = "choose another data dir with --data-dir (MCP_MEMORY_DATA_DIR)"


def check_data_dir(path: Path) -> None:
    """Create the data dir if needed (readable by this user only) and prove this process can write in it."""
    if path.exists() and not path.is_dir():
        raise CannotStart(f"The data dir {path} is a file, not a folder. Move the file away, or {ELSEWHERE}.")
    try:
        private_dir(path)
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except NotADirectoryError as exc:
        raise CannotStart(f"The data dir {path} cannot be created: part of its path is a file. Fix the path, or {ELSEWHERE}.") from exc
    except OSError as exc:
        raise CannotStart(
            f"The data dir {path} is not writable by this user ({exc.strerror}). Fix its permissions, or {ELSEWHERE}."
        ) from exc


def listening_socket(host: str, port: int) -> socket.socket:
    """The bound HTTP socket, taken before anything else starts, so that a taken port is reported at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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
