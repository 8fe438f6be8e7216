"""A server or command that cannot start says why in one line and exits 1; over stdio it answers with the reason."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.helpers import free_port
from tests.processes import error_text, serve_env

pytestmark = pytest.mark.slow


@contextmanager
def unwritable(path: Path) -> Iterator[Path]:
    """A folder this process cannot write in: read-only mode, or (for root, who ignores modes) immutable."""
    path.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o555)
    try:
        yield path
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=serve_env(),
        stdin=subprocess.DEVNULL,
    )


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    return path


def not_a_database(tmp_path: Path) -> Path:
    (tmp_path / "memory.sqlite3").write_bytes(b"\x13" * 4096)
    return tmp_path


def closed_port_url(scheme: str) -> str:
    return f"{scheme}://x@127.0.0.1:{free_port()}/db" if scheme == "postgresql" else f"http://127.0.0.1:{free_port()}"


HTTP = ("serve", "--transport", "http", "--host", "127.0.0.1")
CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "data dir is a file": (
        lambda tmp: [*HTTP, "--port", str(free_port()), "--data-dir", str(a_file(tmp))],
        "is a file, not a folder. Move the file away, or choose another data dir with --data-dir",
    ),
    "Chroma unreachable": (
        lambda tmp: [
            *HTTP,
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp / "d"),
            "--chroma-url",
            closed_port_url("http"),
        ],
        "Cannot reach the Chroma server at http://127.0.0.1:",
    ),
    "PostgreSQL unreachable": (
        lambda tmp: [
            *HTTP,
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp / "d"),
            "--database-url",
            closed_port_url("postgresql"),
        ],
        "Connection refused). Check that PostgreSQL runs there and accepts this user, or fix --database-url",
    ),
    "stats on a store that is not a database": (
        lambda tmp: ["stats", "--data-dir", str(not_a_database(tmp))],
        "is damaged (file is not a database). Stop every server on it, move it aside, and restore the latest backup",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_start_up_fault_is_one_line_saying_what_to_do_and_exit_status_1(tmp_path: Path, case: str) -> None:
    arguments, expected = CASES[case]
    result = run_cli(*arguments(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) == 1, result.stderr[-3000:]
    assert result.stderr.startswith("mcp-memory ") and expected in result.stderr, result.stderr


def test_a_taken_port_is_one_line_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(*HTTP, "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        f"mcp-memory serve: Port {port} on 127.0.0.1 is in use by another program. Stop that program, or choose "
        "another port with --port (MCP_MEMORY_PORT).\n"
    )


def test_an_unwritable_data_dir_is_one_line_for_serve_and_stats(tmp_path: Path) -> None:
    with unwritable(tmp_path / "locked") as locked:
        for arguments in ([*HTTP, "--port", str(free_port())], ["stats"]):
            result = run_cli(*arguments, "--data-dir", str(locked))
            assert result.returncode == 1
            assert len(result.stderr.splitlines()) == 1, result.stderr[-3000:]
            assert f"The data dir {locked} is not writable by this user" in result.stderr
            assert "Fix its permissions, or choose another data dir with --data-dir" in result.stderr


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    result = run_cli("-v", "stats", "--data-dir", str(a_file(tmp_path)))
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("mcp-memory stats: The data dir ")


def stdio_params(*args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_memory", "serve", *args], env=serve_env())


@pytest.mark.anyio
@pytest.mark.parametrize("problem", ["data dir is a file", "Chroma unreachable"])
async def test_a_stdio_server_that_cannot_start_answers_every_tool_call_with_the_reason(
    tmp_path: Path, problem: str
) -> None:
    if problem == "data dir is a file":
        params = stdio_params("--data-dir", str(a_file(tmp_path)))
        expected = "is a file, not a folder"
    else:
        params = stdio_params("--data-dir", str(tmp_path / "d"), "--chroma-url", closed_port_url("http"))
        expected = "Cannot reach the Chroma server"
    async with Client(params, read_timeout_seconds=120) as client:
        assert client.server_info.name == "mcp-memory"
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"recall_error_solutions", "start_episode"} <= tools
        for name, arguments in (
            ("recall_error_solutions", {"error_message": "KeyError: 'id'"}),
            ("start_episode", {"task": "Add a cache"}),
            ("memory_stats", {}),
        ):
            result = await client.call_tool(name, arguments)
            assert result.is_error, name
            assert expected in error_text(result), (name, error_text(result))
