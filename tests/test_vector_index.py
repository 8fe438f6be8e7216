"""The embedded vector index: a new store's SQLite file in WAL mode, an old store's left as it is; vectors kept as
written."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from mcp_memory.errors import StoreDamaged
from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.store import MemoryStore
from mcp_memory.storage.vectors import SEARCH_WIDTH, SPACE


def journal_mode(data_dir: Path) -> str:
    """The file's journal mode, read once this process's Chroma has let go of it (a second SQLite must not close
    a file Chroma holds: see ``write_ahead_log``)."""
    SharedSystemClient.clear_system_cache()
    with contextlib.closing(sqlite3.connect(data_dir / "chroma" / "chroma.sqlite3")) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_new_store_writes_vectors_through_a_write_ahead_log_and_keeps_it(tmp_path: Path, embedder: Embedder) -> None:
    store = MemoryStore(embedder, tmp_path)
    store.open()
    vector = embedder.encode_batch(["KeyError: 'user_id'"])
    store.index.upsert("error", ["err_1"], [{"type": "error"}], vector)
    built = store.index.collection("error").configuration_json["hnsw"]
    assert built["space"] == SPACE == "ip"
    # The graph is built with more links and a wider build search than Chroma's defaults (16, 100): see INDEX_BUILD.
    assert (built["max_neighbors"], built["ef_construction"]) == (32, 200)
    assert built["ef_search"] == SEARCH_WIDTH == 300  # every search looks at 300 candidates: see SEARCH_WIDTH
    assert np.asarray(store.index.vectors("error", ["err_1"])["err_1"], dtype=np.float32).tobytes() == vector.tobytes()
    assert journal_mode(tmp_path) == "wal"

    again = MemoryStore(embedder, tmp_path)
    again.open()
    assert again.index.count("error") == 1
    assert journal_mode(tmp_path) == "wal"


def test_a_store_of_an_earlier_release_keeps_its_journal_mode_and_its_vectors(
    tmp_path: Path, embedder: Embedder
) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    old = client.get_or_create_collection("errors", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    vectors = np.eye(3, 384, dtype=np.float32)
    old.add(ids=["a", "b", "c"], embeddings=list(vectors), metadatas=[{"type": "error"}] * 3)
    assert journal_mode(tmp_path) == "delete"

    store = MemoryStore(embedder, tmp_path)
    store.open()
    kept = store.index.collection("error").configuration_json["hnsw"]
    assert (kept["space"], kept["max_neighbors"], kept["ef_construction"]) == ("cosine", 16, 100)  # its build stays
    assert kept["ef_search"] == SEARCH_WIDTH  # its search is widened (Chroma's default was 100)
    assert store.index.nearest("error", vectors[1], 3)[0][0] == "b"
    store.index.upsert("error", ["d"], [{"type": "error"}], embedder.encode_batch(["ValueError: bad"]))
    assert store.index.count("error") == 4
    assert journal_mode(tmp_path) == "delete"


def test_a_file_that_is_not_a_database_is_left_for_chroma_to_report(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "chroma").mkdir(parents=True)
    (tmp_path / "chroma" / "chroma.sqlite3").write_bytes(b"this is not an SQLite database file" * 200)
    with pytest.raises(StoreDamaged, match="move that folder aside"):
        MemoryStore(embedder, tmp_path).open()
    assert (tmp_path / "chroma" / "chroma.sqlite3").read_bytes().startswith(b"this is not")


@pytest.mark.anyio
async def test_a_store_then_an_immediate_recall_finds_it(tmp_path: Path, embedder: Embedder) -> None:
    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings

    settings = Settings(data_dir=tmp_path, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    for n in range(5):
        stored = await app.memory.remember(error_draft(f"ImportError: cannot import name 'x{n}'", "", "fix it", True))
        found = await app.memory.recall(f"cannot import name 'x{n}'", ["error"], 3)
        assert found.results[0].id == stored.id
    assert journal_mode(tmp_path) == "wal"


def test_reconcile_mends_both_ways_reading_ids_in_pages_and_keeps_other_stores_vectors(
    tmp_path: Path, embedder: Embedder
) -> None:
    from mcp_memory.app import MemoryApp
    from mcp_memory.config import Settings

    app = MemoryApp(Settings(data_dir=tmp_path, seed_on_start=False, _env_file=None), embedder)  # type: ignore[call-arg]
    stored = [
        app.memory.remember_blocking(error_draft(f"KeyError: 'k{i}'", "parse", "use .get", True)) for i in range(3)
    ]
    index, ids = app.store.index, [result.id for result in stored]
    index.delete("error", [ids[0]])  # a row left without its vector
    stray = embedder.encode_batch(["ValueError: stray"])
    index.upsert("error", ["ours"], [{"type": "error", "store_id": app.store.store_id}], stray)  # no row: ours
    index.upsert("error", ["theirs"], [{"type": "error", "store_id": "another-store"}], stray)  # another store's
    assert sorted(index.all_ids("error", page=2)) == sorted([*ids[1:], "ours", "theirs"])  # each once, in pages

    report = app.reconcile(settle_seconds=0.0)
    assert (report.embedded, report.removed) == (1, 1)
    assert sorted(index.all_ids("error")) == sorted([*ids, "theirs"])
    again = app.reconcile(settle_seconds=0.0)
    assert (again.embedded, again.removed) == (0, 0)
