"""report_outcome: agents say whether a recalled memory worked; ranking follows the smoothed success rate.

Counters count agents, not calls (each agent's latest vote). Without tokens an agent is named by its agent_role
(or "local"); with tokens, by its token alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import BOTH_DATABASES, call, call_error

pytestmark = [pytest.mark.anyio, BOTH_DATABASES]

ERROR = "ModuleNotFoundError: No module named 'fastapi'"


async def store_fix(client: Any, resolution: str) -> str:
    stored = await call(
        client,
        "store_error_resolution",
        error_message=ERROR,
        context="starting the API",
        resolution=resolution,
        success=True,
    )
    return str(stored["id"])


async def test_report_outcome_counts_and_returns_the_smoothed_rate(client: Any) -> None:
    memory_id = await store_fix(client, "pip install fastapi")

    worked = await call(client, "report_outcome", memory_id=memory_id, success=True, agent_role="WORKER_BACKEND")
    failed = await call(
        client,
        "report_outcome",
        memory_id=memory_id,
        success=False,
        note="uvicorn was missing too",
        agent_role="QA_SENTINEL",
    )

    assert (worked["success_count"], worked["failure_count"], worked["success_rate"]) == (2, 0, 0.75)
    assert (failed["success_count"], failed["failure_count"], failed["success_rate"]) == (2, 1, 0.6)
    assert (failed["outcome"], failed["flagged"], failed["usage_count"]) == ("mixed", False, 3)
    assert failed["message"] == "Recorded: did not work. Success rate now 0.60 (2 worked, 1 failed)."
    record = await call(client, "get_memory", id=memory_id)
    assert (record["success_count"], record["failure_count"], record["outcome"]) == (2, 1, "mixed")


async def test_among_equally_relevant_fixes_the_proven_one_wins(client: Any) -> None:
    first = await store_fix(client, "pip install fastapi")
    second = await store_fix(client, "python -m pip install fastapi")
    before = await call(client, "recall_error_solutions", error_message=ERROR, n_results=2)
    underdog = before["results"][1]["id"]

    await call(client, "report_outcome", memory_id=underdog, success=True, agent_role="REVIEWER")
    after = await call(client, "recall_error_solutions", error_message=ERROR, n_results=2)

    assert {first, second} == {hit["id"] for hit in after["results"]}
    assert after["results"][0]["id"] == underdog
    assert "worked 2x (success rate 0.75)" in after["results"][0]["why"]


async def test_a_fix_that_keeps_failing_sinks_and_is_flagged(client: Any) -> None:
    failing = await store_fix(client, "pip install fast-api")
    steady = await store_fix(client, "pip install fastapi")
    for role, note in (("QA", "no such package"), ("REVIEWER", "still no such package"), ("WORKER", "")):
        report = await call(client, "report_outcome", memory_id=failing, success=False, note=note, agent_role=role)
    assert report["flagged"] is True
    assert report["message"].endswith("It keeps failing: recall ranks it lower and flags it.")

    recalled = await call(client, "recall_error_solutions", error_message=ERROR, n_results=2)

    assert [hit["id"] for hit in recalled["results"]] == [steady, failing]
    why = recalled["results"][1]["why"]
    assert "KEEPS FAILING: failed 3 of 4 times (success rate 0.33)" in why
    assert "the last failure's note is in last_failure_note" in why  # another agent's words stay out of the prose
    assert recalled["results"][1]["last_failure_note"] == "still no such package"
    assert recalled["results"][0]["last_failure_note"] is None
    assert recalled["results"][0]["score"] - recalled["results"][1]["score"] > 0.15


async def test_report_outcome_on_an_unknown_id_is_a_tool_error_and_changes_nothing(client: Any) -> None:
    message = await call_error(client, "report_outcome", memory_id="err_nope", success=True)
    assert "No memory with id 'err_nope'" in message

    blank = await call_error(client, "report_outcome", memory_id="  ", success=True)
    assert "memory_id" in blank


async def test_an_agent_that_repeats_itself_counts_once_and_may_change_its_mind(client: Any) -> None:
    memory_id = await store_fix(client, "pip install fastapi")  # "local" says it worked
    for _ in range(30):
        stuffed = await call(client, "report_outcome", memory_id=memory_id, success=True, agent_role="WORKER_1")
    assert (stuffed["success_count"], stuffed["failure_count"], stuffed["usage_count"]) == (2, 0, 31)
    changed = await call(
        client, "report_outcome", memory_id=memory_id, success=False, agent_role="WORKER_1", note="broke on alpine"
    )
    assert (changed["success_count"], changed["failure_count"]) == (1, 1)  # its vote moved; the others stay
    again = await call(
        client,
        "store_error_resolution",
        error_message=ERROR,
        context="starting the API",
        resolution="pip install fastapi",
        success=True,
    )
    assert (again["success_count"], again["failure_count"], again["duplicate"]) == (1, 1, True)  # local voted already
