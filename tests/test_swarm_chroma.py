"""Past one machine: a `chroma run` server holds the memory; several stateless MCP servers stand in front of it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import chroma_server
from tests.processes import (
    error_text,
    http_client,
    http_server,
    http_servers,
    processes_using,
    serve_env,
    tool,
)

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def test_two_http_servers_on_one_chroma_server_read_each_others_writes(tmp_path: Path, postgres_url: str) -> None:
    # Separate data dirs stand for separate machines: the Chroma server and the database are shared.
    with (
        chroma_server(tmp_path / "chroma-data") as chroma_url,
        http_server(
            tmp_path / "machine-1", tmp_path, chroma_url=chroma_url, database_url=postgres_url, name="one"
        ) as one,
        http_server(
            tmp_path / "machine-2", tmp_path, chroma_url=chroma_url, database_url=postgres_url, name="two"
        ) as two,
    ):
        async with http_client(one.url) as first, http_client(two.url) as second:
            written = await tool(
                first,
                "store_code_pattern",
                pattern_name="Idempotency key middleware",
                code="def idempotent(handler):\n    ...",
                language="python",
                context="retries of POST requests must not charge twice",
                agent_role="WORKER_BACKEND",
            )
            read = await tool(second, "get_memory", id=written["id"])
            assert read["title"] == "Idempotency key middleware" and read["agent_role"] == "WORKER_BACKEND"
            recalled = await tool(
                second, "recall_similar_patterns", description="make POST retries safe so a payment is not taken twice"
            )
            assert recalled["results"][0]["id"] == written["id"]

            back = await tool(
                second,
                "store_error_resolution",
                error_message="psycopg.OperationalError: server closed the connection unexpectedly",
                context="after a failover",
                resolution="enable pool pre-ping",
                success=True,
            )
            assert (await tool(first, "get_memory", id=back["id"]))["fields"]["resolution"] == ("enable pool pre-ping")
            again = await tool(
                first,
                "store_error_resolution",
                error_message="psycopg.OperationalError: server closed the connection unexpectedly",
                context="after a failover",
                resolution="enable pool pre-ping",
                success=True,
            )
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
            started = await tool(
                via_two, "start_episode", task="Add rate limiting to the public API", agent_role="ORCHESTRATOR"
            )
            episode = started["episode_id"]
            seqs = [
                (await tool(client, "record_event", episode_id=episode, event_type=kind, agent_role=role, data=data))[
                    "seq"
                ]
                for client, kind, role, data in [
                    (via_two, "plan", "ORCHESTRATOR", {"steps": ["middleware", "tests"]}),
                    (
                        via_three,
                        "test_run",
                        "QA_SENTINEL",
                        {"command": "pytest", "returncode": 1, "error": "KeyError: 'X-RateLimit-Limit'"},
                    ),
                    (via_two, "code_generation", "WORKER_BACKEND", {"files": ["api/limits.py"]}),
                ]
            ]
            assert seqs == [1, 2, 3]  # one log, one sequence, whichever machine recorded
            await tool(
                via_three,
                "end_episode",
                episode_id=episode,
                success=False,
                summary="Header name mismatch broke the tests.",
            )
            replay = await tool(via_three, "get_episode", episode_id=episode)
            assert [e["event_type"] for e in replay["events"]] == ["plan", "test_run", "code_generation"]
            similar = await tool(
                via_two, "recall_similar_episodes", task_description="rate limit the public API endpoints"
            )
            assert similar["results"][0]["episode_id"] == episode
            failures = await tool(via_three, "analyze_failures")
            assert failures["clusters"] and episode in failures["clusters"][0]["episode_ids"]
            listed = await tool(via_two, "list_episodes", status="ended")
            assert [e["episode_id"] for e in listed["episodes"]] == [episode]

            refused = await via_two.call_tool(
                "record_event", {"episode_id": episode, "event_type": "note", "agent_role": "QA", "data": {}}
            )
            assert refused.is_error and "already ended" in error_text(refused)
            unknown = await via_three.call_tool("get_episode", {"episode_id": "ep_nowhere"})
            assert unknown.is_error and "'ep_nowhere' not found" in error_text(unknown)
            prompt = await via_three.get_prompt(
                "memory_informed_task", {"task_description": "rate limiting for the API"}
            )
            assert "Header name mismatch" in str(prompt)
        for machine in ("machine-2", "machine-3"):
            assert not (tmp_path / machine / "memory.sqlite3").exists()  # nothing kept on the machines


# -- a swarm of agents across three servers on one Chroma server and one PostgreSQL database ---------------------

AGENTS = 60
SYNC_BOUND_SECONDS = 2.0
SHARED_FIX = {
    "error_message": "OSError: [Errno 28] No space left on device: '/var/lib/ci/cache'",
    "context": "CI cache restore",
    "resolution": "prune the cache before restoring it",
}
REPORTED_FIX = {
    "error_message": "RecursionError: maximum recursion depth exceeded in comparison",
    "context": "serializing a tree",
    "resolution": "serialize iteratively with an explicit stack",
}


def agent_tokens() -> dict[str, str]:
    """Agent name -> bearer token, one per agent of the swarm."""
    return {f"agent-{n:02d}": f"swarm-{n:02d}-{uuid.uuid4().hex[:12]}" for n in range(AGENTS)}


def stored_worked(agent: int) -> bool:
    return agent % 4 != 0


def reported_worked(agent: int) -> bool:
    return agent % 3 != 0


async def counts(client: Any, memory_id: str) -> tuple[int, int, int]:
    record = await tool(client, "get_memory", id=memory_id)
    return record["usage_count"], record["success_count"], record["failure_count"]


async def first_recall_within(client: Any, name: str, wanted: str, bound: float, **arguments: Any) -> float:
    """Seconds until ``wanted`` is the first hit of a recall; fails past ``bound``."""
    started = time.monotonic()
    while True:
        results = (await tool(client, name, **arguments))["results"]
        elapsed = time.monotonic() - started
        if results and results[0]["id"] == wanted:
            return elapsed
        assert elapsed < bound, f"{name} did not put {wanted} first within {bound} s: {[r['id'] for r in results]}"
        await anyio.sleep(0.05)


async def test_sixty_agents_across_three_servers_count_exactly_see_each_other_and_survive_a_kill(
    tmp_path: Path, postgres_url: str
) -> None:
    tokens = agent_tokens()
    token_of = list(tokens.values())
    # The read-back below walks every memory as one agent as fast as the machine allows: the rate limit (tested in
    # test_auth_http) is off so that a faster machine does not turn the check into a rate-limit test.
    env = serve_env(
        MCP_MEMORY_TOKENS=",".join(f"{name}:{token}" for name, token in tokens.items()),
        MCP_MEMORY_RATE_LIMIT_PER_SECOND="0",
    )

    def started(names: list[str], chroma_url: str) -> Any:
        return http_servers(
            [tmp_path / name for name in names],
            tmp_path,
            chroma_url=chroma_url,
            database_url=postgres_url,
            env=env,
            names=names,
        )

    with chroma_server(tmp_path / "chroma-data") as chroma_url, started(["one", "two", "three"], chroma_url) as servers:

        async def warm(url: str) -> None:
            # Model loaded, word index built and the python pattern ids read: later writes must reach them by sync.
            async with http_client(url, token_of[0]) as client:
                await tool(client, "recall_error_solutions", error_message="warm up")
                await tool(client, "recall_similar_patterns", description="warm up", language="python")

        async with anyio.create_task_group() as group:
            for running in servers:
                group.start_soon(warm, running.url)

        async with http_client(servers[0].url, token_of[0]) as first:
            shared = await tool(first, "store_error_resolution", **SHARED_FIX, success=True)
            reported = await tool(first, "store_error_resolution", **REPORTED_FIX, success=True)

        # 60 agents at once over three servers: each stores the shared fix again and reports on the other one.
        acks: list[dict[str, Any]] = []

        async def agent(number: int) -> None:
            async with http_client(servers[number % 3].url, token_of[number]) as client:
                again = await tool(client, "store_error_resolution", **SHARED_FIX, success=stored_worked(number))
                await tool(client, "report_outcome", memory_id=reported["id"], success=reported_worked(number))
                acks.append(again)

        with anyio.fail_after(300):
            async with anyio.create_task_group() as group:
                for number in range(AGENTS):
                    group.start_soon(agent, number)
        assert {(ack["id"], ack["duplicate"]) for ack in acks} == {(shared["id"], True)}
        stored_ok = sum(stored_worked(n) for n in range(AGENTS))
        reported_ok = sum(reported_worked(n) for n in range(AGENTS))
        # One vote per agent, its latest: agent-00 stored both first (worked) and then voted again in the storm.
        expected = {
            shared["id"]: (AGENTS + 1, stored_ok, AGENTS - stored_ok),
            reported["id"]: (AGENTS + 1, reported_ok, AGENTS - reported_ok),
        }
        for running in servers:
            async with http_client(running.url, token_of[1]) as client:
                assert {memory_id: await counts(client, memory_id) for memory_id in expected} == expected
                assert (await tool(client, "get_memory", id=shared["id"]))["agent"] == "agent-00"

        # Stored through one server, recalled first through another within 2 s (error: the word index follows).
        async with (
            http_client(servers[0].url, token_of[2]) as via_one,
            http_client(servers[1].url, token_of[3]) as via_two,
            http_client(servers[2].url, token_of[4]) as via_three,
        ):
            message = "pydantic_core.ValidationError: 1 validation error for InvoiceLineQuantizer"
            error = await tool(
                via_one,
                "store_error_resolution",
                error_message=message,
                context="billing import",
                resolution="round quantities before validation",
                success=True,
            )
            await first_recall_within(
                via_two, "recall_error_solutions", error["id"], SYNC_BOUND_SECONDS, error_message=message
            )
            pattern = await tool(
                via_three,
                "store_code_pattern",
                pattern_name="Leaky bucket limiter",
                code="class LeakyBucket:\n    def allow(self) -> bool:\n        ...",
                language="python",
                context="throttle outgoing webhooks per tenant",
            )
            await first_recall_within(
                via_one,
                "recall_similar_patterns",
                pattern["id"],
                SYNC_BOUND_SECONDS,
                description="throttle outgoing webhooks per tenant",
                language="python",
            )

        # A write storm over the three servers; the third is killed with SIGKILL in the middle of it.
        written: dict[str, str] = {}  # id -> title, every store a server acknowledged
        killed = anyio.Event()
        acked_by_third = 0

        async def writer(number: int) -> None:
            nonlocal acked_by_third
            target = number % 3
            try:
                async with http_client(servers[target].url, token_of[number]) as client:
                    for step in range(3):
                        title = f"Storm note {number}-{step}: shard rebalancing for tenant {number * 7 + step}"
                        result = await client.call_tool(
                            "store_solution",
                            {
                                "problem": title,
                                "solution": f"move shard {step} of tenant {number} last",
                                "language": "go",
                            },
                        )
                        if result.is_error:
                            raise RuntimeError(error_text(result))
                        written[result.structured_content["id"]] = title
                        if target == 2:
                            acked_by_third += 1
                            if acked_by_third == 10:
                                servers[2].kill_hard()
                                killed.set()
            except Exception:  # only calls to the killed server may fail, and none of those was acknowledged
                if not (target == 2 and killed.is_set()):
                    raise

        with anyio.fail_after(300):
            async with anyio.create_task_group() as group:
                for number in range(AGENTS):
                    group.start_soon(writer, number)
        assert killed.is_set() and acked_by_third >= 10
        for survivor in servers[:2]:
            async with http_client(survivor.url, token_of[5]) as client:
                for memory_id, title in written.items():
                    assert (await tool(client, "get_memory", id=memory_id))["fields"]["problem"] == title

        # Two new servers with empty data dirs see every memory, with its counts.
        total = len(written) + 4
        with started(["four", "five"], chroma_url) as fresh_servers:
            for fresh in fresh_servers:
                async with http_client(fresh.url, token_of[6]) as client:
                    stats = await tool(client, "memory_stats")
                    assert stats["total"] >= total  # stores of the killed server that it never acknowledged
                    assert {memory_id: await counts(client, memory_id) for memory_id in expected} == expected
                    for memory_id, title in written.items():
                        assert (await tool(client, "get_memory", id=memory_id))["fields"]["problem"] == title
                    assert (await tool(client, "recall_error_solutions", error_message=message))["results"][0][
                        "id"
                    ] == error["id"]


async def test_one_episode_written_through_three_servers_has_one_gap_free_sequence(
    tmp_path: Path, postgres_url: str
) -> None:
    names = ["one", "two", "three"]
    with (
        chroma_server(tmp_path / "chroma-data") as chroma_url,
        http_servers(
            [tmp_path / name for name in names], tmp_path, chroma_url=chroma_url, database_url=postgres_url, names=names
        ) as servers,
    ):
        async with (
            http_client(servers[0].url) as via_one,
            http_client(servers[1].url) as via_two,
            http_client(servers[2].url) as via_three,
        ):
            clients = [via_one, via_two, via_three]
            episode = (
                await tool(
                    via_one, "start_episode", task="Shard the billing tables by tenant", agent_role="ORCHESTRATOR"
                )
            )["episode_id"]
            seqs: list[int] = []

            async def record(client: Any, number: int) -> None:
                for step in range(10):
                    recorded = await tool(
                        client,
                        "record_event",
                        episode_id=episode,
                        event_type="code_generation",
                        agent_role=f"WORKER_{number}",
                        data={"step": step},
                    )
                    seqs.append(recorded["seq"])

            with anyio.fail_after(120):
                async with anyio.create_task_group() as group:
                    for number, client in enumerate(clients):
                        group.start_soon(record, client, number)
            assert sorted(seqs) == list(range(1, 31))  # one sequence, no gaps, no repeats, across three servers

            await tool(via_three, "end_episode", episode_id=episode, success=True, summary="billing sharded by tenant")
            for client in clients:  # every server answers for the episode, its events in one order
                replay = await tool(client, "get_episode", episode_id=episode)
                assert [event["seq"] for event in replay["events"]] == list(range(1, 31))
                assert replay["episode"]["status"] == "ended"
                listed = await tool(client, "list_episodes")
                assert episode in {item["episode_id"] for item in listed["episodes"]}
            similar = await tool(via_two, "recall_similar_episodes", task_description="shard billing tables per tenant")
            assert similar["results"][0]["episode_id"] == episode
