"""The Chroma collections: open (embedded or server), add, get, query, update, delete.

Knows nothing of MCP or of what a memory means; callers pass ids, documents, flat metadata and
the embeddings they computed themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from mcp_memory.embeddings import Embedder, make_chroma_embedding_function
from mcp_memory.errors import Conflict, InvalidInput, Unavailable
from mcp_memory.models import MemoryType

logger = logging.getLogger(__name__)

COLLECTION_NAMES: dict[MemoryType, str] = {
    "pattern": "code_patterns",
    "solution": "solutions",
    "error": "errors",
    "best_practice": "knowledge",
    "episode": "experiences",
}
# Collection metadata naming the embedding model that wrote the vectors; vectors of two models never mix.
MODEL_KEY = "embedding_model"
# Collections written before the model was recorded were all written by the packaged model.
UNRECORDED_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class StoredItem:
    id: str
    document: str
    metadata: dict[str, Any]


class WriteListener(Protocol):
    """Told about every write after Chroma accepted it (the catalog keeps itself current this way)."""

    def stored(self, memory_type: MemoryType, items: Sequence[StoredItem], embeddings: Sequence[Any]) -> None: ...

    def removed(self, memory_type: MemoryType, ids: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class QueryMatch:
    item: StoredItem
    distance: float


class VectorStore:
    """One Chroma client and its collections, one per memory type, in cosine space."""

    def __init__(self, embedder: Embedder, data_dir: Path | None, chroma_url: str | None = None) -> None:
        self._embedder = embedder
        self._data_dir = data_dir
        self._chroma_url = chroma_url
        self._client: Any = None
        self._collections: dict[MemoryType, Any] = {}
        self._open_lock = threading.Lock()
        self._listeners: list[WriteListener] = []

    def watch(self, listener: WriteListener) -> None:
        """Call ``listener`` after every add and delete through this store."""
        self._listeners.append(listener)

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        """Connect and create the collections if they do not exist (idempotent)."""
        with self._open_lock:
            if self._client is not None:
                return
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            try:
                if self._chroma_url:
                    url = urlparse(self._chroma_url)
                    if url.scheme not in ("http", "https") or not url.hostname:
                        raise InvalidInput(
                            "chroma_url", f"'{self._chroma_url}' is not an http(s) URL.", "Use e.g. http://127.0.0.1:8000."
                        )
                    client = chromadb.HttpClient(
                        host=url.hostname,
                        port=url.port or (443 if url.scheme == "https" else 8000),
                        ssl=url.scheme == "https",
                        settings=chroma_settings,
                    )
                else:
                    assert self._data_dir is not None
                    self._data_dir.mkdir(parents=True, exist_ok=True)
                    client = chromadb.PersistentClient(path=str(self._data_dir / "chroma"), settings=chroma_settings)
                embedding_function = make_chroma_embedding_function(self._embedder)
                model = self._embedder.model_name
                collections = {
                    memory_type: client.get_or_create_collection(
                        name=name,
                        embedding_function=embedding_function,
                        metadata={"hnsw:space": "cosine", MODEL_KEY: model},
                    )
                    for memory_type, name in COLLECTION_NAMES.items()
                }
                for collection in collections.values():  # every one checked before any is changed
                    _check_model(collection, model, self._chroma_url or str(self._data_dir))
                for collection in collections.values():
                    _record_model(collection, model)
                self._collections.update(collections)
            except (ConnectionError, OSError) as exc:
                raise Unavailable(f"Cannot open the Chroma store ({exc}). Check the data dir or Chroma server.") from exc
            except ValueError as exc:
                if "Could not connect" in str(exc):
                    raise Unavailable(
                        f"Cannot reach the Chroma server at {self._chroma_url}: {exc}. Start it or fix the URL."
                    ) from exc
                raise
            self._client = client

    def _collection(self, memory_type: MemoryType) -> Any:
        if self._client is None:
            self.open()
        return self._collections[memory_type]

    def get(self, memory_type: MemoryType, ids: list[str], where: dict[str, Any] | None = None) -> list[StoredItem]:
        """Items by id (those matching ``where``), in no particular order; unknown ids are left out."""
        found = self._collection(memory_type).get(ids=ids, where=where or None, include=["documents", "metadatas"])
        return _items(found["ids"], found["documents"], found["metadatas"])

    def get_many(
        self, memory_type: MemoryType, ids: list[str], where: dict[str, Any] | None = None
    ) -> tuple[list[StoredItem], list[Any]]:
        """Items by id that also match ``where``, with their stored vectors (float32 arrays), in one read."""
        found = self._collection(memory_type).get(
            ids=ids, where=where or None, include=["documents", "metadatas", "embeddings"]
        )
        vectors = list(found["embeddings"]) if found["embeddings"] is not None else []
        return _items(found["ids"], found["documents"], found["metadatas"]), vectors

    def nearest(
        self, memory_type: MemoryType, embedding: list[float], n_results: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine distances of the nearest vectors, without documents or metadata (cheap to over-fetch)."""
        found = self._collection(memory_type).query(
            query_embeddings=[embedding], n_results=n_results, where=where or None, include=["distances"]
        )
        return list(zip(found["ids"][0], (float(d) for d in found["distances"][0]), strict=True))

    def vectors(self, memory_type: MemoryType, ids: list[str], where: dict[str, Any] | None = None) -> dict[str, Any]:
        """The stored vectors of ``ids`` (those matching ``where``), without documents or metadata."""
        found = self._collection(memory_type).get(ids=ids, where=where or None, include=["embeddings"])
        vectors = found["embeddings"] if found["embeddings"] is not None else []
        return dict(zip(found["ids"], vectors, strict=True))

    def scan_metadata(self, memory_type: MemoryType, page: int = 5000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every id with its metadata, read a page at a time."""
        collection = self._collection(memory_type)
        offset = 0
        while True:
            found = collection.get(include=["metadatas"], limit=page, offset=offset)
            yield from zip(found["ids"], (dict(m or {}) for m in found["metadatas"] or []), strict=True)
            if len(found["ids"]) < page:
                return
            offset += page

    def find_ids(self, memory_type: MemoryType, where: dict[str, Any]) -> list[str]:
        """Ids of the records matching ``where``, nothing else read."""
        return list(self._collection(memory_type).get(where=where, include=[])["ids"])

    def find(self, memory_type: MemoryType, where: dict[str, Any], limit: int | None = None) -> list[StoredItem]:
        found = self._collection(memory_type).get(where=where, limit=limit, include=["documents", "metadatas"])
        return _items(found["ids"], found["documents"], found["metadatas"])

    def all_metadata(self, memory_type: MemoryType) -> list[dict[str, Any]]:
        return list(self._collection(memory_type).get(include=["metadatas"])["metadatas"] or [])

    def ids(self, memory_type: MemoryType) -> list[str]:
        """Every id in one collection: a snapshot to page through, stable while others write."""
        return list(self._collection(memory_type).get(include=[])["ids"])

    def get_with_embeddings(self, memory_type: MemoryType, ids: list[str]) -> tuple[list[StoredItem], list[Any]]:
        """Items and their stored vectors (float32 arrays), for export and backup."""
        found = self._collection(memory_type).get(ids=ids, include=["documents", "metadatas", "embeddings"])
        vectors = list(found["embeddings"]) if found["embeddings"] is not None else []
        return _items(found["ids"], found["documents"], found["metadatas"]), vectors

    def add(
        self,
        memory_type: MemoryType,
        items: list[StoredItem],
        embeddings: list[list[float]],
    ) -> None:
        self._collection(memory_type).upsert(
            ids=[i.id for i in items],
            documents=[i.document for i in items],
            metadatas=[i.metadata for i in items],
            embeddings=embeddings,
        )
        for listener in self._listeners:
            listener.stored(memory_type, items, embeddings)

    def update_metadata(self, memory_type: MemoryType, item_id: str, metadata: dict[str, Any]) -> None:
        self._collection(memory_type).update(ids=[item_id], metadatas=[metadata])

    def query(
        self,
        memory_type: MemoryType,
        embedding: list[float],
        n_results: int,
        where: dict[str, Any] | None = None,
    ) -> list[QueryMatch]:
        collection = self._collection(memory_type)
        found = collection.query(
            query_embeddings=[embedding],
            n_results=n_results,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        items = _items(found["ids"][0], found["documents"][0], found["metadatas"][0])
        return [QueryMatch(item, float(d)) for item, d in zip(items, found["distances"][0], strict=True)]

    def delete(self, memory_type: MemoryType, item_id: str) -> None:
        self._collection(memory_type).delete(ids=[item_id])
        for listener in self._listeners:
            listener.removed(memory_type, [item_id])

    def count(self, memory_type: MemoryType) -> int:
        return int(self._collection(memory_type).count())

    def size_on_disk(self) -> int | None:
        """Bytes used by the embedded store; None when a Chroma server holds the data."""
        if self._chroma_url or self._data_dir is None:
            return None
        root = self._data_dir / "chroma"
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _check_model(collection: Any, model: str, location: str) -> None:
    """Refuse a collection holding vectors of another embedding model (an empty one holds none)."""
    recorded = (collection.metadata or {}).get(MODEL_KEY)
    if recorded == model or collection.count() == 0:
        return
    recorded = recorded or UNRECORDED_MODEL
    if recorded != model:
        raise Conflict(
            f"The store at {location} holds vectors made by the embedding model '{recorded}', but this server "
            f"uses '{model}' (MCP_MEMORY_MODEL). Vectors of two models cannot be compared: set MCP_MEMORY_MODEL "
            f"back to '{recorded}', or use another data dir (or Chroma server) for '{model}'."
        )


def _record_model(collection: Any, model: str) -> None:
    """Name the model on a collection that does not name it yet (created earlier, or empty)."""
    metadata = dict(collection.metadata or {})
    if metadata.get(MODEL_KEY) == model:
        return
    # Chroma refuses any hnsw:* key on modify; the distance space stays as it was created.
    kept = {key: value for key, value in metadata.items() if not key.startswith("hnsw:")}
    collection.modify(metadata={**kept, MODEL_KEY: model})


def _items(ids: list[str], documents: list[str] | None, metadatas: list[Any] | None) -> list[StoredItem]:
    documents = documents or [""] * len(ids)
    metadatas = metadatas or [{}] * len(ids)
    return [
        StoredItem(item_id, doc or "", dict(meta or {}))
        for item_id, doc, meta in zip(ids, documents, metadatas, strict=True)
    ]
