"""One bad agent cannot outvote the others: over HTTP an agent is its token, and its reports count once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import http_client, http_server, serve_env, tool

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ALICE, BOB = "alice-token-6d1f0c9a", "bob-token-2b8e5a71"
ERROR = "ModuleNotFoundError: No module named 'yaml'"


async def test_ballot_stuffing_by_one_token_counts_as_one_vote_whatever_role_it_claims(tmp_path: Path) -> None:
    env = serve_env(MCP_MEMORY_TOKENS=f"alice:{ALICE},bob:{BOB}")
    with http_server(tmp_path / "data", tmp_path, env=env) as server:
        async with http_client(server.url, ALICE) as alice, http_client(server.url, BOB) as bob:
            hers = await tool(alice, "store_error_resolution", error_message=ERROR, context="fresh venv",
                              resolution="pip install pyyaml", success=True)
            his = await tool(bob, "store_error_resolution", error_message=ERROR, context="fresh venv",
                             resolution="pip install yaml-tools", success=True)
            for number in range(30):  # a new role each time: a label, not an identity
                await tool(bob, "report_outcome", memory_id=his["id"], success=True, agent_role=f"QA_{number}")
                await tool(bob, "report_outcome", memory_id=hers["id"], success=False, agent_role=f"QA_{number}")

            mine = await tool(alice, "get_memory", id=hers["id"])
            theirs = await tool(alice, "get_memory", id=his["id"])
            assert (mine["success_count"], mine["failure_count"]) == (1, 1)  # alice's store, bob's one vote
            assert (theirs["success_count"], theirs["failure_count"]) == (1, 0)  # bob's own vote, once
            assert mine["usage_count"] == theirs["usage_count"] == 31  # every call is still a use
            recalled = await tool(alice, "recall_error_solutions", error_message=ERROR, n_results=2)
            assert "worked 31" not in " ".join(hit["why"] for hit in recalled["results"])
