"""The server as users run it: a stdio subprocess, a Chroma server, no network, the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import call
from tests.helpers import RawStdioServer, chroma_server, server_env

pytestmark = pytest.mark.slow

INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "raw-test-client", "version": "1"},
}


def test_stdio_server_speaks_only_protocol_on_stdout_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    server = RawStdioServer(data_dir)
    try:
        init = server.request("initialize", INITIALIZE)
        assert init["result"]["serverInfo"]["name"] == "mcp-memory"
        server.send("notifications/initialized", notify=True)
        tools = server.request("tools/list")["result"]["tools"]
        assert {"store_error_resolution", "recall_error_solutions", "search_memory"} <= {t["name"] for t in tools}
        stored = server.request(
            "tools/call",
            {
                "name": "store_error_resolution",
                "arguments": {
                    "error_message": "ModuleNotFoundError: No module named 'fastapi'",
                    "context": "Starting FastAPI server",
                    "resolution": "pip install fastapi uvicorn",
                    "success": True,
                },
            },
        )
        assert stored["result"]["isError"] is False, stored
    finally:
        server.close()
    assert all(line.startswith(b"{") for line in server.stdout_lines)

    restarted = RawStdioServer(data_dir)
    try:
        restarted.request("initialize", INITIALIZE)
        restarted.send("notifications/initialized", notify=True)
        recalled = restarted.request(
            "tools/call", {"name": "recall_error_solutions", "arguments": {"error_message": "Cannot import fastapi"}}
        )
        first = recalled["result"]["structuredContent"]["results"][0]
        assert first["fields"]["resolution"] == "pip install fastapi uvicorn"
        assert first["outcome"] == "worked"
        seeded = restarted.request("tools/call", {"name": "memory_stats", "arguments": {}})
        # Seeded on first start: 4 patterns, 3 best practices, 4 common errors + the stored fix.
        assert seeded["result"]["structuredContent"]["by_type"]["best_practice"] == 3
        assert seeded["result"]["structuredContent"]["by_type"]["error"] == 5
    finally:
        restarted.close()


def test_a_line_that_is_not_a_message_gets_a_json_rpc_error_and_the_session_goes_on(tmp_path: Path) -> None:
    server = RawStdioServer(tmp_path / "store")
    try:
        server.request("initialize", INITIALIZE)
        server.send("notifications/initialized", notify=True)
        answers = []
        for line in [
            b"this is not json",
            b"[1, 2]",
            b'{"jsonrpc": "2.0", "id": 41}',
            b'{"jsonrpc": "2.0", "id": "q", "method": "tools/call", "params": "oops"}',
            b'{"jsonrpc": "2.0", "id": 7, "result": 5}',
        ]:  # a malformed response: its id is not ours
            server.send_raw(line)
            answers.append(server.read_message())  # answered at once: a client waiting on it does not hang
        assert [(a["id"], a["error"]["code"]) for a in answers] == [
            (None, -32700),
            (None, -32600),
            (41, -32600),
            ("q", -32600),
            (None, -32600),
        ]
        assert "not JSON" in answers[0]["error"]["message"]
        assert "params: Input should be an object" in answers[3]["error"]["message"]
        stats = server.request("tools/call", {"name": "memory_stats", "arguments": {}})
        assert stats["result"]["isError"] is False
    finally:
        server.close()


@pytest.mark.anyio
async def test_round_trip_through_a_chroma_server(tmp_path: Path, embedder: Embedder) -> None:
    from mcp import Client

    from mcp_memory.edge.server import build_server

    with chroma_server(tmp_path / "chroma-server") as url:
        settings = Settings(data_dir=tmp_path / "unused", chroma_url=url, seed_on_start=False)
        app = MemoryApp(settings, embedder=embedder)
        async with Client(build_server(app)) as client:
            stored = await call(
                client,
                "store_code_pattern",
                pattern_name="Debounce",
                code="def debounce(fn, wait):\n    ...",
                language="python",
                context="Rate-limit UI callbacks",
            )
            recalled = await call(client, "recall_similar_patterns", description="limit how often a callback runs")
            stats = await call(client, "memory_stats")
        assert recalled["results"][0]["id"] == stored["id"]
        assert stats["chroma_url"] == url and stats["data_dir"] is None and stats["total"] == 1
        assert not (tmp_path / "unused" / "chroma").exists()

        # A second, independent server process state sees the same data through the Chroma server.
        again = MemoryApp(settings, embedder=embedder)
        async with Client(build_server(again)) as client:
            fetched = await call(client, "get_memory", id=stored["id"])
        assert fetched["title"] == "Debounce"


NO_NETWORK_SCRIPT = r"""
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access attempted")

real_connect = socket.socket.connect
def guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        refuse()
    return real_connect(self, address)

socket.socket.connect = guarded_connect
socket.socket.connect_ex = guarded_connect
socket.create_connection = refuse
socket.getaddrinfo = refuse

import anyio
from pathlib import Path
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft

async def main():
    app = MemoryApp(Settings(data_dir=Path(sys.argv[1])))
    await app.ready()   # opens Chroma, seeds, loads the model: all offline
    await app.memory.remember(error_draft("ModuleNotFoundError: No module named 'fastapi'", "server start",
                                          "pip install fastapi uvicorn", True))
    found = await app.memory.recall("Cannot import fastapi", ["error"], 1)
    print(found.results[0].fields["resolution"])

anyio.run(main)
"""


def test_store_and_recall_work_with_outbound_sockets_blocked(tmp_path: Path) -> None:
    env = server_env()
    env.pop("HF_HUB_OFFLINE")  # the package must set offline mode itself
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_SCRIPT, str(tmp_path / "store")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "pip install fastapi uvicorn"


def test_demo_plays_the_workflow_against_a_spawned_server() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_memory", "demo"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=server_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for step in (
        "seed_initial_knowledge",
        "store_code_pattern",
        "recall_similar_patterns",
        "store_error_resolution",
        "recall_error_solutions",
        "search_memory",
        "memory_stats",
    ):
        assert f"→ {step}(" in out
    assert '"title": "ModuleNotFoundError: No module named \'httpx\'"' in out
    assert json.dumps("Retry with exponential backoff") in out


def test_seed_command_prints_the_counts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mcp_memory", "seed", "--data-dir", str(tmp_path / "store")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=server_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"patterns": 4, "best_practices": 3, "common_errors": 4}
