"""A client that leaves while the server is still warming up gets a quiet exit, not a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import RawStdioServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seconds", [0.0, 0.7, 1.5, 3.0])
def test_a_client_that_disconnects_during_warm_up_leaves_no_traceback(tmp_path: Path, seconds: float) -> None:
    server = RawStdioServer(tmp_path / "data")
    server.request(
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "leaves-early", "version": "1"}},
    )
    server.send("notifications/initialized", notify=True)
    server.request("tools/list")
    time.sleep(seconds)  # inside the warm-up: importing torch and Chroma, opening the store, loading the model
    assert server.process.stdin is not None
    server.process.stdin.close()
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    assert server.process.stderr is not None
    stderr = server.process.stderr.read().decode(errors="replace")
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-3000:]
    assert server.process.returncode == 0, (server.process.returncode, sys.executable)
