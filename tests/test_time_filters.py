"""since and until: recall and search keep what was stored in a time window, given as an age or an ISO date/time;
results say how old they are in words."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.errors import InvalidInput
from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.memory.moments import TimeWindow, age_in_words, parse_moment
from mcp_memory.memory.records import MemoryDraft, content_hash, memory_id, new_metadata
from mcp_memory.storage.store import StoredItem
from tests.conftest import call, call_error

pytestmark = pytest.mark.anyio

DAY = 86_400.0
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def stored_days_ago(app: MemoryApp, draft: MemoryDraft, days: float) -> str:
    """Write a memory as a store ``days`` ago would have left it (its row and vector carry that time)."""
    digest = content_hash(draft.type, draft.identity_text)
    item = StoredItem(
        memory_id(draft.type, digest), draft.content, new_metadata(draft, digest, time.time() - days * DAY)
    )
    app.store.add(draft.type, [item], app.embedder.encode([draft.embed_text]))
    app.memory.mark_changed()
    return item.id


def ids(result: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in result["results"]]


# -- reading times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds_before_now"),
    [
        ("90m", 5400),
        ("36h", 36 * 3600),
        ("7d", 7 * DAY),
        ("2w", 14 * DAY),
        ("1.5h", 5400),
        ("45s", 45),
        ("3D", 3 * DAY),
    ],
)
def test_an_age_is_that_long_before_now(text: str, seconds_before_now: float) -> None:
    assert parse_moment(text, "since", now=NOW) == NOW - seconds_before_now


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T14:30:00", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        ("2026-03-01T14:30:00Z", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
        ("2026-03-01T16:30:00+02:00", datetime(2026, 3, 1, 14, 30, tzinfo=UTC)),
    ],
)
def test_an_iso_time_is_utc_unless_it_says_otherwise(text: str, moment: datetime) -> None:
    assert parse_moment(text, "since") == moment.timestamp()


def test_an_until_date_includes_the_whole_day_it_names() -> None:
    window = TimeWindow.of("2026-03-01", "2026-03-01")
    assert window.holds(datetime(2026, 3, 1, 0, 0, tzinfo=UTC).timestamp())
    assert window.holds(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp())
    assert not window.holds(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    assert not window.holds(datetime(2026, 2, 28, 23, 59, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("since", "until", "field", "problem"),
    [
        ("yesterday", None, "since", "'yesterday' is neither an ISO date/time nor an age"),
        (None, "3 dayz", "until", "'3 dayz' is neither an ISO date/time nor an age"),
        ("2026-13-45", None, "since", "neither an ISO date/time nor an age"),
        ("", None, "since", "must not be empty"),
        ("7d", "14d", "since", "'7d' is after until '14d'"),
    ],
)
def test_a_time_that_cannot_be_read_names_its_field(
    since: str | None, until: str | None, field: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        TimeWindow.of(since, until)
    assert raised.value.field == field and problem in raised.value.problem


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (5, "just now"),
        (59, "just now"),
        (60, "1 minute ago"),
        (50 * 60, "50 minutes ago"),
        (3600, "1 hour ago"),
        (23 * 3600, "23 hours ago"),
        (DAY, "1 day ago"),
        (3 * DAY, "3 days ago"),
        (13 * DAY, "13 days ago"),
        (14 * DAY, "2 weeks ago"),
        (59 * DAY, "8 weeks ago"),
        (90 * DAY, "3 months ago"),
        (800 * DAY, "2 years ago"),
    ],
)
def test_an_age_in_words(seconds: float, words: str) -> None:
    assert age_in_words(NOW - seconds, NOW) == words


# -- the tools -------------------------------------------------------------------------------------


async def test_since_and_until_keep_the_memories_stored_in_the_window(app: MemoryApp, client: Any) -> None:
    message = "ModuleNotFoundError: No module named 'yaml'"
    old = stored_days_ago(app, error_draft(message, "old deploy", "pip install pyyaml==5", True), 10)
    new = await call(
        client,
        "store_error_resolution",
        error_message=message,
        context="deploy",
        resolution="pip install pyyaml",
        success=True,
    )

    def recalled(**window: str) -> Any:
        return call(client, "recall_error_solutions", error_message=message, n_results=5, **window)

    assert set(ids(await recalled())) == {old, new["id"]}
    assert ids(await recalled(since="7d")) == [new["id"]]
    assert ids(await recalled(until="7d")) == [old]
    assert ids(await recalled(since="14d", until="7d")) == [old]
    assert ids(await recalled(since="90m")) == [new["id"]]

    # Absolute bounds on both sides of the new memory's own time.
    created = datetime.fromisoformat((await call(client, "get_memory", id=new["id"]))["created_at"])
    before, after = (created - timedelta(seconds=1)).isoformat(), (created + timedelta(seconds=1)).isoformat()
    assert ids(await recalled(since=before)) == [new["id"]]
    assert ids(await recalled(since=after)) == []
    assert ids(await recalled(until=before)) == [old]
    assert set(ids(await recalled(until=after))) == {old, new["id"]}

    nothing = await recalled(since=after)
    assert nothing["note"].startswith("Nothing matches these filters.")
    ages = {hit["id"]: hit["created_ago"] for hit in (await recalled())["results"]}
    assert ages == {old: "10 days ago", new["id"]: "just now"}


async def test_every_recall_tool_and_search_take_a_window(app: MemoryApp, client: Any) -> None:
    code = "def paginate(query, page, size):\n    return query.offset(page * size).limit(size)\n"
    pattern = stored_days_ago(app, pattern_draft("paginate", code, "python", "SQLAlchemy pages", {}, []), 30)
    solution = stored_days_ago(app, solution_draft("Paginate a SQLAlchemy query", code, "python", "", {}), 30)
    fresh = await call(
        client, "store_solution", problem="Paginate a SQLAlchemy query fast", solution=code + "# keyset\n"
    )

    patterns = await call(client, "recall_similar_patterns", description="paginate a query", until="2w")
    assert ids(patterns) == [pattern] and patterns["results"][0]["created_ago"] == "4 weeks ago"
    assert ids(await call(client, "recall_similar_patterns", description="paginate a query", since="2w")) == []
    solutions = await call(client, "recall_solutions", problem="paginate a query", since="1d", n_results=5)
    assert ids(solutions) == [fresh["id"]]
    assert solution in ids(await call(client, "recall_solutions", problem="paginate a query", until="1d"))
    searched = await call(client, "search_memory", query="paginate a query", since="31d", until="29d", n_results=10)
    assert set(ids(searched)) == {pattern, solution}
    also_where = await call(
        client, "search_memory", query="paginate", where={"language": "python"}, until="2w", memory_types=["pattern"]
    )
    assert ids(also_where) == [pattern]

    def suggested(**window: str) -> Any:
        return call(client, "suggest_patterns", task_description="paginate a SQLAlchemy query", **window)

    assert ids(await suggested(until="2w")) == [pattern]
    recent = await suggested(language="python", since="2w")
    assert recent["results"] == [] and recent["cached"] is False
    assert (
        recent["note"]
        == "No stored pattern matches yet. (Only python patterns stored in the time window given were searched.)"
    )
    assert ids(await suggested()) == [pattern]  # the same question without a window is not answered from its cache


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"since": "last tuesday"}, "since"),
        ({"until": "3 dayz"}, "until"),
        ({"since": "1d", "until": "2d"}, "since"),
        ({"since": ""}, "since"),
    ],
)
@pytest.mark.parametrize(
    ("tool", "query"),
    [
        ("recall_error_solutions", {"error_message": "boom"}),
        ("recall_solutions", {"problem": "boom"}),
        ("recall_similar_patterns", {"description": "boom"}),
        ("search_memory", {"query": "boom"}),
        ("suggest_patterns", {"task_description": "boom"}),
    ],
)
async def test_a_bad_window_is_a_tool_error_naming_the_field(
    client: Any, tool: str, query: dict[str, str], window: dict[str, str], field: str
) -> None:
    text = await call_error(client, tool, **query, **window)
    assert f"Invalid '{field}'" in text
    assert "7d" in text  # the example says how to write one
