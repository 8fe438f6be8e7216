"""Shared fixtures: one real model per session, a fresh real Chroma store per test, real MCP clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mcp_memory.app import MemoryApp, index_answered_stores
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(name: str) -> Path:
    """A file of the outside development data next to the checkout; tests that need it skip where it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 on the default encoder (ONNX Runtime), loaded once for the whole session; an empty
    graph cache (a fresh CI machine) pays one export here, seconds long, which the tests' servers then share."""
    model = Embedder()
    model.load()
    return model


def skip_without_postgres() -> None:
    """Skip the test when PostgreSQL is not installed at all (CI installs it; see .ci/run)."""
    from tests.postgres import bin_dir

    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (no pg_config with initdb beside it): apt-get install postgresql")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """One private PostgreSQL cluster for the session (see tests/postgres.py)."""
    from tests.postgres import remove_cluster, start_cluster

    skip_without_postgres()
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


@pytest.fixture
def postgres_url(postgres_cluster: Any) -> str:
    """The URL of a new, empty database in the session's cluster."""
    return postgres_cluster.create_database(f"memory_{uuid.uuid4().hex[:12]}")


BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
"""Runs a test once on the SQLite file in the data dir and once on a fresh PostgreSQL database."""


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (the SQLite file in the data dir) unless a test is parametrized with ``BOTH_DATABASES``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    data_dir = tmp_path / "data"
    return Settings(data_dir=data_dir, database_url=database_url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]


DATABASES = ["sqlite", "postgresql"]


def settings_on(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on the database ``request.param`` names: the SQLite file in the data dir, or a new PostgreSQL one."""
    url = str(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else None
    return Settings(data_dir=tmp_path / "data", database_url=url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def app(settings: Settings, embedder: Embedder) -> MemoryApp:
    return MemoryApp(settings, embedder=embedder)


@pytest.fixture
async def client(app: MemoryApp) -> AsyncIterator[Any]:
    from mcp import Client

    from mcp_memory.edge.server import build_server

    async with Client(build_server(app)) as connected:
        yield connected


def as_a_new_process() -> None:
    """What a process's end and the next one's start do to this test's Chroma: the vectors of stores it answered
    are indexed (as at exit), and nothing of the open Chroma system is reused."""
    from chromadb.api.shared_system_client import SharedSystemClient

    index_answered_stores()
    SharedSystemClient.clear_system_cache()


async def call(client: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured result."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def call_error(client: Any, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail with a tool error; return the error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)
