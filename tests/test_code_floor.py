"""The code floor every change keeps: ruff's rules and format, the import layers, and the type checker, all clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("lint-imports",),
        ("mypy",),
    ],
    ids=["ruff-check", "ruff-format", "import-layers", "mypy"],
)
def test_the_code_is_clean(command: tuple[str, ...]) -> None:
    done = run(str(BIN / command[0]), *command[1:])
    assert done.returncode == 0, f"{' '.join(command)} found problems:\n{done.stdout}\n{done.stderr}"


def test_no_module_is_longer_than_400_lines() -> None:
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in (REPO_ROOT / "mcp_memory").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 400
    }
    assert not long, f"split these modules by job: {long}"


def test_the_front_ends_reach_memory_through_services_not_the_storage_objects_the_app_holds() -> None:
    """Import contracts keep storage modules out of cli/ and console/; this keeps its objects out too."""
    reaching = re.compile(r"\.(store|database|vectors)\.\w+\(|\bapp\.(store|database)\b")
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for folder in ("cli", "console")
        for path in (REPO_ROOT / "mcp_memory" / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reaching.search(line)
    ]
    assert not found, "call a service (memory/, episodes/) or the app instead:\n" + "\n".join(found)


def test_a_server_is_built_without_importing_storage_so_its_handshake_comes_first(tmp_path: Path) -> None:
    """What a serving process imports before it answers ``initialize`` decides its cold start: the database
    library, Chroma's client, numpy and the services come after, in the warm-up."""
    probe = (
        "import sys\n"
        "from mcp_memory.config import Settings\n"
        "from mcp_memory.app import MemoryApp\n"
        "from mcp_memory.edge.runner import serve\n"
        "from mcp_memory.edge.server import build_server\n"
        "app = MemoryApp(Settings(_env_file=None))\n"
        "build_server(app)\n"
        "app.consolidate_on_schedule()\n"
        "heavy = ('sqlalchemy', 'chromadb', 'numpy', 'onnxruntime', 'torch', 'mcp_memory.memory.service')\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(BIN), "MCP_MEMORY_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported before the handshake: {done.stdout.strip()}"
