"""The Chroma vector index: one collection per memory type, our own embedding function.

Holds vectors and the flat fields filters need; never text or counters (those are the database's).

Collections are created in inner-product space: for our unit vectors its distance, 1 - dot, is the cosine distance,
and Chroma keeps an inner-product vector exactly as written. A cosine collection scales every vector it is given to
unit length again, which moves the last bits of many (a quarter to a third of the model's vectors; of those read
back and written again, one in eight moves once more), so a store exported with its vectors and imported elsewhere
would not export the same bytes. Collections created in cosine space by earlier releases stay as they are (Chroma
cannot change a collection's space).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mcp_memory.errors import CannotStart, Conflict, InvalidInput, StoreDamaged, Unavailable
from mcp_memory.models import MemoryType
from mcp_memory.storage.chroma_import import import_chromadb
from mcp_memory.storage.data_dir import check_data_dir, private_dir
from mcp_memory.storage.database import DAMAGED_SIGNS
from mcp_memory.storage.embeddings import Embedder, make_chroma_embedding_function
from mcp_memory.storage.space import LOW_SPACE_BYTES, free_bytes

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
SPACE = "ip"
# How a new collection's nearest-vector graph (HNSW) is built; Chroma fixes it when the collection is made, so a
# store keeps the build it was created with. 32 links a node and a build search of 200, where Chroma's defaults are
# 16 and 100: on real vectors (80,000 code definitions, held-out queries) an unfiltered top 5 is exact for 98.5% of
# queries instead of 94.6%, for +0.2 ms a query and ~1.7x the time to index a vector (bench/README.md).
INDEX_BUILD = {"hnsw:M": 32, "hnsw:construction_ef": 200}
# How many candidates every graph search looks at (Chroma's default: 100), on new and existing collections alike (a
# search setting, which Chroma changes on a built graph). On 80,000 real code vectors: an unfiltered top 5 exact for
# 99% of queries (97.5% at 100), an over-fetched language's for 99-99.5%, at ~1.1 ms more a query; at 1,000,000 an
# over-fetched language's recall takes 1.1x an unfiltered one instead of 1.4-1.5x (bench/README.md).
SEARCH_WIDTH = 300
# Ids read a page at a time: Chroma skips an offset row by row, so a whole-collection read in pages of 5,000 took
# 371 s at 1,000,000 vectors with their metadata, and 22 s in pages of 100,000, ids alone (bench/README.md).
ID_PAGE = 100_000
TAG_PAGE = 5_000  # ids asked for by name at once (SQLite's limit on a statement's variables is 32,766)
# Vectors further than this from unit length (say, from a hand-made import file) are scaled to it; the encoders'
# own are within 1e-6, and are written as they are.
UNIT_TOLERANCE = 1e-4


class ChromaIndex:
    """One Chroma client (embedded, or a ``chroma run`` server) and its collections."""

    def __init__(self, embedder: Embedder, data_dir: Path | None, chroma_url: str | None = None) -> None:
        self._embedder = embedder
        self._data_dir = data_dir
        self._chroma_url = chroma_url
        self._client: Any = None
        self._collections: dict[MemoryType, Any] = {}
        self._open_lock = threading.Lock()
        self._damaged: StoreDamaged | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    @property
    def location(self) -> str:
        return self._chroma_url or str(self._data_dir)

    def open(self) -> None:
        """Connect and create the collections if they do not exist (idempotent)."""
        with self._open_lock:
            if self._client is not None:
                return
            if self._damaged is not None:  # Chroma cannot be asked twice: its second answer is a confusing one
                raise self._damaged
            chromadb = import_chromadb()
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            try:
                if self._chroma_url:
                    url = urlparse(self._chroma_url)
                    if url.scheme not in ("http", "https") or not url.hostname:
                        raise InvalidInput(
                            "chroma_url",
                            f"'{self._chroma_url}' is not an http(s) URL.",
                            "Use e.g. http://127.0.0.1:8000.",
                        )
                    client = chromadb.HttpClient(
                        host=url.hostname,
                        port=url.port or (443 if url.scheme == "https" else 8000),
                        ssl=url.scheme == "https",
                        settings=chroma_settings,
                    )
                else:
                    assert self._data_dir is not None
                    check_data_dir(self._data_dir)
                    write_ahead_log(self._data_dir / "chroma" / "chroma.sqlite3")
                    client = chromadb.PersistentClient(path=str(self._data_dir / "chroma"), settings=chroma_settings)
                embedding_function = make_chroma_embedding_function(self._embedder)
                model = self._embedder.model_name
                collections = {
                    memory_type: client.get_or_create_collection(
                        name=name,
                        embedding_function=embedding_function,
                        metadata={"hnsw:space": SPACE, **INDEX_BUILD, "hnsw:search_ef": SEARCH_WIDTH, MODEL_KEY: model},
                    )
                    for memory_type, name in COLLECTION_NAMES.items()
                }
                for collection in collections.values():  # every one checked before any is changed
                    _check_model(collection, model, self.location)
                for collection in collections.values():
                    _record_model(collection, model)
                    _widen_search(collection)
                self._collections.update(collections)
            except (ConnectionError, OSError) as exc:
                raise CannotStart(
                    f"Cannot open the Chroma store at {self.location} ({exc}). Check the data dir or the Chroma server."
                ) from exc
            except chromadb.errors.ChromaError as exc:
                if self._data_dir is not None and not self._chroma_url and any(s in str(exc) for s in DAMAGED_SIGNS):
                    self._damaged = StoreDamaged(
                        f"The vector index {self._data_dir / 'chroma'} is damaged ({exc}). Stop the server, move that "
                        "folder aside and start again: the index is rebuilt from the database."
                    )
                    raise self._damaged from exc
                raise
            except ValueError as exc:
                if "Could not connect" in str(exc):
                    raise CannotStart(
                        f"Cannot reach the Chroma server at {self._chroma_url}. Start it (chroma run --path DIR --port "
                        "PORT), or fix --chroma-url (MCP_MEMORY_CHROMA_URL)."
                    ) from exc
                raise
            self._client = client

    def collection(self, memory_type: MemoryType) -> Any:
        if self._client is None:
            self.open()
        return self._collections[memory_type]

    def nearest(
        self, memory_type: MemoryType, embedding: Any, n_results: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine distances of the nearest vectors, best first."""
        found = self.collection(memory_type).query(
            query_embeddings=[embedding], n_results=n_results, where=where or None, include=["distances"]
        )
        return list(zip(found["ids"][0], (float(d) for d in found["distances"][0]), strict=True))

    def nearest_many(self, memory_type: MemoryType, embeddings: Any, n_results: int) -> list[list[tuple[str, float]]]:
        """For each embedding, the ids and cosine distances of its nearest vectors, best first (one query)."""
        if len(embeddings) == 0:
            return []
        found = self.collection(memory_type).query(
            query_embeddings=list(embeddings), n_results=n_results, include=["distances"]
        )
        return [
            list(zip(ids, (float(d) for d in distances), strict=True))
            for ids, distances in zip(found["ids"], found["distances"], strict=True)
        ]

    def vectors(self, memory_type: MemoryType, ids: list[str], where: dict[str, Any] | None = None) -> dict[str, Any]:
        """The stored vectors of ``ids`` (those matching ``where``)."""
        if not ids:
            return {}
        found = self.collection(memory_type).get(ids=ids, where=where or None, include=["embeddings"])
        vectors = found["embeddings"] if found["embeddings"] is not None else []
        return dict(zip(found["ids"], vectors, strict=True))

    def ids(self, memory_type: MemoryType, where: dict[str, Any] | None = None) -> list[str]:
        """Every id in one collection (matching ``where``), nothing else read."""
        return list(self.collection(memory_type).get(where=where or None, include=[])["ids"])

    def all_ids(self, memory_type: MemoryType, page: int = ID_PAGE) -> Iterator[str]:
        """Every id in one collection, a page at a time, nothing else read (reading metadata too costs ~4x)."""
        collection = self.collection(memory_type)
        offset = 0
        while True:
            found = collection.get(include=[], limit=page, offset=offset)["ids"]
            yield from found
            if len(found) < page:
                return
            offset += page

    def store_tags(self, memory_type: MemoryType, ids: list[str]) -> dict[str, str | None]:
        """The ``store_id`` each of ``ids``' vectors was written for (None for vectors written before tags), for
        the ids that have a vector."""
        tags: dict[str, str | None] = {}
        for found in self._read_by_id(memory_type, ids, ["metadatas"], TAG_PAGE):
            for item_id, meta in zip(found["ids"], found["metadatas"] or [], strict=True):
                tags[item_id] = (meta or {}).get("store_id")
        return tags

    def legacy_records(
        self, memory_type: MemoryType, page: int = TAG_PAGE
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Records written by the releases that kept text and counters in Chroma: (id, document, metadata)."""
        ids = list(self.all_ids(memory_type))
        for found in self._read_by_id(memory_type, ids, ["documents", "metadatas"], page):
            for item_id, document, meta in zip(
                found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True
            ):
                if document is not None and "content_hash" in (meta or {}):
                    yield item_id, document, dict(meta)

    def _read_by_id(self, memory_type: MemoryType, ids: list[str], include: list[str], page: int) -> Iterator[Any]:
        """What Chroma holds of ``ids``, asked for by name a page at a time (no offset for it to skip row by row)."""
        collection = self.collection(memory_type)
        for start in range(0, len(ids), page):
            yield collection.get(ids=ids[start : start + page], include=include)

    def upsert(self, memory_type: MemoryType, ids: list[str], metadatas: list[dict[str, Any]], embeddings: Any) -> None:
        vectors = unit_rows(embeddings)
        with self._writing():
            self.collection(memory_type).upsert(ids=ids, metadatas=metadatas, embeddings=list(vectors))

    def delete(self, memory_type: MemoryType, ids: list[str]) -> None:
        if ids:
            with self._writing():
                self.collection(memory_type).delete(ids=ids)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write of the embedded index on a full disk says so (Chroma's own message does not)."""
        import chromadb.errors

        try:
            yield
        except (chromadb.errors.ChromaError, OSError) as exc:
            folder = self._data_dir / "chroma" if self._data_dir is not None and not self._chroma_url else None
            free = free_bytes(folder) if folder is not None else None
            if folder is not None and free is not None and free < LOW_SPACE_BYTES:
                raise Unavailable(
                    f"The disk holding the vector index {folder} is full ({free:,} bytes free; {exc}). Free space on "
                    "that disk, then retry."
                ) from exc
            raise

    def count(self, memory_type: MemoryType) -> int:
        return int(self.collection(memory_type).count())

    def size_on_disk(self) -> int | None:
        """Bytes used by the embedded store; None when a Chroma server holds the data."""
        if self._chroma_url or self._data_dir is None:
            return None
        root = self._data_dir / "chroma"
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def write_ahead_log(path: Path) -> None:
    """Create the embedded Chroma's SQLite file of a new store in WAL mode, before Chroma opens it.

    Chroma opens its file without choosing a journal mode, so the one kept in the file holds. In its default
    rollback-journal mode an upsert waits for ~8 fsyncs (the journal, then the file, for each of its
    transactions); in WAL mode for fewer, and the upsert of one vector took 3.7 ms p50 / 5.1 ms p95 against
    5.1 / 10.4 ms (bench/README.md). An existing file is never opened here: Chroma links its own SQLite, and a
    second SQLite library closing a file that Chroma holds in this process drops Chroma's locks and, in WAL mode,
    checkpoints and deletes the log under it (a "malformed" database). So a store of an earlier release keeps
    its rollback journal.
    """
    if path.exists():
        return
    private_dir(path.parent)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as connection:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                logger.warning("the vector index %s stays in journal mode %s (WAL unavailable here)", path, mode)
    except sqlite3.Error as exc:
        logger.warning("the vector index %s is created by Chroma in its own journal mode: %s", path, exc)


def unit_rows(embeddings: Any) -> Any:
    """The vectors as float32 rows, those far from unit length scaled to it (the others untouched, to the bit)."""
    import numpy as np

    rows = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(rows.astype(np.float64), axis=1)
    off = (np.abs(norms - 1.0) > UNIT_TOLERANCE) & (norms > 0)
    if off.any():
        rows = rows.copy()
        rows[off] = (rows[off] / norms[off, None]).astype(np.float32)
    return rows


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


def _widen_search(collection: Any) -> None:
    """Search a collection made with a narrower search (an earlier release's) ``SEARCH_WIDTH`` wide; a wider one,
    set by hand, is kept."""
    hnsw = (collection.configuration_json or {}).get("hnsw")
    if hnsw is not None and hnsw.get("ef_search", SEARCH_WIDTH) < SEARCH_WIDTH:
        collection.modify(configuration={"hnsw": {"ef_search": SEARCH_WIDTH}})


def _record_model(collection: Any, model: str) -> None:
    """Name the model on a collection that does not name it yet (created earlier, or empty)."""
    metadata = dict(collection.metadata or {})
    if metadata.get(MODEL_KEY) == model:
        return
    # Chroma refuses any hnsw:* key on modify; the distance space stays as it was created.
    kept = {key: value for key, value in metadata.items() if not key.startswith("hnsw:")}
    collection.modify(metadata={**kept, MODEL_KEY: model})
