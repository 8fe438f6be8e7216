"""The tools and resources as an agent uses them: a real MCP client, real Chroma and the real model."""

from __future__ import annotations

import inspect
import json
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.server import build_server
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import BOTH_DATABASES, REPO_ROOT, as_a_new_process, call, call_error
from tests.prompt_blocks import blocks

pytestmark = pytest.mark.anyio

FASTAPI_ERROR = "ModuleNotFoundError: No module named 'fastapi'"
FASTAPI_FIX = "pip install fastapi uvicorn"

SINGLETON = "class Config:\n    _instance = None\n"
FACTORY_TS = (
    "export function makeShape(kind: string): Shape {\n  return kind === 'circle' ? new Circle() : new Square();\n}\n"
)

TOOLS = {
    "store_code_pattern",
    "recall_similar_patterns",
    "store_solution",
    "recall_solutions",
    "store_error_resolution",
    "recall_error_solutions",
    "search_memory",
    "get_memory",
    "delete_memory",
    "memory_stats",
    "add_custom_knowledge",
    "seed_initial_knowledge",
}
STORE_TOOLS = {
    "store_code_pattern",
    "store_solution",
    "store_error_resolution",
    "add_custom_knowledge",
    "seed_initial_knowledge",
}
READ_TOOLS = TOOLS - STORE_TOOLS - {"delete_memory"}
RECORD_FIELDS = {
    "id", "type", "title", "content", "language", "fields", "tags", "metadata", "source", "agent", "agent_role",
    "project", "created_at", "created_ago", "updated_at", "updated_ago", "content_hash", "usage_count",
    "success_count", "failure_count", "outcome", "trusted",
}  # fmt: skip
# get_memory adds whether recall returns the memory and its links.
STATE_FIELDS = {"status", "status_note", "status_at", "superseded_by", "merged_into", "last_used_at", "links"}


@asynccontextmanager
async def connect(app: MemoryApp) -> AsyncIterator[Any]:
    """A fresh in-memory MCP client for ``app``."""
    async with Client(build_server(app)) as connected:
        yield connected


async def store_pattern(client: Any, name: str, code: str, language: str, **extra: Any) -> dict[str, Any]:
    return await call(
        client,
        "store_code_pattern",
        pattern_name=name,
        code=code,
        language=language,
        context=extra.pop("context", ""),
        **extra,
    )


async def store_error(
    client: Any, error: str, resolution: str, success: bool, context: str = "", agent_role: str | None = None
) -> dict[str, Any]:
    return await call(
        client,
        "store_error_resolution",
        error_message=error,
        context=context,
        resolution=resolution,
        agent_role=agent_role,
        success=success,
    )


async def read_text(client: Any, uri: str) -> str:
    result = await client.read_resource(uri)
    return result.contents[0].text


# -- patterns, solutions, errors -------------------------------------------------------------------


@BOTH_DATABASES
async def test_recall_similar_patterns_returns_the_stored_pattern_and_language_filter_excludes_others(
    client: Any,
) -> None:
    stored = await store_pattern(
        client,
        "Thread-safe singleton config",
        SINGLETON,
        "Python",
        context="One config object per process",
        tags=["singleton", "config"],
        success_metrics={"success_rate": 1.0},
    )
    await store_pattern(client, "Shape factory", FACTORY_TS, "ts", context="Create shapes by kind")

    recalled = await call(client, "recall_similar_patterns", description="a single shared configuration instance")
    assert recalled["results"][0]["id"] == stored["id"]
    top = recalled["results"][0]
    assert (top["type"], top["language"], top["content"]) == ("pattern", "python", SINGLETON)
    assert top["tags"] == ["singleton", "config"]
    assert top["fields"]["success_metrics"] == {"success_rate": 1.0}

    python_only = await call(
        client,
        "recall_similar_patterns",
        description="factory that creates shapes",
        language="python",
        n_results=10,
    )
    assert [hit["language"] for hit in python_only["results"]] == ["python"]
    typescript = await call(client, "recall_similar_patterns", description="factory that creates shapes", language="TS")
    assert [hit["title"] for hit in typescript["results"]] == ["Shape factory"]


async def test_recall_solutions_returns_the_stored_solution(client: Any) -> None:
    stored = await call(
        client,
        "store_solution",
        problem="Paginate a large SQL table without OFFSET",
        solution="SELECT * FROM items WHERE id > :last_id ORDER BY id LIMIT 100",
        language="sql",
        context="Keyset pagination; OFFSET scans every skipped row",
    )
    await call(
        client,
        "store_solution",
        problem="Center a div horizontally",
        solution="margin: 0 auto;",
        language="css",
    )

    recalled = await call(client, "recall_solutions", problem="page through millions of rows efficiently")
    top = recalled["results"][0]
    assert top["id"] == stored["id"]
    assert top["type"] == "solution"
    assert "WHERE id > :last_id" in top["content"]
    assert top["fields"]["problem"] == "Paginate a large SQL table without OFFSET"
    only_css = await call(client, "recall_solutions", problem="page through rows", language="css")
    assert [hit["language"] for hit in only_css["results"]] == ["css"]


async def test_recall_error_solutions_finds_the_fastapi_fix_first_among_seeded_errors(client: Any) -> None:
    seeded = await call(client, "seed_initial_knowledge")
    assert seeded["common_errors"] == 4
    stored = await store_error(client, FASTAPI_ERROR, FASTAPI_FIX, True, context="Starting FastAPI server")

    recalled = await call(client, "recall_error_solutions", error_message="Cannot import fastapi")

    top = recalled["results"][0]
    assert top["id"] == stored["id"]
    assert top["outcome"] == "worked"
    assert top["fields"]["resolution"] == FASTAPI_FIX
    assert FASTAPI_FIX in top["content"]
    assert (top["success_count"], top["failure_count"]) == (1, 0)


async def test_a_failed_attempt_is_marked_failed_and_ranks_below_the_working_fix(client: Any) -> None:
    failed = await store_error(client, FASTAPI_ERROR, "pip install fast-api", False, context="Starting FastAPI server")
    worked = await store_error(client, FASTAPI_ERROR, FASTAPI_FIX, True, context="Starting FastAPI server")
    assert failed["id"] != worked["id"]

    recalled = await call(client, "recall_error_solutions", error_message=FASTAPI_ERROR)

    assert [hit["id"] for hit in recalled["results"]] == [worked["id"], failed["id"]]
    attempt = recalled["results"][1]
    assert attempt["outcome"] == "failed"
    assert (attempt["success_count"], attempt["failure_count"]) == (0, 1)
    assert "did NOT work" in attempt["content"]
    assert "not a fix" in attempt["why"]
    assert recalled["results"][0]["score"] > attempt["score"]


@BOTH_DATABASES
async def test_storing_the_same_content_twice_counts_a_reuse_instead_of_a_copy(client: Any) -> None:
    first = await store_pattern(client, "Singleton", SINGLETON, "python")
    # Same code modulo indentation and line endings is the same pattern.
    second = await store_pattern(client, "Singleton again", "    " + SINGLETON.replace("\n", "\r\n    "), "py")

    assert (first["duplicate"], first["usage_count"]) == (False, 1)
    assert (second["duplicate"], second["id"], second["usage_count"]) == (True, first["id"], 2)
    stats = await call(client, "memory_stats")
    assert stats["total"] == 1
    assert stats["by_type"]["pattern"] == 1
    assert (await call(client, "get_memory", id=first["id"]))["usage_count"] == 2


@BOTH_DATABASES
async def test_a_fix_that_worked_once_and_failed_once_is_mixed(client: Any) -> None:
    worked = await store_error(client, "OSError: [Errno 24] Too many open files", "ulimit -n 4096", True)
    failed = await store_error(
        client, "OSError: [Errno 24] Too many open files", "ulimit -n 4096", False, agent_role="QA_SENTINEL"
    )  # another agent's experience

    assert failed["id"] == worked["id"]
    assert (failed["duplicate"], failed["success_count"], failed["failure_count"]) == (True, 1, 1)
    record = await call(client, "get_memory", id=worked["id"])
    counts = {key: record[key] for key in ("outcome", "success_count", "failure_count", "usage_count")}
    assert counts == {"outcome": "mixed", "success_count": 1, "failure_count": 1, "usage_count": 2}
    recalled = await call(client, "recall_error_solutions", error_message="too many open files")
    assert recalled["results"][0]["outcome"] == "mixed"


# -- search, get, delete, stats --------------------------------------------------------------------


@BOTH_DATABASES
async def test_search_memory_spans_types_and_filters_by_type_and_metadata(client: Any) -> None:
    pattern = await store_pattern(client, "Retry HTTP with backoff", "async def retry(call): ...", "python")
    solution = await call(
        client,
        "store_solution",
        problem="HTTP requests fail intermittently",
        solution="Retry with exponential backoff",
        language="go",
    )
    error = await store_error(
        client, "httpx.ConnectTimeout: timed out", "Retry with backoff and a longer timeout", True
    )
    knowledge = await call(
        client,
        "add_custom_knowledge",
        title="Retries belong at the edge",
        content="Retry idempotent calls only.",
        knowledge_type="best_practice",
        metadata={"language": "python", "team": "platform"},
    )

    everything = await call(client, "search_memory", query="retry HTTP requests with backoff", n_results=10)
    all_ids = {pattern["id"], solution["id"], error["id"], knowledge["id"]}
    assert {hit["id"] for hit in everything["results"]} == all_ids
    scores = [hit["score"] for hit in everything["results"]]
    assert scores == sorted(scores, reverse=True)

    typed = await call(client, "search_memory", query="retry", memory_types=["solution", "error"], n_results=10)
    assert {hit["type"] for hit in typed["results"]} == {"solution", "error"}

    python = await call(client, "search_memory", query="retry", where={"language": "python"}, n_results=10)
    assert {hit["id"] for hit in python["results"]} == {pattern["id"], knowledge["id"]}

    both_keys = await call(
        client,
        "search_memory",
        query="retry",
        where={"language": "python", "source": "knowledge"},
        n_results=10,
    )
    assert [hit["id"] for hit in both_keys["results"]] == [knowledge["id"]]

    in_operator = await call(
        client, "search_memory", query="retry", where={"language": {"$in": ["go", "python"]}}, n_results=10
    )
    assert {hit["id"] for hit in in_operator["results"]} == {pattern["id"], solution["id"], knowledge["id"]}

    custom_key = await call(client, "search_memory", query="retry", where={"team": "platform"})
    assert [hit["id"] for hit in custom_key["results"]] == [knowledge["id"]]

    nothing = await call(client, "search_memory", query="retry", where={"language": "cobol"})
    assert nothing["results"] == []
    assert nothing["note"] == "Nothing matches these filters."


@BOTH_DATABASES
async def test_search_memory_filters_on_the_counters_the_database_keeps(client: Any) -> None:
    proven = await store_error(client, "TimeoutError: connection pool exhausted", "raise pool_size to 20", True)
    doubtful = await store_error(client, "TimeoutError: read timed out", "raise the read timeout", True)
    for role in ("QA_1", "QA_2"):
        await call(client, "report_outcome", memory_id=proven["id"], success=True, agent_role=role)
    await call(client, "report_outcome", memory_id=doubtful["id"], success=False, agent_role="QA_1")

    often = await call(client, "search_memory", query="timeout", where={"success_count": {"$gte": 3}})
    assert [hit["id"] for hit in often["results"]] == [proven["id"]]
    failed = await call(
        client,
        "search_memory",
        query="timeout",
        n_results=10,
        where={"$and": [{"source": "agent"}, {"failure_count": {"$gte": 1}}, {"usage_count": 2}]},
    )
    assert [hit["id"] for hit in failed["results"]] == [doubtful["id"]]
    nothing = await call(client, "search_memory", query="timeout", where={"usage_count": {"$gt": 3}})
    assert nothing["results"] == []


@BOTH_DATABASES
async def test_get_memory_returns_every_field_of_a_record(client: Any) -> None:
    stored = await call(
        client,
        "store_code_pattern",
        pattern_name="Singleton",
        code=SINGLETON,
        language="python",
        context="Shared config",
        success_metrics={"success_rate": 0.9, "tests_passed": 12},
        tags=["creational"],
        agent_role="WORKER_BACKEND",
    )

    record = await call(client, "get_memory", id=stored["id"])

    assert set(record) == RECORD_FIELDS | STATE_FIELDS
    assert {key: record[key] for key in STATE_FIELDS} == {
        "status": "active", "status_note": None, "status_at": None, "superseded_by": None, "merged_into": None,
        "last_used_at": None, "links": [],
    }  # fmt: skip
    assert record["id"] == stored["id"]
    assert (record["type"], record["title"], record["content"], record["language"]) == (
        "pattern", "Singleton", SINGLETON, "python",
    )  # fmt: skip
    assert record["fields"] == {
        "code": SINGLETON,
        "context": "Shared config",
        "success_metrics": {"success_rate": 0.9, "tests_passed": 12},
    }
    assert record["tags"] == ["creational"]
    assert (record["source"], record["agent"], record["agent_role"]) == ("agent", "local", "WORKER_BACKEND")
    counts = {key: record[key] for key in ("outcome", "success_count", "failure_count", "usage_count")}
    assert counts == {"outcome": "worked", "success_count": 1, "failure_count": 0, "usage_count": 1}
    assert len(record["content_hash"]) == 64
    assert record["created_at"] == record["updated_at"]
    assert record["created_at"].endswith("+00:00")
    assert (record["created_ago"], record["updated_ago"], record["project"]) == ("just now", "just now", "")


@BOTH_DATABASES
async def test_a_deleted_memory_is_gone(client: Any) -> None:
    stored = await store_pattern(client, "Singleton", SINGLETON, "python")

    deleted = await call(client, "delete_memory", id=stored["id"])

    assert deleted == {
        "id": stored["id"],
        "type": "pattern",
        "deleted": True,
        "title": "Singleton",
        "parts_deleted": 0,
        "deleted_by": "local",
        "reason": "",
    }
    error = await call_error(client, "get_memory", id=stored["id"])
    assert f"No memory with id '{stored['id']}'" in error
    assert (await call(client, "memory_stats"))["total"] == 0


async def test_memory_stats_counts_per_type_and_language(client: Any, app: MemoryApp) -> None:
    await store_pattern(client, "Singleton", SINGLETON, "python")
    await store_pattern(client, "Shape factory", FACTORY_TS, "typescript")
    await call(client, "store_solution", problem="Center a div", solution="margin: 0 auto;")
    await store_error(client, FASTAPI_ERROR, FASTAPI_FIX, True)

    stats = await call(client, "memory_stats")

    assert stats["total"] == 4
    assert stats["by_type"] == {"pattern": 2, "solution": 1, "error": 1, "best_practice": 0, "episode": 0}
    assert stats["by_language"] == {"python": 1, "typescript": 1, "none": 2}
    assert stats["collections"] == {
        "code_patterns": 2,
        "solutions": 1,
        "errors": 1,
        "knowledge": 0,
        "experiences": 0,
    }
    assert stats["data_dir"] == str(app.settings.data_dir)
    assert stats["chroma_url"] is None
    assert stats["size_on_disk_bytes"] > 0
    assert stats["model"] == "all-MiniLM-L6-v2"
    assert stats["model_loaded"] is True


# -- knowledge base --------------------------------------------------------------------------------


async def test_seeding_twice_adds_nothing_the_second_time(client: Any) -> None:
    first = await call(client, "seed_initial_knowledge")
    total = (await call(client, "memory_stats"))["total"]

    second = await call(client, "seed_initial_knowledge")

    assert (first["patterns"], first["best_practices"], first["common_errors"]) == (4, 3, 4)
    assert (first["added"], first["updated"], first["unchanged"]) == (11, 0, 0)
    assert second == {**first, "added": 0, "unchanged": 11}
    assert total == 11
    assert (await call(client, "memory_stats"))["total"] == total


async def test_seeded_knowledge_claims_no_use_until_an_agent_reports_one(client: Any) -> None:
    await call(client, "seed_initial_knowledge")
    record_keys = ("outcome", "usage_count", "success_count", "failure_count")

    for seed in ("seed_pattern_singleton", "seed_error_module-not-found-error"):
        record = await call(client, "get_memory", id=seed)
        assert {key: record[key] for key in record_keys} == {
            "outcome": "unknown",
            "usage_count": 0,
            "success_count": 0,
            "failure_count": 0,
        }
    await call(client, "report_outcome", memory_id="seed_pattern_singleton", success=True)
    used = await call(client, "get_memory", id="seed_pattern_singleton")
    assert (used["outcome"], used["success_count"]) == ("worked", 1)


async def test_a_seed_file_changed_on_disk_updates_its_record_in_place(tmp_path: Path, embedder: Embedder) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(REPO_ROOT / "seeds", seeds)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", seeds_dir=seeds, seed_on_start=False, _env_file=None
    )
    async with connect(MemoryApp(settings, embedder=embedder)) as client:
        await call(client, "seed_initial_knowledge")
        await call(client, "report_outcome", memory_id="seed_pattern_singleton", success=True)
        before = await call(client, "get_memory", id="seed_pattern_singleton")
        singleton = seeds / "patterns" / "singleton.md"
        singleton.write_text(singleton.read_text() + "\nPrefer a module-level instance when you can.\n")

        reseeded = await call(client, "seed_initial_knowledge")

        assert (reseeded["added"], reseeded["updated"], reseeded["unchanged"]) == (0, 1, 10)
        after = await call(client, "get_memory", id="seed_pattern_singleton")
        assert after["content"].endswith("Prefer a module-level instance when you can.")
        assert after["content_hash"] != before["content_hash"]
        assert after["created_at"] == before["created_at"]
        assert (after["usage_count"], after["success_count"]) == (before["usage_count"], 1)  # agents' reports stay
        assert (await call(client, "memory_stats"))["total"] == 11


@pytest.mark.parametrize("knowledge_type", ["pattern", "best_practice", "error", "solution"])
async def test_custom_knowledge_is_searchable_indexed_and_readable(client: Any, knowledge_type: str) -> None:
    title = f"OAuth2 token refresh ({knowledge_type})"
    content = "Refresh the access token 60 seconds before it expires; retry once on 401 with a fresh token."
    stored = await call(
        client,
        "add_custom_knowledge",
        title=title,
        content=content,
        knowledge_type=knowledge_type,
        metadata={"language": "python", "framework": "fastapi", "tags": ["auth"]},
    )

    found = await call(client, "search_memory", query="when to refresh an OAuth2 access token")
    assert found["results"][0]["id"] == stored["id"]
    assert found["results"][0]["metadata"] == {"language": "python", "framework": "fastapi", "tags": ["auth"]}
    assert found["results"][0]["source"] == "knowledge"

    uri = f"memory://knowledge/{knowledge_type}/{stored['id']}"
    index = await read_text(client, "memory://knowledge")
    assert f"## {knowledge_type}" in index
    assert f"- [{title}]({uri})" in index
    assert f"- [{title}]({uri}) (by local, {found['results'][0]['created_at'][:10]})" in index
    item = await read_text(client, uri)
    assert item.startswith("Stored by agent 'local' (knowledge) on ")
    (block,) = blocks(item)
    assert block.attributes["id"] == stored["id"]
    assert (block.attributes["agent"], block.attributes["source"], block.attributes["trusted"]) == (
        "local",
        "knowledge",
        "true",
    )
    assert block.attributes["stored"] == found["results"][0]["created_at"]
    assert block.body.startswith(f"# {title}\n")
    assert content in block.body
    assert f"kind: {knowledge_type}" in block.body


async def test_the_seeded_singleton_is_markdown_with_its_title(client: Any) -> None:
    await call(client, "seed_initial_knowledge")

    result = await client.read_resource("memory://knowledge/pattern/singleton")

    content = result.contents[0]
    assert content.mime_type == "text/markdown"
    assert content.text.startswith("Stored by the seed files (seed) on ")
    (block,) = blocks(content.text)
    assert (block.attributes["source"], block.attributes["trusted"]) == ("seed", "true")
    assert block.body.startswith("# Thread-safe singleton\n")
    assert "id: seed_pattern_singleton" in block.body
    assert "```python" in block.body
    index = await read_text(client, "memory://knowledge")
    assert "- [Thread-safe singleton](memory://knowledge/pattern/singleton)" in index
    assert "(memory://knowledge/error/module-not-found-error)" in index


async def test_stats_resource_is_json_with_the_tool_figures(client: Any) -> None:
    await store_pattern(client, "Singleton", SINGLETON, "python")

    result = await client.read_resource("memory://stats")

    assert result.contents[0].mime_type == "application/json"
    stats = json.loads(result.contents[0].text)
    assert stats["total"] == 1
    assert stats["by_type"]["pattern"] == 1
    assert stats == await call(client, "memory_stats")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("memory://knowledge/pattern/no-such-pattern", "No pattern knowledge item 'no-such-pattern'"),
        ("memory://knowledge/recipe/singleton", "Unknown knowledge kind 'recipe'"),
        ("memory://knowledge/error/singleton", "No error knowledge item 'singleton'"),
        ("memory://knowledge/pattern/", "No pattern knowledge item ''"),
        ("memory://knowledge/pattern/" + "x" * 300, "No pattern knowledge item"),
        ("memory://nothing-here", "Unknown resource"),
    ],
)
async def test_an_unknown_knowledge_resource_is_a_protocol_error(client: Any, uri: str, message: str) -> None:
    await call(client, "seed_initial_knowledge")

    with pytest.raises(MCPError, match=re.escape(message)) as raised:
        await client.read_resource(uri)
    assert raised.value.code == INVALID_PARAMS


async def test_a_knowledge_item_is_not_readable_under_another_kind(client: Any) -> None:
    stored = await call(
        client,
        "add_custom_knowledge",
        title="Validate at the edge",
        content="Parse, don't validate.",
        knowledge_type="best_practice",
    )
    assert "Validate at the edge" in await read_text(client, f"memory://knowledge/best_practice/{stored['id']}")

    with pytest.raises(MCPError, match="No pattern knowledge item"):
        await client.read_resource(f"memory://knowledge/pattern/{stored['id']}")


async def test_an_agent_memory_is_not_a_knowledge_resource(client: Any) -> None:
    stored = await store_pattern(client, "Singleton", SINGLETON, "python")

    with pytest.raises(MCPError, match="No pattern knowledge item"):
        await client.read_resource(f"memory://knowledge/pattern/{stored['id']}")


# -- persistence and the protocol surface ----------------------------------------------------------


@BOTH_DATABASES
async def test_data_survives_a_restart(settings: Settings, embedder: Embedder) -> None:
    async with connect(MemoryApp(settings, embedder=embedder)) as client:
        stored = await store_error(client, FASTAPI_ERROR, FASTAPI_FIX, True, context="Starting FastAPI server")
        await call(client, "seed_initial_knowledge")

    as_a_new_process()

    async with connect(MemoryApp(settings, embedder=embedder)) as restarted:
        record = await call(restarted, "get_memory", id=stored["id"])
        assert record["fields"]["resolution"] == FASTAPI_FIX
        recalled = await call(restarted, "recall_error_solutions", error_message="Cannot import fastapi")
        assert recalled["results"][0]["id"] == stored["id"]
        assert (await call(restarted, "memory_stats"))["total"] == 12
        again = await store_error(restarted, FASTAPI_ERROR, FASTAPI_FIX, True, context="Starting FastAPI server")
        assert (again["duplicate"], again["usage_count"]) == (True, 2)


async def test_tools_list_describes_every_tool_with_schema_and_annotations(client: Any) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for tool in tools.values():  # docstrings without their source indentation
        assert tool.description and tool.description == inspect.cleandoc(tool.description), tool.name

    assert set(tools) >= TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 30, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None, tool.name
    for name in STORE_TOOLS:
        assert tools[name].annotations.read_only_hint is False, name
        assert tools[name].annotations.destructive_hint is False, name
    for name in READ_TOOLS:
        assert tools[name].annotations.read_only_hint is True, name
    assert tools["delete_memory"].annotations.read_only_hint is False
    assert tools["delete_memory"].annotations.destructive_hint is True

    schema = tools["store_error_resolution"].input_schema
    assert set(schema["required"]) == {"error_message", "context", "resolution", "success"}
    assert schema["properties"]["success"]["type"] == "boolean"
    n_results = tools["search_memory"].input_schema["properties"]["n_results"]
    assert (n_results["minimum"], n_results["maximum"], n_results["default"]) == (1, 50, 5)
    assert '"$in"' in tools["search_memory"].description
