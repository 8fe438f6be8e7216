"""mcp-memory export / import / backup as real processes, including beside a running server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.transfer.exporting import export_to
from mcp_memory.transfer.importing import import_file
from tests.helpers import RawStdioServer, server_env
from tests.test_transfer import DRAFTS, fresh_app

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin/stdout/stderr as pipes: not a terminal, so no progress bar."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", *args],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=600,
        check=False,
    )


def export_text(app: MemoryApp) -> str:
    out = io.StringIO()
    export_to(app, out)
    return out.getvalue()


async def test_export_and_import_commands_round_trip_and_stay_quiet_off_a_terminal(
    app: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    await app.memory.remember_many(DRAFTS)
    exported = cli("export", str(tmp_path / "out.jsonl"), "--data-dir", str(app.settings.data_dir))
    assert exported.returncode == 0, exported.stderr
    assert f"Exported {len(DRAFTS)} memories and 0 episodes" in exported.stderr
    assert "\r" not in exported.stderr and exported.stdout == ""

    imported = cli("import", str(tmp_path / "out.jsonl"), "--data-dir", str(tmp_path / "copy"), "--json")
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert (report["memories_added"], report["embedded"], report["bad_lines"]) == (len(DRAFTS), len(DRAFTS) - 1, [])
    assert "\r" not in imported.stderr
    assert export_text(fresh_app(tmp_path, "copy", embedder)) == (tmp_path / "out.jsonl").read_text()


async def test_a_bad_line_fails_the_import_command_with_its_number_and_writes_nothing(
    app: MemoryApp, tmp_path: Path, embedder: Embedder
) -> None:
    await app.memory.remember_many(DRAFTS[:3])
    lines = export_text(app).splitlines()
    lines.insert(2, '{"kind": "memory", "id": 7}')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")

    done = cli("import", str(bad), "--data-dir", str(tmp_path / "target"))

    assert done.returncode == 1
    assert "line 3: memory.id: Input should be a valid string" in done.stderr
    assert "nothing was imported" in done.stderr and "--skip-bad" in done.stderr
    target = fresh_app(tmp_path, "target", embedder)
    assert sum(target.store.count(t) for t in ("pattern", "solution", "error")) == 0


def test_backup_beside_a_running_server_restores_everything_and_the_server_keeps_working(
    tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "live"
    server = RawStdioServer(data_dir)
    try:
        server.handshake()
        stored = []
        for i in range(5):
            reply = server.request(
                "tools/call",
                {
                    "name": "store_error_resolution",
                    "arguments": {
                        "error_message": f"ImportError: cannot import name 'thing{i}'",
                        "context": "start",
                        "resolution": f"upgrade thing{i}",
                        "success": True,
                    },
                },
            )
            stored.append(reply["result"]["structuredContent"]["id"])

        (tmp_path / "empty.jsonl").write_text("")
        refused = cli("import", str(tmp_path / "empty.jsonl"), "--data-dir", str(data_dir))
        assert refused.returncode == 1 and "A server owns the store" in refused.stderr

        backup = cli("backup", str(tmp_path / "backups"), "--data-dir", str(data_dir))
        assert backup.returncode == 0, backup.stderr
        [path] = (tmp_path / "backups").glob("mcp-memory-*.jsonl")
        [database] = (tmp_path / "backups").glob("mcp-memory-*.sqlite3")
        assert "Restore with: mcp-memory import" in backup.stdout and "SQLite online backup" in backup.stdout
        import sqlite3

        with sqlite3.connect(database) as copy:  # the copy is a whole database holding every memory
            assert copy.execute("SELECT count(*) FROM memories WHERE type = 'error'").fetchone()[0] >= len(stored)

        after = server.request(
            "tools/call",
            {"name": "recall_error_solutions", "arguments": {"error_message": "cannot import name 'thing3'"}},
        )
        assert after["result"]["structuredContent"]["results"][0]["id"] == stored[3]
    finally:
        server.close()

    restored = fresh_app(tmp_path, "restored", embedder)
    report = import_file(restored, path)
    assert report.embedded == 0  # a backup carries the vectors
    ids = {json.loads(line)["id"] for line in export_text(restored).splitlines()[1:]}
    assert set(stored) <= ids


def test_an_export_right_after_a_servers_handshake_goes_through_the_server(tmp_path: Path) -> None:
    # The server opens its socket for other processes just after the handshake; a command waits for it.
    data_dir = tmp_path / "live"
    server = RawStdioServer(data_dir)
    try:
        server.handshake()
        exported = cli("export", str(tmp_path / "out.jsonl"), "--data-dir", str(data_dir))
        assert exported.returncode == 0, exported.stderr
        assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["kind"] == "header"
    finally:
        server.close()
