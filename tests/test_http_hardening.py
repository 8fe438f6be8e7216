"""HTTP with a misbehaving or compromised agent on the network: session floods, slow and half-open sockets,
token guessing, open redirects, a broken tokens file. Real servers, raw sockets, real MCP clients.

Each test speaks from its own loopback address (127.0.0.x) where an address gets blocked, so the others are not.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import anyio.from_thread
import httpx
import pytest

from tests.helpers import free_port
from tests.processes import ServerProcess, http_client, serve_env, tool

pytestmark = pytest.mark.slow

TOKEN_A = "token-a-7d2e91c4b8"
TOKEN_B = "token-b-0f3a6c55e2"
TOKEN_C = "token-c-b19e4d7a03"
SESSIONS_PER_AGENT = 3
CONNECTIONS_PER_ADDRESS = 20
HEADER_TIMEOUT = 2.0
AUTH_FAILURES = 5
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(tmp_path_factory.mktemp("tokens")) / "tokens.txt"
    path.write_text(f"agent-a:{TOKEN_A}\nagent-b:{TOKEN_B}\n")
    return path


def limited_env(**extra: str) -> dict[str, str]:
    limits = {
        "MCP_MEMORY_MAX_SESSIONS_PER_AGENT": str(SESSIONS_PER_AGENT),
        "MCP_MEMORY_MAX_CONNECTIONS_PER_ADDRESS": str(CONNECTIONS_PER_ADDRESS),
        "MCP_MEMORY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "MCP_MEMORY_MAX_AUTH_FAILURES": str(AUTH_FAILURES),
    }
    return serve_env(**{**limits, **extra})


@contextmanager
def spawned(root: Path, env: dict[str, str], name: str, limit_files: int | None = None) -> Iterator[ServerProcess]:
    port = free_port()
    args = ["--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(root / name)]
    server = ServerProcess(args, env, root / f"{name}.log", port=port, limit_files=limit_files)
    try:
        server.wait_listening()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tokens_file: Path) -> Iterator[ServerProcess]:
    root = Path(tmp_path_factory.mktemp("hardening"))
    with spawned(root, limited_env(MCP_MEMORY_TOKENS_FILE=str(tokens_file)), "store") as process:
        yield process


def from_address(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def initialize(client: httpx.Client, url: str, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"}
    return client.post(url, content=json.dumps(INITIALIZE), headers={**MCP_HEADERS, **auth, **(headers or {})})


def raw_request(port: int, request: bytes, source: str = "127.0.0.1") -> bytes:
    """Send ``request`` (which asks to close) on a fresh socket from ``source`` and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


GET_LOGIN = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


# -- sessions -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_agent_past_its_session_limit_gets_429_naming_it_and_others_are_unaffected(
    server: ServerProcess,
) -> None:
    with from_address("127.0.0.2") as client:
        opened = [initialize(client, server.url, TOKEN_A) for _ in range(SESSIONS_PER_AGENT)]
        assert [r.status_code for r in opened] == [200] * SESSIONS_PER_AGENT
        refused = initialize(client, server.url, TOKEN_A)
        assert refused.status_code == 429
        assert f"MCP_MEMORY_MAX_SESSIONS_PER_AGENT={SESSIONS_PER_AGENT}" in refused.json()["error"]["message"]
        assert "agent-a" in refused.json()["error"]["message"]

        async with http_client(server.url, TOKEN_B) as as_b:  # another agent is not affected
            assert (await tool(as_b, "memory_stats")) is not None

        session = opened[0].headers["mcp-session-id"]
        closed = client.delete(
            server.url, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN_A}", "Mcp-Session-Id": session}
        )
        assert closed.status_code == 200
        assert initialize(client, server.url, TOKEN_A).status_code == 200  # a closed session frees its slot
        assert initialize(client, server.url, TOKEN_A).status_code == 429


# -- slow and half-open clients -------------------------------------------------------------------


def test_a_client_that_does_not_finish_its_request_headers_is_dropped(server: ServerProcess) -> None:
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + 8, source_address=("127.0.0.3", 0)
    ) as sock:
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_connections_from_one_address_are_capped_while_other_addresses_are_served(server: ServerProcess) -> None:
    with ExitStack() as stack:
        held = [
            stack.enter_context(
                socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=("127.0.0.4", 0))
            )
            for _ in range(CONNECTIONS_PER_ADDRESS)
        ]
        refused = raw_request(server.port, GET_LOGIN, "127.0.0.4")
        assert refused.startswith(b"HTTP/1.1 429")
        assert b"MCP_MEMORY_MAX_CONNECTIONS_PER_ADDRESS" in refused
        assert raw_request(server.port, GET_LOGIN, "127.0.0.5").startswith(b"HTTP/1.1 200")
        assert len(held) == CONNECTIONS_PER_ADDRESS
    deadline = time.monotonic() + 10  # the server sees the held sockets close, then serves the address again
    while True:
        answer = raw_request(server.port, GET_LOGIN, "127.0.0.4")
        if answer.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.startswith(b"HTTP/1.1 200")


def test_out_of_file_descriptors_the_server_logs_once_and_keeps_serving(tmp_path: Path) -> None:
    """Hundreds of half-open sockets from many addresses exhaust a low descriptor limit; the server logs one line
    (no traceback per accept), drops them at the header timeout, and serves again."""
    env = limited_env(MCP_MEMORY_MAX_CONNECTIONS_PER_ADDRESS="100")
    with spawned(tmp_path, env, "store", limit_files=256) as server:
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(stats_over_mcp, server.url)  # the store is open: what follows only costs sockets
        with ExitStack() as stack:
            for n in range(400):  # more than the process may open, fewer than the listen backlog
                address = f"127.0.1.{n // 100 + 1}"
                stack.enter_context(
                    socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(address, 0))
                )
            time.sleep(HEADER_TIMEOUT + 1)  # the server works through the backlog while descriptors run out
        deadline = time.monotonic() + 30
        while True:
            try:
                with from_address("127.0.0.1") as client:
                    if client.get(f"http://127.0.0.1:{server.port}/static/console.css", timeout=5).status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        log = server.log_path.read_text(errors="replace")
        assert log.count("out of file descriptors") == 1, log[-3000:]
        assert "Traceback" not in log


async def stats_over_mcp(url: str) -> None:
    async with http_client(url) as client:
        await tool(client, "memory_stats")


# -- failed tokens ---------------------------------------------------------------------------------


def test_wrong_tokens_from_one_address_get_429_while_a_right_token_from_another_works(server: ServerProcess) -> None:
    with from_address("127.0.0.6") as guesser:
        statuses = [initialize(guesser, server.url, f"guess-{n:010d}").status_code for n in range(AUTH_FAILURES)]
        assert statuses == [401] * AUTH_FAILURES
        blocked = initialize(guesser, server.url, "guess-again-12345")
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert "MCP_MEMORY_MAX_AUTH_FAILURES" in blocked.json()["message"]
        assert initialize(guesser, server.url, TOKEN_A).status_code == 429  # the whole address waits
    with from_address("127.0.0.7") as honest:
        assert initialize(honest, server.url, TOKEN_B).status_code == 200


def test_rotating_x_forwarded_for_does_not_escape_the_limits_without_a_trusted_proxy(server: ServerProcess) -> None:
    login = f"http://127.0.0.1:{server.port}/login"
    with from_address("127.0.0.8") as guesser:
        statuses = [
            guesser.post(
                login,
                data={"token": f"guess-{n:010d}", "next": "/"},
                headers={"Origin": f"http://127.0.0.1:{server.port}", "X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(AUTH_FAILURES + 2)
        ]
    assert statuses[:AUTH_FAILURES] == [401] * AUTH_FAILURES
    assert statuses[AUTH_FAILURES:] == [429, 429]


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path, tokens_file: Path) -> None:
    env = limited_env(MCP_MEMORY_TOKENS_FILE=str(tokens_file), MCP_MEMORY_TRUSTED_PROXIES="127.0.0.1")
    with spawned(tmp_path, env, "store") as proxied, from_address("127.0.0.1") as proxy:
        behind = {"X-Forwarded-For": "203.0.113.5"}
        statuses = [
            initialize(proxy, proxied.url, f"guess-{n:010d}", behind).status_code for n in range(AUTH_FAILURES + 1)
        ]
        assert statuses == [401] * AUTH_FAILURES + [429]
        assert initialize(proxy, proxied.url, TOKEN_A, {"X-Forwarded-For": "203.0.113.6"}).status_code == 200


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["//evil.example", "//evil.example/login", "/\\evil.example", "/%09/evil.example", "/%5Cevil.example"]
)
def test_a_cross_site_link_never_bounces_to_another_site(server: ServerProcess, path: str) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nSec-Fetch-Site: cross-site\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_request(server.port, request, "127.0.0.9")
    assert answer.startswith(b"HTTP/1.1 200")
    targets = re.findall(rb'url=([^"]*)"|href="([^"]*)"', answer)
    assert targets, answer
    for target in (refresh or link for refresh, link in targets):
        assert target.startswith(b"/") and target[1:2] not in (b"/", b"\\") and b"\t" not in target, answer


# -- the tokens file ------------------------------------------------------------------------------


def test_a_bad_line_in_the_tokens_file_keeps_the_last_good_tokens_and_warns_once(
    server: ServerProcess, tokens_file: Path
) -> None:
    good = tokens_file.read_text()
    try:
        tokens_file.write_text(good + "this line has no colon\n")
        with from_address("127.0.0.10") as client:
            assert initialize(client, server.url, TOKEN_B).status_code == 200
            assert initialize(client, server.url, TOKEN_C).status_code == 401
            assert (
                client.get(
                    f"http://127.0.0.1:{server.port}/stats", headers={"Authorization": f"Bearer {TOKEN_B}"}
                ).status_code
                == 200
            )
            tokens_file.write_text(good + f"agent-c:{TOKEN_C}\n")  # fixed: the new set applies
            assert initialize(client, server.url, TOKEN_C).status_code == 200
        log = server.log_path.read_text(errors="replace")
        assert log.count("entry 3 is not 'agent-name:token[:role]'") == 1, log[-3000:]
        assert "Traceback" not in log
    finally:
        tokens_file.write_text(good)
