"""Bad arguments are tool errors naming the field and what to do; the server stays up and nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.server import build_server
from mcp_memory.memory.drafts import error_draft, pattern_draft, solution_draft
from mcp_memory.models import MEMORY_TYPES
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import call, call_error

pytestmark = pytest.mark.anyio

MAX_CHARS = 1000
TOO_LONG = "x" * (MAX_CHARS + 1)

PATTERN = {"pattern_name": "Retry", "code": "retry(call)", "language": "python", "context": "flaky calls"}
SOLUTION = {"problem": "Flaky HTTP calls", "solution": "Retry with backoff"}
ERROR = {"error_message": "TimeoutError", "context": "API call", "resolution": "more time", "success": True}
KNOWLEDGE = {"title": "Retries", "content": "Retry idempotent calls only.", "knowledge_type": "best_practice"}


def search(where: Any) -> dict[str, Any]:
    return {"query": "retry", "where": where}


def without(arguments: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if k != key}


def row(case: str, tool: str, arguments: dict[str, Any], *expected: str) -> Any:
    return pytest.param(tool, arguments, expected, id=case)


EMPTY = "must not be empty"
LIMIT = f"the limit is {MAX_CHARS:,}"
REQUIRED = "is missing"

# Each row: what the agent sent, and what the error must say (the field first).
BAD_INPUT = [
    row("empty-name", "store_code_pattern", {**PATTERN, "pattern_name": ""}, "'pattern_name'", EMPTY),
    row("blank-code", "store_code_pattern", {**PATTERN, "code": "  \n\t "}, "'code'", EMPTY),
    row("empty-language", "store_code_pattern", {**PATTERN, "language": ""}, "'language'", EMPTY),
    row("blank-tag", "store_code_pattern", {**PATTERN, "tags": ["ok", " "]}, "'tags'", EMPTY),
    row("empty-problem", "store_solution", {**SOLUTION, "problem": ""}, "'problem'", EMPTY),
    row("blank-solution", "store_solution", {**SOLUTION, "solution": "   "}, "'solution'", EMPTY),
    row("empty-error", "store_error_resolution", {**ERROR, "error_message": ""}, "'error_message'", EMPTY),
    row("blank-resolution", "store_error_resolution", {**ERROR, "resolution": "\n"}, "'resolution'", EMPTY),
    row("empty-description", "recall_similar_patterns", {"description": ""}, "'description'", EMPTY),
    row("blank-recall-problem", "recall_solutions", {"problem": " \n"}, "'problem'", EMPTY),
    row("blank-recall-error", "recall_error_solutions", {"error_message": "   "}, "'error_message'", EMPTY),
    row("empty-query", "search_memory", {"query": ""}, "'query'", EMPTY, "Pass the text"),
    row("blank-title", "add_custom_knowledge", {**KNOWLEDGE, "title": " "}, "'title'", EMPTY),
    row("empty-content", "add_custom_knowledge", {**KNOWLEDGE, "content": ""}, "'content'", EMPTY),
    row("empty-get-id", "get_memory", {"id": ""}, "'id'", EMPTY),
    row("blank-delete-id", "delete_memory", {"id": "  "}, "'id'", EMPTY),
    # oversized text (the limit is configurable, so the error says how to raise it)
    row(
        "oversized-code",
        "store_code_pattern",
        {**PATTERN, "code": TOO_LONG},
        "'code'",
        "1,001 characters",
        LIMIT,
        "MCP_MEMORY_MAX_TEXT_CHARS",
    ),
    row("oversized-context", "store_solution", {**SOLUTION, "context": TOO_LONG}, "'context'", LIMIT),
    row("oversized-error", "store_error_resolution", {**ERROR, "error_message": TOO_LONG}, "'error_message'", LIMIT),
    row("oversized-query", "search_memory", {"query": TOO_LONG}, "'query'", LIMIT),
    row("oversized-recall", "recall_error_solutions", {"error_message": TOO_LONG}, "'error_message'", LIMIT),
    row(
        "oversized-metadata",
        "add_custom_knowledge",
        {**KNOWLEDGE, "metadata": {"notes": TOO_LONG}},
        "'metadata'",
        "as JSON",
        LIMIT,
    ),
    row(
        "oversized-success-metrics",
        "store_code_pattern",
        {**PATTERN, "success_metrics": {"log": TOO_LONG}},
        "'success_metrics'",
        LIMIT,
    ),
    row("oversized-id", "get_memory", {"id": "pat_" + "0" * 300}, "'id'", "the limit is 200"),
    # wrong types
    row(
        "n_results-string",
        "recall_similar_patterns",
        {"description": "retry", "n_results": "three"},
        "n_results",
        "expected a whole number",
    ),
    row(
        "n_results-fraction",
        "recall_solutions",
        {"problem": "retry", "n_results": 2.5},
        "n_results",
        "expected a whole number",
    ),
    row(
        "success-yes",
        "store_error_resolution",
        {**ERROR, "success": "yes"},
        "'success'",
        "expected true or false",
        'Example: {"success": true}',
    ),
    row(
        "success-number", "report_outcome", {"memory_id": "err_x", "success": 1}, "'success'", "expected true or false"
    ),
    row("success-maybe", "store_error_resolution", {**ERROR, "success": "maybe"}, "success", "expected true or false"),
    row("tags-string", "store_code_pattern", {**PATTERN, "tags": "notalist"}, "tags", "expected a list"),
    row("too-many-tags", "store_code_pattern", {**PATTERN, "tags": ["t"] * 51}, "tags", "at most 50"),
    row(
        "metrics-list",
        "store_code_pattern",
        {**PATTERN, "success_metrics": [1.0]},
        "success_metrics",
        "expected a JSON object",
    ),
    row(
        "metadata-list",
        "add_custom_knowledge",
        {**KNOWLEDGE, "metadata": ["language"]},
        "metadata",
        "expected a JSON object",
    ),
    row(
        "memory_types-unknown",
        "search_memory",
        {"query": "retry", "memory_types": ["nonsense"]},
        "memory_types",
        "'pattern'",
        "'best_practice'",
    ),
    row(
        "memory_types-string",
        "search_memory",
        {"query": "retry", "memory_types": "pattern"},
        "memory_types",
        "expected a list",
    ),
    row("id-number", "get_memory", {"id": 42}, "id", "expected a string"),
    row("language-list", "store_solution", {**SOLUTION, "language": ["python"]}, "language", "expected a string"),
    # missing required fields
    row("missing-code", "store_code_pattern", without(PATTERN, "code"), "code", REQUIRED),
    row("missing-success", "store_error_resolution", without(ERROR, "success"), "success", REQUIRED),
    row("missing-problem", "recall_solutions", {}, "problem", REQUIRED),
    row(
        "missing-knowledge_type",
        "add_custom_knowledge",
        without(KNOWLEDGE, "knowledge_type"),
        "knowledge_type",
        REQUIRED,
    ),
    row("missing-id", "delete_memory", {}, "id", REQUIRED),
    # n_results out of range
    row(
        "n_results-zero",
        "recall_similar_patterns",
        {"description": "retry", "n_results": 0},
        "n_results",
        "must be at least 1",
    ),
    row(
        "n_results-negative",
        "recall_error_solutions",
        {"error_message": "TimeoutError", "n_results": -1},
        "n_results",
        "must be at least 1",
    ),
    row(
        "n_results-above-max",
        "search_memory",
        {"query": "retry", "n_results": 51},
        "n_results",
        "must be at most 50",
        'Example: {"n_results": 5}',
    ),
    # unknown knowledge type
    row(
        "knowledge_type-unknown",
        "add_custom_knowledge",
        {**KNOWLEDGE, "knowledge_type": "recipe"},
        "knowledge_type",
        "'pattern'",
        "'best_practice'",
        "'error'",
        "'solution'",
    ),
    # malformed filters: the error shows a filter that works
    row(
        "where-unknown-operator",
        "search_memory",
        search({"language": {"$regex": "py"}}),
        "'where'",
        "$regex",
        '{"language": "python"}',
    ),
    row("where-unknown-top-operator", "search_memory", search({"$foo": 1}), "'where'", "operator '$foo'"),
    row("where-list", "search_memory", search(["language", "python"]), "where", "expected a JSON object"),
    row("where-and-string", "search_memory", search({"$and": "garbage"}), "'where'", "$and"),
    row("where-or-with-number", "search_memory", search({"$or": [{"language": "python"}, 5]}), "'where'"),
    row("where-nested-garbage", "search_memory", search({"language": {"a": {"b": [1]}}}), "'where'"),
    row("where-null-value", "search_memory", search({"language": None}), "'where'"),
    row("where-in-null", "search_memory", search({"language": {"$in": [None]}}), "'where'", "$in"),
    row("where-in-empty", "search_memory", search({"language": {"$in": []}}), "'where'"),
    row("where-compare-boolean", "search_memory", search({"usage_count": {"$gte": True}}), "'where'", "$gte"),
    row("where-two-operators", "search_memory", search({"language": {"$eq": "py", "$ne": "go"}}), "'where'"),
    # unknown ids
    row(
        "get-unknown-id",
        "get_memory",
        {"id": "pat_000000000000000000000000"},
        "id 'pat_000000000000000000000000'",
        "search_memory",
    ),
    row(
        "delete-unknown-id",
        "delete_memory",
        {"id": "seed_pattern_nothing"},
        "id 'seed_pattern_nothing'",
        "search_memory",
    ),
    row("get-unprefixed-id", "get_memory", {"id": "no-prefix-at-all"}, "id 'no-prefix-at-all'"),
]

GARBAGE = [
    pytest.param("\x00\x01\x02\x7f\x1b[31m\ufffd\ufeff\u200d\u202e\U0010fffd\U000e0001", id="binary-ish"),
    pytest.param("😀" * 10_000, id="10k-emoji"),
    pytest.param('\'; DROP TABLE embeddings; -- {"$and": null} \\u0000 %s %n', id="injection-ish"),
    pytest.param("ﷺ" * 500 + "\u0301" * 500 + "𒐫" * 500, id="wide-and-combining"),
]


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> MemoryApp:
    """A small text limit, and a store with something of each kind in it that no bad call may change."""
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("bad-input") / "data",
        seed_on_start=False,
        max_text_chars=MAX_CHARS,
        _env_file=None,
    )
    app = MemoryApp(settings, embedder=embedder)
    app.knowledge.seed_blocking()
    remember = app.memory.remember_blocking
    remember(pattern_draft("Retry with backoff", "retry(call)", "python", "flaky calls", {}, ["http"]))
    remember(solution_draft("Flaky HTTP calls", "Retry with backoff", "python", "", {}))
    remember(error_draft("TimeoutError: timed out", "calling the API", "raise the timeout", True))
    return app


@pytest.fixture
async def limited_client(limited_app: MemoryApp) -> AsyncIterator[Any]:
    async with Client(build_server(limited_app)) as connected:
        yield connected


def snapshot(app: MemoryApp) -> dict[str, list[dict[str, Any]]]:
    """Every stored record's metadata (counters and timestamps included), per type."""
    return {
        memory_type: sorted(
            (meta for _, meta in app.store.scan_metadata(memory_type)), key=lambda meta: str(meta["content_hash"])
        )
        for memory_type in MEMORY_TYPES
    }


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_INPUT)
async def test_bad_input_is_a_tool_error_naming_the_field(
    limited_client: Any, tool: str, arguments: dict[str, Any], expected: tuple[str, ...]
) -> None:
    error = await call_error(limited_client, tool, **arguments)

    for text in expected:
        assert text in error, f"{text!r} not in {error!r}"
    # schema violations and our own checks read alike: the field, the problem, what to send instead
    assert error.startswith((f"Error executing tool {tool}: Invalid '", f"Error executing tool {tool}: No memory")), (
        error
    )
    assert "pydantic" not in error and "validation error" not in error and "Input should" not in error


async def test_after_every_bad_call_the_server_answers_and_nothing_stored_changed(
    limited_app: MemoryApp, limited_client: Any
) -> None:
    stats_before = await call(limited_client, "memory_stats")
    records_before = snapshot(limited_app)

    for case in BAD_INPUT:
        tool, arguments, _ = case.values
        await call_error(limited_client, tool, **arguments)

    stats_after = await call(limited_client, "memory_stats")
    assert stats_after["total"] == stats_before["total"] == 14
    assert stats_after["by_type"] == stats_before["by_type"]
    assert stats_after["by_language"] == stats_before["by_language"]
    assert snapshot(limited_app) == records_before
    recalled = await call(limited_client, "recall_error_solutions", error_message="TimeoutError: timed out")
    assert recalled["results"][0]["fields"]["resolution"] == "raise the timeout"


@pytest.mark.parametrize("garbage", GARBAGE)
@pytest.mark.parametrize(
    ("tool", "field"),
    [
        ("search_memory", "query"),
        ("recall_error_solutions", "error_message"),
        ("recall_similar_patterns", "description"),
    ],
)
async def test_garbage_text_in_a_query_is_answered_not_rejected(
    client: Any, tool: str, field: str, garbage: str
) -> None:
    await call(client, "store_code_pattern", **PATTERN)

    result = await call(client, tool, **{field: garbage})

    assert result["query"] == garbage
    assert isinstance(result["results"], list)


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_garbage_text_is_stored_and_returned_unchanged(client: Any, garbage: str) -> None:
    arguments = {**PATTERN, "code": garbage, "pattern_name": garbage[:50]}
    stored = await call(client, "store_code_pattern", **arguments)

    record = await call(client, "get_memory", id=stored["id"])

    assert record["content"] == garbage
    assert record["fields"]["code"] == garbage
    assert record["title"] == garbage[:50]


async def test_a_text_exactly_at_the_limit_is_accepted(limited_client: Any) -> None:
    recalled = await call(limited_client, "recall_solutions", problem="y" * MAX_CHARS)

    assert recalled["query"] == "y" * MAX_CHARS
