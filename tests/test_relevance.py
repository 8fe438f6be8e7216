"""Weak matches are marked, said so when nothing clears the floor, and kept out of the task prompt."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import call

pytestmark = pytest.mark.anyio

MODULE_TASK = (
    "The service fails at start with ModuleNotFoundError: No module named 'redis' after deploying to a new server"
)


async def test_a_nonsense_query_gets_only_weak_matches_and_says_there_is_no_close_match(client: Any) -> None:
    await call(client, "seed_initial_knowledge")

    found = await call(client, "search_memory", query="purple elephants dancing at midnight", n_results=10)

    assert found["results"] and all(hit["weak"] for hit in found["results"])
    assert found["note"].startswith("No close match")
    assert all(hit["why"].startswith("WEAK MATCH") for hit in found["results"])


async def test_a_close_match_is_not_weak(client: Any) -> None:
    await call(client, "seed_initial_knowledge")

    found = await call(client, "recall_error_solutions", error_message="ModuleNotFoundError: No module named 'redis'")

    top = found["results"][0]
    assert (top["id"], top["weak"]) == ("seed_error_module-not-found-error", False)
    assert found["note"] is None


async def test_the_task_prompt_leaves_out_weak_matches(client: Any) -> None:
    await call(client, "seed_initial_knowledge")

    result = await client.get_prompt("memory_informed_task", {"task_description": MODULE_TASK})
    text = result.messages[0].content.text

    assert "No module named" in text  # the seeded ModuleNotFoundError fix
    assert "NoneType" not in text  # an unrelated fix, a weak match for this task
