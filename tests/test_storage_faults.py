"""Storage faults name their cause: a full disk, a damaged database or vector file. Real servers, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.processes import error_text, serve_env, stdio_client, tool

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (needs root to mount), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.anyio
async def test_on_a_full_disk_a_store_fails_naming_it_and_nothing_of_it_is_saved(small_disk: Path) -> None:
    acknowledged = 0
    failure = ""
    async with stdio_client(small_disk / "data") as client:
        with anyio.fail_after(300):
            for n in range(2000):  # 3 MB fill up long before
                result = await client.call_tool(
                    "store_solution",
                    {
                        "problem": f"Problem {n}: " + f"the build fails on step {n} " * 40,
                        "solution": f"Solution {n}: " + "pin the version and clear the cache " * 20,
                    },
                )
                if result.is_error:
                    failure = error_text(result)
                    break
                acknowledged += 1
        assert failure, "the disk never filled up"
        assert "is full" in failure and "Free space on that disk" in failure, failure
        stats = await tool(client, "memory_stats")  # still serving
        assert stats["total"] == acknowledged  # the failed store left nothing behind
        deleted = await tool(client, "list_deleted_memories")
        assert deleted["memories"] == []  # not even a tombstone: it never was a memory


def damage(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database file" * 200)
    for extra in path.parent.glob(path.name + "-*"):
        extra.unlink()


@pytest.mark.parametrize(
    ("damaged", "advice"),
    [
        ("memory.sqlite3", "move it aside, and restore the latest backup"),
        ("chroma/chroma.sqlite3", "move that folder aside and start again"),
    ],
)
def test_a_damaged_store_file_at_start_is_one_line_naming_it_and_exit_status_1(
    tmp_path: Path, damaged: str, advice: str
) -> None:
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "mcp_memory"]
    created = subprocess.run(
        [*command, "stats", "--data-dir", str(data_dir)],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    damage(data_dir / damaged)
    for run in (["serve", "--transport", "http", "--port", "0"], ["serve"], ["stats"]):
        log = tmp_path / f"{run[-1]}.log"
        with open(log, "wb") as stderr:  # stdin stays open: a stdio server must stop by itself
            process = subprocess.Popen(
                [*command, *run, "--data-dir", str(data_dir)],
                env=serve_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                status = process.wait(timeout=180)
            finally:
                process.kill()
                process.wait()
                assert process.stdin is not None
                process.stdin.close()
        lines = log.read_text().strip().splitlines()
        assert status == 1, log.read_text()
        assert len(lines) == 1 and str(data_dir / damaged.split("/")[0]) in lines[0] and advice in lines[0], lines
