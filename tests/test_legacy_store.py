"""A data dir written by release 0.1 opens with every memory, count, outcome note, episode and event intact."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import REPO_ROOT, call

pytestmark = pytest.mark.anyio
FIXTURE = REPO_ROOT / "tests" / "data" / "legacy_store" / "data-dir-0.1.tgz"


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(target, filter="data")
    return target


async def _client_on(data_dir: Path, embedder: Embedder) -> Any:
    from mcp import Client

    from mcp_memory.edge.server import build_server

    settings = Settings(data_dir=data_dir, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    return Client(build_server(MemoryApp(settings, embedder=embedder)))


async def test_every_memory_and_count_of_a_release_0_1_store_survives(legacy_dir: Path, embedder: Embedder) -> None:
    expected = json.loads((legacy_dir / "expected.json").read_text())
    async with await _client_on(legacy_dir, embedder) as client:
        for memory_id, before in expected["memories"].items():
            after = await call(client, "get_memory", id=memory_id)
            assert {k: after[k] for k in before} == before, memory_id
        assert (await call(client, "memory_stats"))["total"] == expected["total"]

        recalled = await call(
            client, "recall_error_solutions", error_message="ModuleNotFoundError: No module named 'yaml'"
        )
        top = recalled["results"][0]
        assert top["content_hash"] == expected["memories"][top["id"]]["content_hash"]
        assert (top["success_count"], top["failure_count"]) == (2, 1)
        assert top["last_failure_note"] == "wrong package name on alpine"  # it came along with the counts

        again = await call(
            client,
            "store_error_resolution",
            error_message="ModuleNotFoundError: No module named 'yaml'",
            context="fresh venv",
            resolution="pip install pyyaml",
            success=True,
        )
        assert again["duplicate"] and again["id"] == top["id"] and again["usage_count"] == 4


async def test_a_second_open_imports_nothing_twice(legacy_dir: Path, embedder: Embedder) -> None:
    expected = json.loads((legacy_dir / "expected.json").read_text())
    for _ in range(2):
        async with await _client_on(legacy_dir, embedder) as client:
            assert (await call(client, "memory_stats"))["total"] == expected["total"]
            error_id = next(i for i in expected["memories"] if i.startswith("err_"))
            assert (await call(client, "get_memory", id=error_id))["usage_count"] == expected["memories"][error_id][
                "usage_count"
            ]


def test_the_old_records_are_read_whole_whatever_the_page(legacy_dir: Path, embedder: Embedder) -> None:
    from mcp_memory.models import MEMORY_TYPES
    from mcp_memory.storage.vectors import ChromaIndex

    index = ChromaIndex(embedder, legacy_dir)
    index.open()
    expected = json.loads((legacy_dir / "expected.json").read_text())
    read = {memory_type: sorted(index.legacy_records(memory_type)) for memory_type in MEMORY_TYPES}
    assert {item_id for records in read.values() for item_id, _, _ in records} >= set(expected["memories"])
    for memory_type in MEMORY_TYPES:  # one id a page: every record once, the same records
        assert sorted(index.legacy_records(memory_type, page=1)) == read[memory_type]
