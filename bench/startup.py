"""Spawn-to-``tools/list`` time of mcp-memory over stdio, against a bare MCP SDK server spawned the same way.

Also spawn-to-first-recall (the model and store are warmed in the background while the client lists tools).
``--encoders onnx torch`` compares the encoders instead, alternating runs: spawn → ``tools/list`` and spawn →
first answered recall on a fresh data dir without seeding (the model is what differs), beside a bare SDK server's
spawn → ``tools/list`` once per round; then the server's RSS
after ``--stores`` stores and whether it mapped torch's library; ``--first-start`` adds one ONNX start on an
empty graph cache (the export's cost).
``--seed`` lets the servers seed the knowledge base as they start (users' default; benchmarks control the contents).
``--against CHECKOUT`` adds the first encoder on another checkout (its ``PYTHONPATH``), alternating, so a change is
measured against the code before it under the same load.
Run: ``.venv/bin/python bench/startup.py [--runs 5] [--encoders onnx torch [--stores 300] [--first-start]]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp_timing import bare_server, memory_server, server_maps, server_rss_bytes


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
    rows: dict[str, list[float]] = {
        "bare SDK server: tools/list": [],
        "mcp-memory: tools/list": [],
        "mcp-memory: first recall": [],
    }
    for _ in range(runs):
        rows["bare SDK server: tools/list"].append(anyio.run(time_server, bare, False)[0])
        data_dir = tempfile.mkdtemp(prefix="mcp-memory-bench-")
        ours = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_memory", "serve", "--data-dir", data_dir],
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        listed, recalled = anyio.run(time_server, ours, True)
        rows["mcp-memory: tools/list"].append(listed)
        rows["mcp-memory: first recall"].append(recalled or 0.0)
    return rows


async def encoder_run(params: StdioServerParameters, stores: int) -> dict[str, Any]:
    """Spawn → tools/list and → first recall, then RSS after ``stores`` stores (8 in flight)."""
    start = time.perf_counter()
    async with Client(params, read_timeout_seconds=600) as client:
        await client.list_tools()
        listed = time.perf_counter() - start
        result = await client.call_tool("recall_error_solutions", {"error_message": "No module named 'requests'"})
        assert not result.is_error, result.content
        recalled = time.perf_counter() - start
        limiter = anyio.Semaphore(8)

        async def store(i: int) -> None:
            async with limiter:
                stored = await client.call_tool(
                    "store_error_resolution",
                    {
                        "error_message": f"KeyError: 'field_{i}' while parsing record {i * 7} of batch {i % 13}",
                        "context": f"loading export file part {i}",
                        "resolution": f"use .get('field_{i}') with a default",
                        "success": True,
                    },
                )
                assert not stored.is_error, stored.content

        async with anyio.create_task_group() as group:
            for i in range(stores):
                group.start_soon(store, i)
        result = await client.call_tool("recall_error_solutions", {"error_message": "KeyError: 'field_12'"})
        assert not result.is_error, result.content
        return {
            "tools_list_s": listed,
            "first_recall_s": recalled,
            "rss_bytes": server_rss_bytes(),
            "torch_mapped": server_maps("libtorch"),
            "load": os.getloadavg()[0],
        }


def compare_encoders(
    encoders: list[str], runs: int, stores: int, first_start: bool, restart: bool, seed: bool = False
) -> dict[str, Any]:
    """Alternating runs per encoder (a, b, b, a, ...), each on a fresh data dir — or, with ``restart``, each
    encoder's runs on one data dir, so every run after its first restarts a server on the memories stored before
    (the first run, on the empty dir, is left out of the medians); the graph cache is the user's."""
    kept = {name: Path(tempfile.mkdtemp(prefix="mcp-memory-bench-")) for name in encoders} if restart else {}
    firsts: dict[str, dict[str, Any]] = {}
    figures: dict[str, Any] = {name: [] for name in encoders}
    figures["bare SDK server"] = []
    order = [*encoders, *reversed(encoders)] * (runs + restart)
    bare = bare_server()
    for i, name in enumerate(order[: (runs + restart) * len(encoders)]):
        if i % len(encoders) == 0:  # the bare server's tools/list once per round, beside the encoders
            bare_listed = anyio.run(time_server, bare, False)[0]
            figures["bare SDK server"].append(bare_listed)
            print(f"bare  tools/list {bare_listed:5.2f} s | load {os.getloadavg()[0]:.2f}", flush=True)
        data_dir = kept.get(name) or Path(tempfile.mkdtemp(prefix="mcp-memory-bench-"))
        encoder, _, checkout = name.partition("@")
        params = memory_server(data_dir, MCP_MEMORY_ENCODER=encoder, MCP_MEMORY_SEED_ON_START=str(seed).lower())
        if checkout:  # `-m` puts the working directory first on the path, ahead of PYTHONPATH
            params = params.model_copy(update={"cwd": checkout, "env": {**(params.env or {}), "PYTHONPATH": checkout}})
        row = anyio.run(encoder_run, params, stores)
        if restart and name not in firsts:
            firsts[name] = row
        else:
            figures[name].append(row)
        kind = "fresh dir " if firsts.get(name) is row else "restart   " if restart else ""
        print(
            f"{name:5} {kind}tools/list {row['tools_list_s']:5.2f} s | "
            f"first recall {row['first_recall_s']:5.2f} s | RSS after "
            f"{stores} stores {row['rss_bytes'] / 2**20:5.0f} MiB | torch mapped: {row['torch_mapped']} | "
            f"load {row['load']:.2f}",
            flush=True,
        )
    if first_start:
        cache = Path(tempfile.mkdtemp(prefix="mcp-memory-cache-"))
        params = memory_server(
            Path(tempfile.mkdtemp(prefix="mcp-memory-bench-")),
            MCP_MEMORY_ENCODER="onnx",
            MCP_MEMORY_CACHE_DIR=str(cache),
        )
        row = anyio.run(encoder_run, params, 0)
        figures["onnx first start (empty graph cache)"] = row
        print(
            f"onnx, empty graph cache: tools/list {row['tools_list_s']:.2f} s | first recall (export included) "
            f"{row['first_recall_s']:.2f} s | load {row['load']:.2f}"
        )
    bare_median = statistics.median(figures["bare SDK server"])
    for name in encoders:
        rows = figures[name]
        print(
            f"{name:5} median: tools/list {statistics.median(r['tools_list_s'] for r in rows):.2f} s, first recall "
            f"{statistics.median(r['first_recall_s'] for r in rows):.2f} s "
            f"(min {min(r['first_recall_s'] for r in rows):.2f}), "
            f"RSS {statistics.median(r['rss_bytes'] for r in rows) / 2**20:.0f} MiB, tools/list "
            f"{statistics.median(r['tools_list_s'] for r in rows) / bare_median:.2f}x the bare server's"
        )
    print(f"bare  median: tools/list {statistics.median(figures['bare SDK server']):.2f} s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--encoders", nargs="+", choices=["onnx", "torch"], help="Compare these encoders.")
    parser.add_argument("--stores", type=int, default=300, help="Stores before the RSS is read (with --encoders).")
    parser.add_argument("--first-start", action="store_true", help="Also one ONNX start on an empty graph cache.")
    parser.add_argument("--json", help="Also write the figures of --encoders to this file.")
    parser.add_argument(
        "--restart", action="store_true", help="With --encoders: restart on the memories stored by earlier runs."
    )
    parser.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="With --encoders: also the first encoder on another checkout of mcp-memory (e.g. a git worktree of an "
        "earlier commit), alternating with this one",
    )
    parser.add_argument(
        "--seed",
        action="store_true",
        help="With --encoders: servers seed the knowledge base as they start (the default outside benchmarks; on a "
        "fresh data dir the first recall waits for it)",
    )
    args = parser.parse_args()
    if args.encoders and args.against:
        args.encoders.append(f"{args.encoders[0]}@{Path(args.against).resolve()}")
    if args.encoders:
        figures = compare_encoders(args.encoders, args.runs, args.stores, args.first_start, args.restart, args.seed)
        if args.json:
            import json

            Path(args.json).write_text(json.dumps(figures, indent=2))
        return
    rows = measure(args.runs)
    print(f"{'measure':32} {'median s':>9} {'min s':>7} {'max s':>7}   ({args.runs} runs, fresh data dir each)")
    for name, values in rows.items():
        print(f"{name:32} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")
    ratio = statistics.median(rows["mcp-memory: tools/list"]) / statistics.median(rows["bare SDK server: tools/list"])
    print(f"tools/list ratio to the bare server: {ratio:.2f}x")


if __name__ == "__main__":
    main()
