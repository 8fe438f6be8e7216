"""Past one machine: a `chroma run` server holds the memory; several stateless MCP servers stand in front of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import chroma_server
from tests.processes import http_client, http_server, processes_using, tool

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def test_two_http_servers_on_one_chroma_server_read_each_others_writes(tmp_path: Path) -> None:
    # Separate data dirs stand for separate machines: only the Chroma server is shared.
    with (
        chroma_server(tmp_path / "chroma-data") as chroma_url,
        http_server(tmp_path / "machine-1", tmp_path, chroma_url=chroma_url, name="one") as one,
        http_server(tmp_path / "machine-2", tmp_path, chroma_url=chroma_url, name="two") as two,
    ):
        async with http_client(one.url) as first, http_client(two.url) as second:
            written = await tool(first, "store_code_pattern", pattern_name="Idempotency key middleware",
                                 code="def idempotent(handler):\n    ...", language="python",
                                 context="retries of POST requests must not charge twice",
                                 agent_role="WORKER_BACKEND")
            read = await tool(second, "get_memory", id=written["id"])
            assert read["title"] == "Idempotency key middleware" and read["agent"] == "WORKER_BACKEND"
            recalled = await tool(second, "recall_similar_patterns",
                                  description="make POST retries safe so a payment is not taken twice")
            assert recalled["results"][0]["id"] == written["id"]

            back = await tool(second, "store_error_resolution", error_message="psycopg.OperationalError: "
                              "server closed the connection unexpectedly", context="after a failover",
                              resolution="enable pool pre-ping", success=True)
            assert (await tool(first, "get_memory", id=back["id"]))["fields"]["resolution"] == (
                "enable pool pre-ping"
            )
            again = await tool(first, "store_error_resolution", error_message="psycopg.OperationalError: "
                               "server closed the connection unexpectedly", context="after a failover",
                               resolution="enable pool pre-ping", success=True)
            assert again["id"] == back["id"] and again["duplicate"] and again["usage_count"] == 2

            stats_one, stats_two = await tool(first, "memory_stats"), await tool(second, "memory_stats")
            assert stats_one["chroma_url"] == stats_two["chroma_url"] == chroma_url
            assert stats_one["total"] == stats_two["total"] == 2
        assert not (tmp_path / "machine-1" / "chroma").exists()
        assert not (tmp_path / "machine-1" / "owner.lock").exists()  # no store of its own to own
    assert processes_using(str(tmp_path)) == []
