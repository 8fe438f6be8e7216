"""Spawn-to-``tools/list`` time of mcp-memory over stdio, against a bare MCP SDK server spawned the same way.

Also spawn-to-first-recall (the model and store are warmed in the background while the client lists tools).
Run: ``.venv/bin/python bench/startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import anyio
from mcp import Client, StdioServerParameters
from mcp_timing import bare_server


async def time_server(params: StdioServerParameters, recall: bool) -> tuple[float, float | None]:
    start = time.perf_counter()
    async with Client(params, read_timeout_seconds=300) as client:
        await client.list_tools()
        listed = time.perf_counter() - start
        recalled = None
        if recall:
            result = await client.call_tool("recall_error_solutions", {"error_message": "No module named 'requests'"})
            assert not result.is_error, result.content
            recalled = time.perf_counter() - start
    return listed, recalled


def measure(runs: int) -> dict[str, list[float]]:
    """Seconds per run for the bare server's tools/list, ours, and our first recall (bench/run_all.py)."""
    bare = bare_server()
    rows: dict[str, list[float]] = {"bare SDK server: tools/list": [], "mcp-memory: tools/list": [],
                                     "mcp-memory: first recall": []}
    for _ in range(runs):
        rows["bare SDK server: tools/list"].append(anyio.run(time_server, bare, False)[0])
        data_dir = tempfile.mkdtemp(prefix="mcp-memory-bench-")
        ours = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_memory", "serve", "--data-dir", data_dir],
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        listed, recalled = anyio.run(time_server, ours, True)
        rows["mcp-memory: tools/list"].append(listed)
        rows["mcp-memory: first recall"].append(recalled or 0.0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = measure(args.runs)
    print(f"{'measure':32} {'median s':>9} {'min s':>7} {'max s':>7}   ({args.runs} runs, fresh data dir each)")
    for name, values in rows.items():
        print(f"{name:32} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")
    ratio = statistics.median(rows["mcp-memory: tools/list"]) / statistics.median(rows["bare SDK server: tools/list"])
    print(f"tools/list ratio to the bare server: {ratio:.2f}x")


if __name__ == "__main__":
    main()
