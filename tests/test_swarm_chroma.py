"""Past one machine: a `chroma run` server holds the memory; several stateless MCP servers stand in front of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import chroma_server
from tests.processes import http_client, http_server, processes_using, tool

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def test_two_http_servers_on_one_chroma_server_read_each_others_writes(tmp_path: Path, postgres_url: str) -> None:
    # Separate data dirs stand for separate machines: the Chroma server and the database are shared.
    with (
        chroma_server(tmp_path / "chroma-data") as chroma_url,
        http_server(tmp_path / "machine-1", tmp_path, chroma_url=chroma_url, database_url=postgres_url, name="one") as one,
        http_server(tmp_path / "machine-2", tmp_path, chroma_url=chroma_url, database_url=postgres_url, name="two") as two,
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


async def test_servers_on_other_machines_share_one_episode_log_through_the_database(
    tmp_path: Path, postgres_url: str
) -> None:
    from tests.processes import error_text

    shared = {"database_url": postgres_url}
    with (
        chroma_server(tmp_path / "chroma-data") as chroma_url,
        http_server(tmp_path / "machine-2", tmp_path, chroma_url=chroma_url, name="two", **shared) as two,
        http_server(tmp_path / "machine-3", tmp_path, chroma_url=chroma_url, name="three", **shared) as three,
    ):
        async with http_client(two.url) as via_two, http_client(three.url) as via_three:
            started = await tool(via_two, "start_episode", task="Add rate limiting to the public API",
                                 agent_role="ORCHESTRATOR")
            episode = started["episode_id"]
            seqs = [
                (await tool(client, "record_event", episode_id=episode, event_type=kind,
                            agent_role=role, data=data))["seq"]
                for client, kind, role, data in [
                    (via_two, "plan", "ORCHESTRATOR", {"steps": ["middleware", "tests"]}),
                    (via_three, "test_run", "QA_SENTINEL",
                     {"command": "pytest", "returncode": 1, "error": "KeyError: 'X-RateLimit-Limit'"}),
                    (via_two, "code_generation", "WORKER_BACKEND", {"files": ["api/limits.py"]}),
                ]
            ]
            assert seqs == [1, 2, 3]  # one log, one sequence, whichever machine recorded
            await tool(via_three, "end_episode", episode_id=episode, success=False,
                       summary="Header name mismatch broke the tests.")
            replay = await tool(via_three, "get_episode", episode_id=episode)
            assert [e["event_type"] for e in replay["events"]] == ["plan", "test_run", "code_generation"]
            similar = await tool(via_two, "recall_similar_episodes",
                                 task_description="rate limit the public API endpoints")
            assert similar["results"][0]["episode_id"] == episode
            failures = await tool(via_three, "analyze_failures")
            assert failures["clusters"] and episode in failures["clusters"][0]["episode_ids"]
            listed = await tool(via_two, "list_episodes", status="ended")
            assert [e["episode_id"] for e in listed["episodes"]] == [episode]

            refused = await via_two.call_tool("record_event", {"episode_id": episode, "event_type": "note",
                                                               "agent_role": "QA", "data": {}})
            assert refused.is_error and "already ended" in error_text(refused)
            unknown = await via_three.call_tool("get_episode", {"episode_id": "ep_nowhere"})
            assert unknown.is_error and "'ep_nowhere' not found" in error_text(unknown)
            prompt = await via_three.get_prompt("memory_informed_task",
                                                {"task_description": "rate limiting for the API"})
            assert "Header name mismatch" in str(prompt)
        for machine in ("machine-2", "machine-3"):
            assert not (tmp_path / machine / "memory.sqlite3").exists()  # nothing kept on the machines
