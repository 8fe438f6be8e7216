"""A database that goes away: tools answer at once with an error that names it and says to retry, and the service
comes back by itself when the database does; a database URL that cannot work stops the server at start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.server import build_server
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import call, call_error, skip_without_postgres
from tests.helpers import server_env
from tests.postgres import Cluster

pytestmark = pytest.mark.anyio

# A tool call against a stopped database must fail within this (the connect timeout is 5 s).
FAIL_WITHIN_SECONDS = 8.0
ERROR = "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused."
PATTERN_CODE = "def with_backoff(call):\n    for delay in (1, 2, 4):\n        ..."


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own, to stop and start: the session's cluster serves other tests meanwhile."""
    from tests.postgres import remove_cluster, start_cluster

    skip_without_postgres()
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


async def timed_error(client: Any, tool: str, **arguments: Any) -> tuple[str, float]:
    started = time.monotonic()
    message = await call_error(client, tool, **arguments)
    return message, time.monotonic() - started


async def test_a_stopped_database_gives_retry_errors_at_once_and_service_resumes_when_it_is_back(
    tmp_path: Path, own_cluster: Cluster, embedder: Embedder
) -> None:
    url = own_cluster.create_database("memory")
    settings = Settings(data_dir=tmp_path / "data", database_url=url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    async with Client(build_server(MemoryApp(settings, embedder=embedder))) as client:
        fix = await call(
            client,
            "store_error_resolution",
            error_message=ERROR,
            context="starting the worker",
            resolution="start redis-server first",
            success=True,
        )
        await call(client, "report_outcome", memory_id=fix["id"], success=True)
        pattern = await call(
            client,
            "store_code_pattern",
            pattern_name="Retry with backoff",
            code=PATTERN_CODE,
            language="python",
            context="flaky network calls",
        )
        assert (await call(client, "recall_error_solutions", error_message=ERROR))["results"][0]["id"] == fix["id"]

        own_cluster.stop()
        failures = [
            await timed_error(
                client,
                "store_error_resolution",
                error_message="KeyError: 'REDIS_URL'",
                context="",
                resolution="export REDIS_URL",
                success=True,
            ),
            await timed_error(client, "recall_error_solutions", error_message=ERROR),
            await timed_error(client, "recall_similar_patterns", description="retry a flaky call with backoff"),
            await timed_error(client, "report_outcome", memory_id=fix["id"], success=False),
        ]
        for message, seconds in failures:
            assert "The database postgresql://mem@127.0.0.1:" in message and "Retry in a few seconds" in message
            assert seconds < FAIL_WITHIN_SECONDS, (message, seconds)

        own_cluster.start()  # no restart of the server: the pool reconnects
        again = await call(
            client,
            "store_error_resolution",
            error_message=ERROR,
            context="starting the worker",
            resolution="start redis-server first",
            success=True,
        )
        assert (again["id"], again["duplicate"], again["usage_count"], again["success_count"]) == (
            fix["id"],
            True,
            3,
            1,
        )  # the store and the report acknowledged before the stop, and this one (one agent: one vote); the refused
        # report is not there
        recalled = await call(client, "recall_similar_patterns", description="retry a flaky call with backoff")
        assert recalled["results"][0]["id"] == pattern["id"]
        assert (await call(client, "recall_error_solutions", error_message=ERROR))["results"][0]["id"] == fix["id"]
        new = await call(
            client,
            "store_error_resolution",
            error_message="KeyError: 'REDIS_URL'",
            context="",
            resolution="export REDIS_URL",
            success=True,
        )
        assert not new["duplicate"]
        assert (await call(client, "memory_stats"))["total"] == 3


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://root:hunter2@db/memory", "'mysql://root:***@db/memory' is not a PostgreSQL URL"),
        ("memory.sqlite3", "'memory.sqlite3' is not a PostgreSQL URL"),
    ],
)
def test_a_database_url_of_the_wrong_kind_stops_the_server_with_one_line(tmp_path: Path, url: str, shown: str) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "mcp_memory", "serve", "--data-dir", str(tmp_path)],
        env=server_env(MCP_MEMORY_DATABASE_URL=url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert started.stdout == ""
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert "MCP_MEMORY_DATABASE_URL" in lines[0] and shown in lines[0] and "hunter2" not in lines[0]
    assert "postgresql://user:password@db-host:5432/memory" in lines[0]
