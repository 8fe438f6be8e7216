"""The database row is written first, then the vector; a process killed between the two is mended by `repair` and
by the next start, and a vector whose row was deleted is removed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder
from tests.helpers import server_env
from tests.processes import stdio_client, tool

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ERROR = "ModuleNotFoundError: No module named 'psycopg2'"
# A real server process that dies at the named step of a real write: the fault is the process dying, nothing else.
CRASH = textwrap.dedent(
    """
    import os, signal, sys, anyio
    from pathlib import Path
    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings
    from mcp_memory.memory.drafts import error_draft

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    app = MemoryApp(Settings(data_dir=Path(sys.argv[1]), seed_on_start=False))
    app.start_blocking()
    if sys.argv[2] == "before-vector":
        app.embedder.encode_batch = die  # the row is committed; the process dies before its vector is written
        app.memory.remember_blocking(error_draft(sys.argv[3], "fresh venv", "pip install psycopg2-binary", True))
    else:
        draft = error_draft(sys.argv[3], "fresh venv", "pip install psycopg2-binary", True)
        stored = app.memory.remember_blocking(draft)
        print(stored.id, flush=True)
        app.store.index.delete = die  # the row is deleted; the process dies before its vector is removed
        anyio.run(app.memory.delete, stored.id)
    """
)


def crash(data_dir: Path, step: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(data_dir), step, ERROR],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == -9, done.stderr  # killed, as intended, mid-write
    return done


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", *args],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=300,
        check=False,
    )


def open_app(data_dir: Path, embedder: Embedder) -> MemoryApp:
    """A fresh app on the data dir; Chroma's client cache is cleared, as another process wrote meanwhile."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    app = MemoryApp(Settings(data_dir=data_dir, seed_on_start=False, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    app.start_blocking()
    return app


async def test_repair_embeds_a_row_whose_process_died_before_its_vector(tmp_path: Path, embedder: Embedder) -> None:
    data_dir = tmp_path / "data"
    crash(data_dir, "before-vector")
    before = open_app(data_dir, embedder)
    assert before.store.count("error") == 1 and before.store.index.count("error") == 0
    recalled = await before.memory.recall(ERROR, ["error"], 3)
    assert recalled.results == []  # no vector: recall cannot find it yet
    del before

    repaired = cli("repair", "--data-dir", str(data_dir))
    assert repaired.returncode == 0, repaired.stderr
    assert "1 memories without a vector embedded again, 0 vectors without a memory removed" in repaired.stdout

    after = open_app(data_dir, embedder)
    assert after.store.index.count("error") == 1
    [hit] = (await after.memory.recall(ERROR, ["error"], 3)).results
    assert hit.fields["resolution"] == "pip install psycopg2-binary" and hit.success_count == 1
    again = cli("repair", "--data-dir", str(data_dir))
    assert "0 memories without a vector embedded again, 0 vectors" in again.stdout  # nothing left to mend


async def test_repair_removes_a_vector_whose_row_was_deleted(tmp_path: Path, embedder: Embedder) -> None:
    data_dir = tmp_path / "data"
    crash(data_dir, "before-vector-delete")
    app = open_app(data_dir, embedder)
    assert app.store.count("error") == 0 and app.store.index.count("error") == 1
    assert (await app.memory.recall(ERROR, ["error"], 3)).results == []  # a vector without a row is never a hit
    del app
    repaired = cli("repair", "--data-dir", str(data_dir))
    assert "0 memories without a vector embedded again, 1 vectors without a memory removed" in repaired.stdout
    assert open_app(data_dir, embedder).store.index.count("error") == 0


async def test_a_server_started_on_a_crashed_store_mends_it_by_itself(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crash(data_dir, "before-vector")
    async with stdio_client(data_dir) as client:
        found: list[dict[str, object]] = []
        for _ in range(120):  # the reconcile runs in the warm-up, right after the start
            found = (await tool(client, "recall_error_solutions", error_message=ERROR))["results"]
            if found:
                break
            import anyio

            await anyio.sleep(0.5)
        assert found and found[0]["fields"]["resolution"] == "pip install psycopg2-binary"  # type: ignore[index]


def test_repair_refuses_while_a_server_owns_the_data_dir_and_stats_recall_go_through_it(tmp_path: Path) -> None:
    from tests.helpers import RawStdioServer

    data_dir = tmp_path / "live"
    server = RawStdioServer(data_dir)
    try:
        server.handshake()
        reply = server.request(
            "tools/call",
            {
                "name": "store_error_resolution",
                "arguments": {
                    "error_message": ERROR,
                    "context": "fresh venv",
                    "resolution": "pip install psycopg2-binary",
                    "success": True,
                },
            },
        )
        stored = reply["result"]["structuredContent"]["id"]

        refused = cli("repair", "--data-dir", str(data_dir))
        assert refused.returncode == 1 and "A server owns the store" in refused.stderr

        stats = cli("stats", "--json", "--data-dir", str(data_dir))
        assert stats.returncode == 0, stats.stderr
        own = server.request("tools/call", {"name": "memory_stats", "arguments": {}})["result"]["structuredContent"]
        assert json.loads(stats.stdout)["by_type"] == own["by_type"] and own["by_type"]["error"] >= 1
        recalled = cli("recall", "no module named psycopg2", "--json", "--data-dir", str(data_dir))
        assert recalled.returncode == 0, recalled.stderr
        assert json.loads(recalled.stdout)["results"][0]["id"] == stored
        assert (
            server.request("tools/call", {"name": "get_memory", "arguments": {"id": stored}})["result"][
                "structuredContent"
            ]["usage_count"]
            == 1
        )  # the server kept serving, its store untouched by the CLI
    finally:
        server.close()


STORE_AND_EXIT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings
    from mcp_memory.memory.drafts import solution_draft

    app = MemoryApp(Settings(data_dir=Path(sys.argv[1]), seed_on_start=False))
    app.start_blocking()
    for n in range(40):  # answered once each row is committed; the vectors follow in the backlog
        app.memory.remember_blocking(solution_draft(f"problem {n}", f"solution {n}", "python", "", {}))
    """
)


async def test_a_process_that_exits_right_after_its_stores_indexes_them_before_it_ends(
    tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-c", STORE_AND_EXIT, str(data_dir)],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    after = open_app(data_dir, embedder)
    assert after.store.count("solution") == 40 and after.store.index.count("solution") == 40  # no repair needed
    [hit] = (await after.memory.recall("problem 7", ["solution"], 1)).results
    assert hit.fields["solution"] == "solution 7"
