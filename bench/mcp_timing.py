"""Timing MCP calls over stdio: spawn a server, time tool calls, read its memory use.

Shared by the benchmarks; the bare SDK server here is the reference for the protocol's own cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mcp import Client, StdioServerParameters

BARE_SERVER = textwrap.dedent(
    """
    from mcp.server.mcpserver import MCPServer
    server = MCPServer("bare")

    @server.tool()
    def noop() -> str:
        return "ok"

    server.run()
    """
)


def bare_server() -> StdioServerParameters:
    """A bare MCP SDK server with one no-op tool, spawned like ours."""
    path = Path(tempfile.mkdtemp(prefix="mcp-bare-")) / "bare_server.py"
    path.write_text(BARE_SERVER)
    return StdioServerParameters(command=sys.executable, args=[str(path)], env=_env())


def memory_server(data_dir: Path, **env: str) -> StdioServerParameters:
    """``mcp-memory serve`` on ``data_dir`` over stdio, without seeding unless ``env`` asks for it (the benchmark
    controls the contents)."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_memory", "serve", "--data-dir", str(data_dir)],
        env=_env(**{"MCP_MEMORY_SEED_ON_START": "false", **env}),
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_MEMORY_")}
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra)
    return env


async def timed_calls(client: Any, calls: Sequence[tuple[str, dict[str, Any]]], warmup: int = 3) -> list[float]:
    """Milliseconds per call, after ``warmup`` untimed calls; every call must succeed."""
    for tool, arguments in list(calls)[:warmup]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result.content
    times = []
    for tool, arguments in calls:
        start = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        times.append((time.perf_counter() - start) * 1000)
        assert not result.is_error, result.content
    return times


def connect(params: StdioServerParameters) -> Client:
    return Client(params, read_timeout_seconds=1800)


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values)
    return float(np.percentile(array, 50)), float(np.percentile(array, 95))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def server_rss_bytes(marker: str = "mcp_memory") -> int:
    """Resident memory of this process's child servers whose command line has ``marker`` (largest one)."""
    best = 0
    for entry in _child_servers(marker):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    best = max(best, int(line.split()[1]) * 1024)
        except (OSError, IndexError, ValueError):
            continue
    return best


def server_maps(library: str, marker: str = "mcp_memory") -> bool:
    """Whether a child server has ``library`` (e.g. ``libtorch``) mapped: proof of what it imported."""
    for entry in _child_servers(marker):
        try:
            if library in (entry / "maps").read_text():
                return True
        except OSError:
            continue
    return False


def _child_servers(marker: str) -> list[Path]:
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if parent == me and marker in command:
            found.append(entry)
    return found


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
