"""What a server writes is its user's alone: the data dir, every file in it, and the owner's socket folder."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.processes import http_client, http_server, serve_env, tool

pytestmark = pytest.mark.slow

TOKEN = "token-private-5c8e2a91"
NOBODY = 65534


def modes_open_to_others(root: Path) -> list[str]:
    """Everything under ``root`` (``root`` too) that a group or other user may read, write or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = os.lstat(path).st_mode
        if stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


@pytest.mark.anyio
async def test_the_data_dir_and_every_file_in_it_are_private_to_the_user(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"agent-a:{TOKEN}\n")
    data_dir = tmp_path / "data"
    with http_server(data_dir, tmp_path, env=serve_env(MCP_MEMORY_TOKENS_FILE=str(tokens))) as server:
        async with http_client(server.url, TOKEN) as client:
            await tool(client, "store_solution", problem="Private files", solution="umask 077 before creating them")
            await tool(client, "start_episode", task="an episode, so its database exists too")
        origin = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient() as browser:
            login = await browser.post(
                f"{origin}/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": origin}
            )
        assert login.status_code == 303  # a console session is kept in the database, in the data dir
        names = {p.name for p in data_dir.rglob("*")}
        assert {"memory.sqlite3", "memory.sqlite3-wal", "owner.json", "chroma"} <= names
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert modes_open_to_others(data_dir) == []


@pytest.mark.anyio
async def test_a_long_data_dir_path_keeps_the_socket_out_of_a_folder_another_user_made(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The socket of a data dir too long for a Unix socket path goes to the temp dir; a folder of its name made
    there by someone else is not used."""
    temp = Path(tempfile.mkdtemp(prefix="mm-", dir="/tmp"))  # short: a Unix socket path has 108 bytes at most
    request.addfinalizer(lambda: shutil.rmtree(temp, ignore_errors=True))
    temp.chmod(0o1777)
    taken = temp / f"mcp-memory-{os.geteuid()}"
    taken.mkdir(mode=0o777)
    taken.chmod(0o777)
    os.chown(taken, NOBODY, NOBODY)
    data_dir = tmp_path / ("a-rather-long-folder-name-" * 4) / "data"
    env = serve_env(TMPDIR=str(temp))
    with (
        http_server(data_dir, tmp_path, env=env, name="owner"),
        http_server(data_dir, tmp_path, env=env, name="forwarder") as forwarder,
    ):
        socket_path = Path(json.loads((data_dir / "owner.json").read_text())["socket"])
        assert socket_path.parent != taken and socket_path.parent.parent == temp
        folder = os.lstat(socket_path.parent)
        assert folder.st_uid == os.geteuid() and stat.S_IMODE(folder.st_mode) == 0o700
        async with http_client(forwarder.url) as client:  # forwarded to the owner over that socket
            stored = await tool(client, "store_solution", problem="Socket squatting", solution="check the folder")
            assert (await tool(client, "get_memory", id=stored["id"]))["title"] == "Socket squatting"
    assert list(taken.iterdir()) == []
