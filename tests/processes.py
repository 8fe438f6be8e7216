"""Server processes for the swarm tests: spawned on loopback, waited for, and always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.helpers import free_port, server_env

START_TIMEOUT = 90.0


class ServerProcess:
    """One ``mcp-memory serve`` subprocess; its stderr goes to a file so a full pipe never blocks it."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int | None = None,
        limit_files: int | None = None,
    ) -> None:
        self.log_path = log_path
        self.port = port
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_memory", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if limit_files:  # set at once, long before the interpreter has started up and listens
            import resource

            resource.prlimit(self.process.pid, resource.RLIMIT_NOFILE, (limit_files, limit_files))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_listening(self, timeout: float = START_TIMEOUT) -> None:
        """Until the HTTP port accepts connections; fails early (with the log) if the process exits."""
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not listen within {timeout:.0f} s:\n{self.log()}") from None
                time.sleep(0.1)

    def kill_hard(self) -> None:
        """``kill -9``: no clean-up of any kind runs in the server."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=30)
            return self.process.returncode
        finally:
            self._log.close()


def serve_env(**extra: str) -> dict[str, str]:
    """The environment of a spawned server: offline, no seeding (fast), no scheduled consolidation (a test's memories
    change only as the test says), no inherited MCP_MEMORY_* settings."""
    return server_env(**{"MCP_MEMORY_SEED_ON_START": "false", "MCP_MEMORY_CONSOLIDATE_EVERY": "0", **extra})


@contextmanager
def http_servers(
    data_dirs: list[Path],
    log_dir: Path,
    *,
    chroma_url: str | None = None,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    names: list[str] | None = None,
) -> Iterator[list[ServerProcess]]:
    """Several ``mcp-memory serve --transport http`` on free loopback ports, started together (they boot in
    parallel), all listening when yielded, stopped afterwards."""
    servers: list[ServerProcess] = []
    try:
        for number, data_dir in enumerate(data_dirs):
            port = free_port()
            args = ["--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
            if chroma_url:
                args += ["--chroma-url", chroma_url]
            if database_url:
                args += ["--database-url", database_url]
            name = names[number] if names else "server"
            servers.append(ServerProcess(args, env or serve_env(), log_dir / f"{name}-{port}.log", port=port))
        for server in servers:
            server.wait_listening()
        yield servers
    finally:
        for server in servers:
            server.stop()


@contextmanager
def http_server(
    data_dir: Path,
    log_dir: Path,
    *,
    chroma_url: str | None = None,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    name: str = "server",
) -> Iterator[ServerProcess]:
    """``mcp-memory serve --transport http`` on a free loopback port, listening when yielded, stopped afterwards."""
    with http_servers([data_dir], log_dir, chroma_url=chroma_url, database_url=database_url, env=env, names=[name]) as (
        server,
    ):
        yield server


def http_client(url: str, token: str | None = None, *, timeout: float = 120.0) -> Any:
    """An MCP client over streamable HTTP, with a bearer token when given."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(
        url, http_client=httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout))
    )
    return Client(transport, read_timeout_seconds=timeout)


def stdio_client(data_dir: Path, **env: str) -> Any:
    """An MCP client that spawns ``mcp-memory serve`` (stdio) on ``data_dir`` and stops it when closed."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_memory", "serve", "--data-dir", str(data_dir)],
        env=serve_env(**env),
    )
    return Client(params, read_timeout_seconds=120)


def processes_using(marker: str) -> list[int]:
    """Pids of live processes whose command line mentions ``marker`` (e.g. a test's unique data dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def tool(client: Any, name: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name}: {error_text(result)}"
    return result.structured_content


def error_text(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)
