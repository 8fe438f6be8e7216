"""Roles per token: a reader recalls and reads, a writer also stores, reports and records, an admin also deletes
others' memories, lists and restores deleted ones. The role is the token's third field (default writer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess, error_text, http_client, http_server, serve_env, tool

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

READER, WRITER, ADMIN = "reader-token-41c7d2e9", "writer-token-9a03b5f1", "admin-token-6e2d8c47"
ERROR = "PermissionError: [Errno 13] Permission denied: '/var/run/app.pid'"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """An owner and a process forwarding to it over the owner's socket, behind the same tokens."""
    root = Path(tmp_path_factory.mktemp("roles"))
    tokens = root / "tokens.txt"
    tokens.write_text(f"viewer:{READER}:reader\nworker:{WRITER}\nops:{ADMIN}:admin\n")
    env = serve_env(MCP_MEMORY_TOKENS_FILE=str(tokens))
    with (
        http_server(root / "data", root, env=env, name="owner") as owner,
        http_server(root / "data", root, env=env, name="forwarder") as forwarder,
    ):
        yield owner, forwarder


@pytest.fixture(params=["owner", "forwarder"])
def server(request: pytest.FixtureRequest, servers: tuple[ServerProcess, ServerProcess]) -> ServerProcess:
    """Each test through the owner and through the forwarder: a role survives the hop."""
    return servers[0] if request.param == "owner" else servers[1]


async def test_a_reader_reads_and_cannot_write(server: ServerProcess) -> None:
    async with http_client(server.url, WRITER) as worker, http_client(server.url, READER) as viewer:
        stored = await tool(
            worker,
            "store_error_resolution",
            error_message=ERROR,
            context="service start",
            resolution=f"run as the app user ({server.port})",
            success=True,
        )
        found = (await tool(viewer, "recall_error_solutions", error_message=ERROR, n_results=5))["results"]
        assert stored["id"] in {hit["id"] for hit in found}
        assert (await tool(viewer, "get_memory", id=stored["id"]))["agent"] == "worker"
        for name, arguments in [
            ("store_solution", {"problem": "p", "solution": "s"}),
            ("report_outcome", {"memory_id": stored["id"], "success": False}),
            ("delete_memory", {"id": stored["id"]}),
            ("start_episode", {"task": "look around"}),
        ]:
            refused = await viewer.call_tool(name, arguments)
            assert refused.is_error and "'viewer' is a reader" in error_text(refused), name
        assert (await tool(worker, "get_memory", id=stored["id"]))["usage_count"] == 1


async def test_an_admin_deletes_any_memory_and_restores_it(server: ServerProcess) -> None:
    async with http_client(server.url, WRITER) as worker, http_client(server.url, ADMIN) as ops:
        stored = await tool(worker, "store_solution", problem="Rotate logs daily", solution="logrotate -f conf")
        assert (await worker.call_tool("list_deleted_memories", {})).is_error
        deleted = await tool(ops, "delete_memory", id=stored["id"], reason="leaks a path")
        assert deleted["deleted_by"] == "ops"
        [tombstone] = [t for t in (await tool(ops, "list_deleted_memories"))["memories"] if t["id"] == stored["id"]]
        assert (tombstone["agent"], tombstone["deleted_by"], tombstone["reason"]) == ("worker", "ops", "leaks a path")
        refused = await worker.call_tool("restore_memory", {"id": stored["id"]})
        assert refused.is_error and "Only an admin" in error_text(refused)
        assert (await tool(ops, "restore_memory", id=stored["id"]))["agent"] == "worker"
        assert (await tool(worker, "get_memory", id=stored["id"]))["title"].startswith("Rotate logs")
