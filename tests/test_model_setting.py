"""MCP_MEMORY_MODEL: the packaged model by default or a model folder; collections refuse another model's vectors."""

from __future__ import annotations

from pathlib import Path

import chromadb
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from pydantic import ValidationError

from mcp_memory.app import MemoryApp
from mcp_memory.config import PACKAGED_MODEL, Settings
from mcp_memory.errors import Conflict
from mcp_memory.memory.drafts import error_draft
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.store import MODEL_KEY, MemoryStore


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("MCP_MEMORY_"):
            monkeypatch.delenv(key)


def test_the_packaged_model_is_the_default_and_a_folder_can_replace_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(_env_file=None).model == PACKAGED_MODEL  # type: ignore[call-arg]
    assert Settings(_env_file=None).model_folder() is None  # type: ignore[call-arg]

    folder = tmp_path / "bge-small-en"
    folder.mkdir()
    monkeypatch.setenv("MCP_MEMORY_MODEL", str(folder))
    assert Settings(_env_file=None).model_folder() == folder  # type: ignore[call-arg]
    monkeypatch.delenv("MCP_MEMORY_MODEL")
    monkeypatch.setenv("MCP_MEMORY_MODEL_PATH", str(folder))  # the older setting still works
    assert Settings(_env_file=None).model_folder() == folder  # type: ignore[call-arg]
    assert Embedder(model_path=folder).model_name == "bge-small-en"


def test_a_model_that_is_neither_packaged_nor_a_folder_is_a_clear_setting_error(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"neither 'all-MiniLM-L6-v2' .* nor a sentence-transformers model folder"
    ):
        Settings(model=str(tmp_path / "missing"), _env_file=None)  # type: ignore[call-arg]


def test_collections_record_their_model_and_refuse_another(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    app.memory.remember_blocking(error_draft("KeyError: 'x'", "", "use .get", True))
    assert app.store.index.collection("error").metadata[MODEL_KEY] == PACKAGED_MODEL
    SharedSystemClient.clear_system_cache()

    other = MemoryStore(Embedder(model_path=tmp_path / "bge-small-en"), tmp_path)  # never loaded: open needs no model
    with pytest.raises(Conflict) as raised:
        other.open()
    message = str(raised.value)
    assert "'all-MiniLM-L6-v2'" in message and "'bge-small-en'" in message
    assert "MCP_MEMORY_MODEL" in message

    SharedSystemClient.clear_system_cache()
    again = MemoryStore(embedder, tmp_path)
    again.open()  # the model that wrote it opens it as before
    assert again.count("error") == 1


def test_a_store_written_before_models_were_recorded_counts_as_the_packaged_model(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    old = client.get_or_create_collection("errors", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    old.add(ids=["err_1"], embeddings=[[0.1] * 384], documents=["x"], metadatas=[{"type": "error"}])
    SharedSystemClient.clear_system_cache()

    with pytest.raises(Conflict, match="'all-MiniLM-L6-v2'"):
        MemoryStore(Embedder(model_path=tmp_path / "other-model"), tmp_path).open()
    SharedSystemClient.clear_system_cache()
    store = MemoryStore(Embedder(), tmp_path)
    store.open()
    assert store.index.collection("error").metadata[MODEL_KEY] == PACKAGED_MODEL
    assert store.index.collection("error").configuration_json["hnsw"]["space"] == "cosine"
