"""A swarm on one HTTP server: many concurrent clients, mixed operations, nothing lost.

Set MCP_MEMORY_SWARM_OPS to change the operations per client (default 200).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.processes import error_text, http_client, http_server, tool

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CLIENTS = 16
OPS_PER_CLIENT = int(os.environ.get("MCP_MEMORY_SWARM_OPS", "200"))
SHARED_ERROR = {
    "error_message": "TimeoutError: the shared staging database did not answer in 30 s",
    "context": "integration tests against staging",
    "resolution": "raise the pool timeout and retry once",
    "success": True,
}
# One round of what an agent does, repeated: 6 stores (one of them the same fix every agent stores), 6 events
# into the shared episode, 8 reads.
ROUND = [
    "store_solution",
    "recall_solutions",
    "record_event",
    "store_code_pattern",
    "search_memory",
    "record_event",
    "store_error_resolution",
    "recall_similar_patterns",
    "record_event",
    "recall_error_solutions",
    "store_solution",
    "search_memory",
    "record_event",
    "store_code_pattern",
    "recall_solutions",
    "record_event",
    "store_shared_error",
    "recall_error_solutions",
    "record_event",
    "recall_similar_patterns",
]


def operation(agent: int, step: int, episode_id: str) -> tuple[str, dict[str, Any]]:
    """The step-th operation of one agent; every store is new content except the shared error."""
    kind = ROUND[step % len(ROUND)]
    role = f"agent-{agent:02d}"
    tag = f"{agent}-{step}"
    if kind == "store_solution":
        return kind, {
            "problem": f"Cache invalidation for tenant {tag} after a schema change",
            "solution": f"Version the cache key with the schema hash ({tag}) and drop old keys lazily.",
            "language": "python",
            "agent_role": role,
        }
    if kind == "store_code_pattern":
        return kind, {
            "pattern_name": f"Bounded retry {tag}",
            "code": f"def retry_{agent}_{step}(call):\n"
            f"    for attempt in range({step % 5 + 2}):\n        try:\n            return call()\n"
            "        except OSError:\n            continue\n    raise RuntimeError('gave up')",
            "language": "python",
            "context": f"flaky network calls, case {tag}",
            "agent_role": role,
        }
    if kind == "store_error_resolution":
        return kind, {
            "error_message": f"KeyError: 'tenant_{tag}' in settings loader",
            "context": "boot",
            "resolution": f"add tenant_{tag} to the defaults table",
            "success": step % 3 != 0,
            "agent_role": role,
        }
    if kind == "store_shared_error":
        return "store_error_resolution", {**SHARED_ERROR, "agent_role": role}
    if kind == "record_event":
        return kind, {
            "episode_id": episode_id,
            "event_type": "step",
            "agent_role": role,
            "data": {"agent": agent, "step": step},
        }
    if kind == "recall_solutions":
        return kind, {"problem": "cache invalidation after a schema change", "n_results": 3}
    if kind == "recall_similar_patterns":
        return kind, {"description": "retry a flaky network call", "language": "python"}
    if kind == "recall_error_solutions":
        return kind, {"error_message": "KeyError in the settings loader"}
    return "search_memory", {"query": "staging database timeout", "n_results": 5}


async def test_sixteen_http_clients_mixed_operations_lose_nothing(tmp_path: Path) -> None:
    errors: list[str] = []
    stored: dict[str, tuple[str, str]] = {}  # id -> (title field value, agent) for every acknowledged store
    shared_acks: list[str] = []
    shared_voters: set[str] = set()
    event_seqs: list[int] = []
    counts: Counter[str] = Counter()

    with http_server(tmp_path / "store", tmp_path) as server:
        async with http_client(server.url) as admin:
            episode_id = (await tool(admin, "start_episode", task="swarm load", agent_role="ORCHESTRATOR"))[
                "episode_id"
            ]
            await tool(admin, "memory_stats")  # the model and store are loaded before the clock starts

        async def agent(number: int) -> None:
            async with http_client(server.url) as client:
                for step in range(OPS_PER_CLIENT):
                    name, arguments = operation(number, step, episode_id)
                    try:
                        result = await client.call_tool(name, arguments)
                    except Exception as exc:
                        errors.append(f"{name} by {number}: {exc!r}")
                        continue
                    counts[name] += 1
                    if result.is_error:
                        errors.append(f"{name} by {number}: {error_text(result)}")
                        continue
                    answer = result.structured_content
                    if name == "record_event":
                        event_seqs.append(answer["seq"])
                    elif name.startswith("store_"):
                        if arguments.get("error_message") == SHARED_ERROR["error_message"]:
                            shared_acks.append(answer["id"])
                            shared_voters.add(arguments.get("agent_role") or "local")
                        else:
                            assert not answer["duplicate"], answer
                            title = (
                                arguments.get("problem") or arguments.get("pattern_name") or arguments["error_message"]
                            )
                            stored[answer["id"]] = (title, arguments["agent_role"])

        started = time.monotonic()
        with anyio.fail_after(600):
            async with anyio.create_task_group() as group:
                for number in range(CLIENTS):
                    group.start_soon(agent, number)
        elapsed = time.monotonic() - started
        total_ops = sum(counts.values())
        print(
            f"\n{total_ops} operations by {CLIENTS} clients in {elapsed:.1f} s ({total_ops / elapsed:.0f}/s): "
            f"{dict(counts)}; errors: {len(errors)}"
        )
        assert errors == []
        assert total_ops == CLIENTS * OPS_PER_CLIENT

        # Every acknowledged write is readable, with its content and the agent that wrote it.
        lost: list[str] = []
        async with http_client(server.url) as reader:

            async def check(ids: list[str]) -> None:
                for memory_id in ids:
                    result = await reader.call_tool("get_memory", {"id": memory_id})
                    if result.is_error:
                        lost.append(memory_id)
                        continue
                    title, agent_name = stored[memory_id]
                    assert result.structured_content["title"] == title
                    assert result.structured_content["agent_role"] == agent_name

            ids = sorted(stored)
            with anyio.fail_after(300):
                async with anyio.create_task_group() as group:
                    for part in range(8):
                        group.start_soon(check, ids[part::8])
            assert lost == [], f"{len(lost)} acknowledged writes are missing"

            # The same fix stored by every agent is one record that counted every store.
            assert len(set(shared_acks)) == 1
            shared = await tool(reader, "get_memory", id=shared_acks[0])
            assert shared["usage_count"] == len(shared_acks)
            assert shared["success_count"] == len(shared_voters)  # every store a use; each agent one vote

            stats = await tool(reader, "memory_stats")
            assert stats["total"] == len(stored) + 1

            # Events: numbered 1..N without gaps or repeats, every acknowledged seq among them.
            replay = await tool(reader, "get_episode", episode_id=episode_id, max_events=10_000)
            seqs = [event["seq"] for event in replay["events"]]
            assert seqs == list(range(1, len(event_seqs) + 1))
            assert sorted(event_seqs) == seqs
        print(
            f"acknowledged stores: {len(stored)} distinct + {len(shared_acks)} shared; events: {len(event_seqs)}; "
            f"lost: {len(lost)}"
        )
