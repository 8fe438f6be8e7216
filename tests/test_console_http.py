"""The web console in real server processes: beside /mcp on the store's owner and on a forwarding process, and
``mcp-memory console`` alone — all behind the same tokens, all showing the same store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from tests.helpers import free_port
from tests.processes import ServerProcess, http_client, serve_env

pytestmark = pytest.mark.slow

TOKEN = "console-http-token-7c1e"


class ConsoleProcess(ServerProcess):
    """``mcp-memory console`` as a subprocess (same waiting and stopping as a server)."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.log_path = log_path
        self.port = port
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_memory", "console", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )


@dataclass
class Processes:
    owner: ServerProcess
    forwarder: ServerProcess
    console: ConsoleProcess

    def base(self, which: str) -> str:
        return f"http://127.0.0.1:{getattr(self, which).port}"


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    root = Path(tmp_path_factory.mktemp("console-http"))
    env = serve_env(MCP_MEMORY_TOKENS=f"ops:{TOKEN}")
    store = ["--host", "127.0.0.1", "--data-dir", str(root / "store")]
    started: list[ServerProcess] = []
    try:
        for name in ("owner", "forwarder"):  # the owner takes the store's lock before it listens
            port = free_port()
            started.append(
                ServerProcess(["--transport", "http", "--port", str(port), *store], env, root / f"{name}.log", port)
            )
            started[-1].wait_listening()
        port = free_port()
        started.append(ConsoleProcess(["--port", str(port), *store], env, root / "console.log", port))
        started[-1].wait_listening()
        yield Processes(*started)  # type: ignore[arg-type]
    finally:
        for process in started:
            process.stop()


def get(url: str, token: str | None = TOKEN, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(url, params=params, headers=headers, timeout=120, follow_redirects=False)


async def _store_and_record(url: str) -> str:
    async with http_client(url, TOKEN) as client:
        stored = await client.call_tool(
            "store_error_resolution",
            {
                "error_message": "PermissionError: [Errno 13] Permission denied: '/var/run/app.pid'",
                "context": "starting the worker",
                "resolution": "run it with --pid-file under $XDG_RUNTIME_DIR",
                "success": True,
            },
        )
        assert not stored.is_error, stored.content
        started = await client.call_tool("start_episode", {"task": "Start the worker as a normal user"})
        episode_id = started.structured_content["episode_id"]
        await client.call_tool(
            "record_event",
            {
                "episode_id": episode_id,
                "event_type": "command",
                "agent_role": "WORKER_BACKEND",
                "data": {"command": "./worker", "returncode": 1, "error": "PermissionError: [Errno 13]"},
            },
        )
        await client.call_tool("end_episode", {"episode_id": episode_id, "success": False})
        return str(stored.structured_content["id"])


@pytest.fixture(scope="module")
def stored(processes: Processes) -> str:
    """A memory and a failed episode stored through the forwarding process's /mcp."""
    return anyio.run(_store_and_record, f"{processes.base('forwarder')}/mcp")


@pytest.mark.parametrize("which", ["owner", "forwarder", "console"])
def test_every_process_serves_the_console_behind_the_same_tokens(processes: Processes, which: str) -> None:
    base = processes.base(which)

    assert get(f"{base}/stats", token=None).status_code == 303
    assert get(f"{base}/stats", token="wrong-token-000000").status_code == 401
    login = get(f"{base}/login", token=None)
    assert login.status_code == 200 and 'name="token"' in login.text
    assert get(f"{base}/stats").status_code == 200


@pytest.mark.parametrize("which", ["owner", "forwarder"])
def test_mcp_is_still_served_beside_the_console(processes: Processes, which: str) -> None:
    response = httpx.post(f"{processes.base(which)}/mcp", json={}, timeout=30)

    assert response.status_code == 401  # the MCP endpoint, with its own bearer check


def test_the_console_alone_serves_no_mcp_endpoint(processes: Processes) -> None:
    response = httpx.post(f"{processes.base('console')}/mcp", json={}, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code in (404, 405)


@pytest.mark.parametrize("which", ["owner", "forwarder", "console"])
def test_every_console_shows_what_agents_stored_through_any_process(
    processes: Processes, stored: str, which: str
) -> None:
    base = processes.base(which)

    found = get(f"{base}/", q="Permission denied on the pid file", format="json").json()
    memory = get(f"{base}/memories/{stored}", format="json").json()
    failures = get(f"{base}/failures", format="json").json()
    episodes = get(f"{base}/episodes", outcome="failed", format="json").json()

    assert found["results"][0]["id"] == stored
    assert memory["record"]["fields"]["resolution"] == "run it with --pid-file under $XDG_RUNTIME_DIR"
    assert failures["failed_episodes"] == 1
    assert failures["clusters"][0]["known_fixes"][0]["memory_id"] == stored
    assert [row["info"]["task"] for row in episodes["episodes"]] == ["Start the worker as a normal user"]


def test_a_missing_memory_is_a_404_through_the_owner_too(processes: Processes) -> None:
    response = get(f"{processes.base('forwarder')}/memories/err_000000000000000000000000")

    assert response.status_code == 404
    assert "No memory with id" in response.text


def test_the_console_alone_refuses_an_open_address_without_tokens(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_memory", "console", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=serve_env(),
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert "refusing to serve HTTP on 0.0.0.0 without authentication" in done.stderr
