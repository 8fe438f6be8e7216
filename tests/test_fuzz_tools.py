"""Fuzzing every tool the server lists: arguments drawn from its input schema, then broken in every way we can.

Each answer must be a result that matches the tool's output schema or a tool error with text, never a protocol
failure, and the server must answer the next valid call. Set MCP_MEMORY_FUZZ_CALLS to change the number of
fuzzed calls (default 3000).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder

pytestmark = pytest.mark.slow

FUZZ_CALLS = int(os.environ.get("MCP_MEMORY_FUZZ_CALLS", "3000"))
CALL_TIMEOUT = 60.0

# Text that tends to break things: control characters, NUL, right-to-left marks, emoji, quotes and filter-like
# syntax. (Lone surrogates cannot leave the SDK client; test_lone_surrogates_over_the_wire sends them raw.)
NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "So", "Mn"]), max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e",
            "$and",
            "$gt",
            "' OR 1=1 --",
            '{"$ne": null}',
            "../../etc/passwd",
            "memory://knowledge/../../x",
            "ep_",
            "pat_0000",
            "\n" * 50,
            "🧠" * 100,
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    NASTY_TEXT,
)
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(NASTY_TEXT, inner, max_size=5)),
    max_leaves=10,
)


def from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that satisfy a JSON schema (the subset pydantic emits for tool inputs)."""
    if depth > 6:
        return st.none()
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(option, defs, depth + 1) for option in schema[key]])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return from_schema(schema["allOf"][0], defs, depth + 1)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, defs, depth + 1) for k in kind])
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 80)
        return st.one_of(st.text(min_size=low, max_size=max(low, min(high, 80))), NASTY_TEXT)
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(10**6) - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 10**6 + 1) - 1)
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs, depth + 1)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, min(schema.get("maxItems", 5), 5)))
    if kind == "object" or "properties" in schema:
        return object_from_schema(schema, defs, depth)
    return GARBAGE


def object_from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = {name: from_schema(sub, defs, depth + 1) for name, sub in properties.items() if name in required}
    optional = {name: from_schema(sub, defs, depth + 1) for name, sub in properties.items() if name not in required}
    base = st.fixed_dictionaries(fixed, optional=optional)
    if schema.get("additionalProperties") and not properties:
        return st.dictionaries(st.text(max_size=20), SCALARS, max_size=5)
    return base


def broken(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid arguments with one thing wrong: a wrong type, a missing required field, an extra field, huge text."""
    properties = list(schema.get("properties", {}))
    required = list(schema.get("required", []))

    @st.composite
    def breaking(draw: st.DrawFn) -> dict[str, Any]:
        arguments = dict(draw(from_schema(schema, schema.get("$defs", {}))))
        how = draw(st.sampled_from(["wrong_type", "drop_required", "extra", "huge", "nulls"]))
        if how == "wrong_type" and properties:
            arguments[draw(st.sampled_from(properties))] = draw(GARBAGE)
        elif how == "drop_required" and required:
            arguments.pop(draw(st.sampled_from(required)), None)
        elif how == "huge" and properties:
            arguments[draw(st.sampled_from(properties))] = draw(st.sampled_from(["x" * 200_001, ["y"] * 5_000]))
        elif how == "nulls":
            arguments = {name: None for name in properties}
        else:
            arguments[draw(NASTY_TEXT.filter(lambda key: key not in properties))] = draw(GARBAGE)
        return arguments

    return breaking()


def arguments_for(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        from_schema(schema, schema.get("$defs", {})),  # valid by the schema
        broken(schema),
        st.dictionaries(NASTY_TEXT, GARBAGE, max_size=6),  # nothing to do with the schema
    )


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[BlockingPortal, Any]]:
    """One in-process server over a real store, driven from hypothesis' synchronous examples through a portal."""
    from mcp import Client

    from mcp_memory.edge.server import build_server

    data_dir = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    app = MemoryApp(Settings(data_dir=data_dir, seed_on_start=True, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(Client(build_server(app))) as client,
    ):
        yield portal, client


async def _call(client: Any, name: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(CALL_TIMEOUT):
        return await client.call_tool(name, arguments)


def check_answer(tool: Any, arguments: dict[str, Any], result: Any) -> str:
    """'ok' or 'tool_error'; anything else fails the test."""
    texts = [getattr(block, "text", "") for block in result.content]
    if result.is_error:
        assert texts and all(texts) and texts[0].strip(), f"{tool.name}({arguments!r}): tool error without text"
        assert "Traceback" not in texts[0], texts[0]
        return "tool_error"
    if tool.output_schema is not None:
        assert result.structured_content is not None, f"{tool.name}({arguments!r}): no structured content"
        jsonschema.validate(result.structured_content, tool.output_schema)
    return "ok"


def test_every_tool_answers_random_and_malformed_arguments(fuzzed: tuple[BlockingPortal, Any]) -> None:
    portal, client = fuzzed
    tools = portal.call(client.list_tools).tools
    assert len(tools) >= 12
    outcomes: Counter[str] = Counter()
    per_tool: Counter[str] = Counter()
    timing: Counter[str] = Counter()
    started = time.monotonic()

    def fuzz_tool(tool: Any) -> None:
        @hypothesis_settings(
            max_examples=max(1, FUZZ_CALLS // len(tools)),
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(arguments=arguments_for(tool.input_schema))
        def fuzz(arguments: dict[str, Any]) -> None:
            began = time.monotonic()
            result = portal.call(_call, client, tool.name, arguments)  # a protocol error raises here and fails
            timing[tool.name] += time.monotonic() - began
            outcomes[check_answer(tool, arguments, result)] += 1
            per_tool[tool.name] += 1
            began = time.monotonic()
            healthy = portal.call(_call, client, "list_episodes", {"limit": 1})
            timing["(health check)"] += time.monotonic() - began
            assert not healthy.is_error, healthy.content
            outcomes["health_checks"] += 1

        fuzz()

    for tool in tools:
        fuzz_tool(tool)
    elapsed = time.monotonic() - started
    fuzzed_calls = outcomes["ok"] + outcomes["tool_error"]
    print(
        f"\nfuzzed {fuzzed_calls} calls over {len(tools)} tools in {elapsed:.1f} s: {outcomes['ok']} results, "
        f"{outcomes['tool_error']} tool errors, {outcomes['health_checks']} health checks; "
        f"fewest calls for one tool: {min(per_tool.values())}; slowest: "
        f"{', '.join(f'{name} {seconds:.1f} s' for name, seconds in timing.most_common(5))}"
    )
    assert set(per_tool) == {tool.name for tool in tools}
    assert fuzzed_calls >= min(FUZZ_CALLS, 2000) * 0.9


BAD_JSON_CALLS = [
    ("store_solution", {"problem": "\ud800 broken", "solution": "x\udfff"}),
    ("search_memory", {"query": "\udc00", "where": {"\ud83d": "x"}}),
    ("get_memory", {"id": "\ud800"}),
]


def test_random_lines_on_stdio_each_get_one_error_and_the_server_goes_on(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, JSON that is not an object, objects that are not messages: one answer each."""
    import json
    import random

    from tests.helpers import RawStdioServer

    rng = random.Random(7)
    values: list[Any] = [
        None,
        True,
        3,
        -1.5,
        "text",
        [],
        {},
        [1, {"id": 2}],
        {"jsonrpc": "1.0", "id": 5, "method": "x"},
        {"jsonrpc": "2.0", "id": [1], "method": "ping"},
        {"id": 9, "method": 42},
        {"params": {}},
    ]
    lines = [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 60))).replace(b"\n", b" ") for _ in range(40)]
    lines += [json.dumps(value).encode() for value in values]
    rng.shuffle(lines)
    stdio = RawStdioServer(tmp_path / "stdio-store")
    try:
        stdio.request(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        stdio.send("notifications/initialized", notify=True)
        for line in lines:
            if not line.strip():
                continue
            stdio.send_raw(line)
            answer = stdio.read_message()
            assert answer["error"]["code"] in (-32700, -32600), (line, answer)
        healthy = stdio.request("tools/call", {"name": "list_episodes", "arguments": {"limit": 1}})
        assert healthy["result"]["isError"] is False, healthy
    finally:
        stdio.close()
    assert all(line.startswith(b"{") for line in stdio.stdout_lines)


def test_lone_surrogates_over_the_wire_are_refused_and_the_server_goes_on(tmp_path: Path) -> None:
    """JSON may carry \\ud800 escapes that no UTF-8 text holds; the SDK client cannot send them, a raw one can.

    Over HTTP the answer is a JSON-RPC parse error; over stdio too (a line the transport cannot read is answered,
    with id null, not dropped). Either way the next request is answered.
    """
    import json

    import httpx

    from tests.helpers import RawStdioServer
    from tests.processes import http_server

    with http_server(tmp_path / "http-store", tmp_path) as server:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        opened = httpx.post(
            server.url,
            headers=headers,
            timeout=30,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            },
        )
        headers |= {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        httpx.post(
            server.url, headers=headers, timeout=30, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        for number, (name, arguments) in enumerate(BAD_JSON_CALLS, start=2):
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": number,
                    "method": "tools/call",
                    "params": {"name": name, "arguments": arguments},
                }
            )
            refused = httpx.post(server.url, headers=headers, content=body.encode(), timeout=30)
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == -32700
            good = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 100 + number,
                    "method": "tools/call",
                    "params": {"name": "list_episodes", "arguments": {"limit": 1}},
                }
            )
            answer = httpx.post(server.url, headers=headers, content=good.encode(), timeout=60)
            assert answer.status_code == 200 and '"isError":false' in answer.text

    stdio = RawStdioServer(tmp_path / "stdio-store")
    try:
        stdio.request(
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        stdio.send("notifications/initialized", notify=True)
        for name, arguments in BAD_JSON_CALLS:
            stdio.send("tools/call", {"name": name, "arguments": arguments})
            refused = stdio.read_message()
            assert refused["id"] is None and refused["error"]["code"] == -32700, refused
            healthy = stdio.request("tools/call", {"name": "list_episodes", "arguments": {"limit": 1}})
            assert healthy["result"]["isError"] is False, healthy
    finally:
        stdio.close()
