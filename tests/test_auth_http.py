"""HTTP with bearer tokens: who may call, who wrote what, how fast each agent may go, and what `serve` refuses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.helpers import free_port, server_env
from tests.processes import ServerProcess, error_text, http_client, serve_env, tool

pytestmark = pytest.mark.slow

TOKEN_A = "token-a-5f1c9e0b7d"
TOKEN_B = "token-b-93ad27c4e1"
TOKEN_C = "token-c-0e6b8d2a55"
TOKEN_D = "token-d-4b7e19c3f0"
INLINE_TOKEN = "token-inline-7c2f1e"
RATE = 2  # requests per second per agent
BURST = 4
MAX_BODY = 65_536

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


class TokenServers:
    """An owner and a forwarding process on one data dir, both behind the same tokens."""

    def __init__(self, tokens_file: Path, owner: ServerProcess, forwarder: ServerProcess) -> None:
        self.tokens_file = tokens_file
        self.owner = owner
        self.forwarder = forwarder


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServers]:
    root = Path(tmp_path_factory.mktemp("auth"))
    tokens_file = root / "tokens.txt"
    tokens_file.write_text(
        f"# agents of the swarm\nagent-a:{TOKEN_A}\nagent-b:{TOKEN_B}\nagent-c:{TOKEN_C}\nagent-d:{TOKEN_D}\n"
    )
    env = serve_env(
        MCP_MEMORY_TOKENS=f"inline-agent:{INLINE_TOKEN}",
        MCP_MEMORY_TOKENS_FILE=str(tokens_file),
        MCP_MEMORY_RATE_LIMIT_PER_SECOND=str(RATE),
        MCP_MEMORY_RATE_LIMIT_BURST=str(BURST),
        MCP_MEMORY_MAX_REQUEST_BYTES=str(MAX_BODY),
    )
    started: list[ServerProcess] = []
    try:
        for name in ("owner", "forwarder"):  # the owner takes the store's lock before it listens
            port = free_port()
            args = [
                "--transport",
                "http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(root / "store"),
            ]
            started.append(ServerProcess(args, env, root / f"{name}.log", port=port))
            started[-1].wait_listening()
        yield TokenServers(tokens_file, *started)
    finally:
        for server in started:
            server.stop()


def post_initialize(url: str, token: str | None, body: bytes | None = None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, content=body or json.dumps(INITIALIZE).encode(), headers=headers, timeout=30)


@pytest.mark.parametrize("which", ["owner", "forwarder"])
def test_missing_and_wrong_tokens_get_401_and_valid_ones_get_in(servers: TokenServers, which: str) -> None:
    url = getattr(servers, which).url
    missing = post_initialize(url, None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert post_initialize(url, "not-a-token-at-all").status_code == 401
    assert post_initialize(url, TOKEN_A[:-1]).status_code == 401  # a prefix of a real token is not it
    assert post_initialize(url, TOKEN_A).status_code == 200
    assert post_initialize(url, INLINE_TOKEN).status_code == 200


@pytest.mark.parametrize("which", ["owner", "forwarder"])
def test_the_401_asks_for_a_bearer_token_and_points_at_no_oauth_login(servers: TokenServers, which: str) -> None:
    server = getattr(servers, which)
    missing = post_initialize(server.url, None)

    challenge = missing.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="mcp-memory"')
    assert "Authorization: Bearer <token>" in challenge and "resource_metadata" not in challenge
    assert "Authorization: Bearer <token>" in missing.json()["error_description"]
    base = server.url.removesuffix("/mcp")
    for metadata in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server"):
        assert httpx.get(base + metadata, timeout=30).status_code == 404


def test_oversized_request_body_is_refused(servers: TokenServers) -> None:
    body = json.dumps({**INITIALIZE, "padding": "x" * (MAX_BODY + 1)}).encode()
    assert post_initialize(servers.owner.url, TOKEN_A, body).status_code == 413


@pytest.mark.anyio
async def test_writes_record_the_agent_named_by_the_token_even_through_a_forwarding_process(
    servers: TokenServers,
) -> None:
    async with http_client(servers.owner.url, TOKEN_A) as as_a:
        stored = await tool(
            as_a,
            "store_solution",
            problem="Flaky DNS in CI containers",
            solution="Pin resolv.conf options ndots:1",
            agent_role="SOMEONE_ELSE",
        )
        assert (await tool(as_a, "get_memory", id=stored["id"]))["agent"] == "agent-a"
    async with http_client(servers.forwarder.url, INLINE_TOKEN) as inline:
        forwarded = await tool(
            inline,
            "store_error_resolution",
            error_message="OSError: [Errno 24] Too many open files",
            context="load test",
            resolution="raise ulimit -n to 65536",
            success=True,
        )
        record = await tool(inline, "get_memory", id=forwarded["id"])
        assert record["agent"] == "inline-agent"
        by_agent = await tool(
            inline, "search_memory", query="too many open files", where={"agent": "inline-agent"}, n_results=5
        )
        assert [hit["id"] for hit in by_agent["results"]] == [forwarded["id"]]


async def burst(client: Any, calls: int) -> list[Any]:
    """``calls`` tool calls at once; every one must come back within the time limit."""
    answers: list[Any] = []

    async def one_call() -> None:
        answers.append(await client.call_tool("memory_stats", {}))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(one_call)
    return answers


@pytest.mark.anyio
@pytest.mark.parametrize("which", ["owner", "forwarder"])
async def test_an_agent_over_its_rate_limit_gets_a_clear_tool_error_not_a_hang(
    servers: TokenServers, which: str
) -> None:
    async with http_client(getattr(servers, which).url, TOKEN_C) as as_c:
        await tool(as_c, "memory_stats")  # the store is loaded: what follows measures the limit alone
        await anyio.sleep(BURST / RATE + 0.5)  # a full bucket
        started = time.monotonic()
        answers = await burst(as_c, 5 * BURST)
        elapsed = time.monotonic() - started
        refused = [error_text(a) for a in answers if a.is_error]
        assert len(answers) == 5 * BURST and len(refused) >= BURST
        assert all("Rate limit: agent 'agent-c'" in text and "Retry in" in text for text in refused), refused
        assert elapsed < 30
        await anyio.sleep(1.5)
        assert not (await as_c.call_tool("memory_stats", {})).is_error  # the bucket refilled


@pytest.mark.anyio
async def test_an_agent_has_one_rate_limit_whether_it_calls_the_owner_or_a_forwarder(servers: TokenServers) -> None:
    async with (
        http_client(servers.owner.url, TOKEN_D) as via_owner,
        http_client(servers.forwarder.url, TOKEN_D) as via_forwarder,
    ):
        await tool(via_owner, "memory_stats")
        await tool(via_forwarder, "memory_stats")
        await anyio.sleep(BURST / RATE + 0.5)  # a full bucket
        started = time.monotonic()
        answers: list[Any] = []

        async def spend(client: Any) -> None:
            answers.extend(await burst(client, 3 * BURST))

        async with anyio.create_task_group() as group:
            group.start_soon(spend, via_owner)
            group.start_soon(spend, via_forwarder)
        elapsed = time.monotonic() - started
        served = sum(not answer.is_error for answer in answers)
        assert len(answers) == 6 * BURST
        # One bucket: its burst plus what it refilled meanwhile (two buckets would have served twice that).
        assert served <= BURST + RATE * elapsed + 1, (served, elapsed)


@pytest.mark.anyio
async def test_removing_a_line_from_the_tokens_file_revokes_that_token_at_once(servers: TokenServers) -> None:
    async with http_client(servers.owner.url, TOKEN_B) as as_b:
        await tool(as_b, "list_episodes", limit=1)
        text = servers.tokens_file.read_text()
        servers.tokens_file.write_text(text.replace(f"agent-b:{TOKEN_B}\n", ""))
        try:
            for server in (servers.owner, servers.forwarder):
                assert post_initialize(server.url, TOKEN_B).status_code == 401
                assert post_initialize(server.url, TOKEN_A).status_code == 200
            with anyio.fail_after(30):
                try:
                    result = await as_b.call_tool("list_episodes", {"limit": 1})
                except Exception:
                    result = None
            assert result is None or result.is_error
        finally:
            servers.tokens_file.write_text(text)
    assert post_initialize(servers.owner.url, TOKEN_B).status_code == 200


def run_serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``mcp-memory serve`` expected to refuse to start: it must exit by itself, quickly."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=server_env(**env),
        stdin=subprocess.DEVNULL,
    )


def test_serve_refuses_a_non_loopback_http_bind_without_tokens(tmp_path: Path) -> None:
    # Nothing binds: the check runs before the server starts.
    result = run_serve(
        "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path / "store")
    )
    assert result.returncode == 2
    assert "refusing to serve HTTP on 0.0.0.0 without authentication" in result.stderr
    assert "MCP_MEMORY_TOKENS" in result.stderr
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MCP_MEMORY_TOKENS": "agent-a-without-a-token"},
            "Invalid 'MCP_MEMORY_TOKENS': entry 1 is not 'agent-name:token[:role]'",
        ),
        ({"MCP_MEMORY_TOKENS": "agent-a:short"}, "the token of 'agent-a' is shorter than 8 characters"),
        ({"MCP_MEMORY_TOKENS_FILE": "/nonexistent/tokens.txt"}, "/nonexistent/tokens.txt does not exist"),
        ({"MCP_MEMORY_RATE_LIMIT_PER_SECOND": "fast"}, "invalid setting (rate_limit_per_second"),
    ],
)
def test_serve_exits_with_a_clear_message_on_a_malformed_auth_setting(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_serve("--transport", "http", "--port", str(free_port()), "--data-dir", str(tmp_path / "store"), **env)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
