"""Tool input schemas that strict agent frameworks accept: known keys typed, free-form only where it must be."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import call

pytestmark = pytest.mark.anyio

# Free-form by nature: custom metadata, Chroma filters, an episode's context and an event's data.
FREE_FORM = {
    "add_custom_knowledge": "metadata",
    "search_memory": "where",
    "start_episode": "context",
    "record_event": "data",
}


async def test_every_tool_but_the_free_form_ones_passes_openai_agents_strict_conversion(client: Any) -> None:
    strict = pytest.importorskip("agents.strict_schema", reason="openai-agents is a dev dependency")
    from agents.exceptions import UserError

    failing: dict[str, str] = {}
    for tool in (await client.list_tools()).tools:
        try:
            strict.ensure_strict_json_schema(dict(tool.input_schema))
        except UserError as exc:  # the framework would refuse the tool
            failing[tool.name] = str(exc)[:80]
    assert set(failing) == set(FREE_FORM), failing


@pytest.mark.parametrize(
    ("tool", "argument", "keys"),
    [
        ("store_code_pattern", "success_metrics", {"success_rate", "tests_passed"}),
        ("end_episode", "metrics", {"tests_passed", "duration_s"}),
        ("extract_from_consensus", "winner_candidate", {"code", "language", "agent_role", "score"}),
        ("extract_from_consensus", "task_context", {"description", "language"}),
        ("extract_from_consensus", "consensus_result", {"score", "scores", "votes", "num_candidates", "success"}),
    ],
)
async def test_objects_with_known_keys_are_typed(client: Any, tool: str, argument: str, keys: set[str]) -> None:
    schema = next(t.input_schema for t in (await client.list_tools()).tools if t.name == tool)
    prop = schema["properties"][argument]
    ref = prop.get("$ref") or next(o["$ref"] for o in prop.get("anyOf", []) if "$ref" in o)
    typed = schema["$defs"][ref.rsplit("/", 1)[1]]
    assert keys <= set(typed["properties"])
    assert "additionalProperties" not in typed


async def test_keys_beyond_the_typed_ones_are_kept(client: Any) -> None:
    stored = await call(
        client,
        "store_solution",
        problem="Paginate a table",
        solution="WHERE id > :last LIMIT 100",
        success_metrics={"success_rate": 1.0, "pages_checked": 40},
    )
    record = await call(client, "get_memory", id=stored["id"])
    assert record["fields"]["success_metrics"] == {"success_rate": 1.0, "pages_checked": 40}
