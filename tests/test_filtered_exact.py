"""A language recall that scans the language's vectors in memory returns exactly what an exhaustive search gives,
also for a language large enough to be scored from one-byte codes first, with a project scope, and after writes
(its own and other servers').

The large store is written once per module (Chroma indexes ~1,000 vectors a second here) and each test that needs
it opens its own copy of the data dir, as a new process would.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory import catalog as catalog_module
from mcp_memory.memory import dense as dense_module
from mcp_memory.memory.drafts import pattern_draft
from mcp_memory.memory.records import content_hash, draft_id, new_metadata
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.vector_cache import CODED_FROM
from mcp_memory.storage.database import Database
from mcp_memory.storage.embeddings import DIMENSION, Embedder
from mcp_memory.storage.store import MemoryStore, StoredItem
from tests.conftest import as_a_new_process

pytestmark = pytest.mark.anyio

LARGE = 16_000  # with OTHERS more of the language: past CODED_FROM, scored from codes first
OTHERS = 2_000
QUERIES = ["a helper that multiplies", "read a file line by line", "retry a request with backoff"]


def unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def store_patterns(app: MemoryApp, language: str, count: int, seed: int, project: str = "") -> dict[str, np.ndarray]:
    """Patterns written as an import writes them (rows, then vectors given, not encoded); their vectors by id."""
    rows = unit_rows(count, seed)
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, count, 5000):
        items = []
        for i in range(start, min(count, start + 5000)):
            code = f"def {language}_{seed}_{i}(x):\n    return x + {i}\n"
            draft = dataclasses.replace(pattern_draft(f"{language} {i}", code, language, "", {}, []), project=project)
            digest = content_hash("pattern", draft.identity_text)
            items.append(StoredItem(draft_id(draft, digest), draft.content, new_metadata(draft, digest)))
            vectors[items[-1].id] = rows[i]
        app.store.add("pattern", items, [vectors[item.id] for item in items])
    return vectors


def exhaustive(vectors: dict[str, np.ndarray], query: list[float], n: int) -> list[str]:
    ids = list(vectors)
    similarities = np.stack([vectors[i] for i in ids]) @ np.asarray(query, dtype=np.float32)
    return [ids[i] for i in np.argsort(-similarities)[:n]]


async def recalled(app: MemoryApp, query: str, language: str, project: str = "*") -> list[str]:
    found = await app.memory.recall(query, ["pattern"], 5, language=language, project=project)
    return [hit.id for hit in found.results]


@dataclasses.dataclass(frozen=True)
class LargeStore:
    """A data dir of LARGE rust patterns, OTHERS more rust ones in the project "elsewhere" and OTHERS python ones."""

    data_dir: Path
    rust: dict[str, np.ndarray]
    elsewhere: dict[str, np.ndarray]


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[LargeStore]:
    data_dir = tmp_path_factory.mktemp("large") / "data"
    settings = Settings(data_dir=data_dir, database_url=None, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    rust = store_patterns(app, "rust", LARGE, seed=1)
    elsewhere = store_patterns(app, "rust", OTHERS, seed=2, project="elsewhere")
    store_patterns(app, "python", OTHERS, seed=3)
    app.store.settle()
    app.database.close()
    as_a_new_process()
    yield LargeStore(data_dir, rust, elsewhere)
    shutil.rmtree(data_dir, ignore_errors=True)


def open_copy(large: LargeStore, settings: Settings, embedder: Embedder) -> MemoryApp:
    """A new app on a copy of the large store's data dir: this test's writes stay its own."""
    shutil.copytree(large.data_dir, settings.data_dir)
    return MemoryApp(settings, embedder=embedder)


async def test_a_language_scored_from_codes_is_searched_exactly(
    large_store: LargeStore, settings: Settings, embedder: Embedder
) -> None:
    assert LARGE + OTHERS <= dense_module.MAX_SCANNED_VECTORS  # scanned, though it is most of the collection
    app = open_copy(large_store, settings, embedder)
    rust, elsewhere = dict(large_store.rust), large_store.elsewhere

    for query in QUERIES:
        embedding = embedder.encode([query])[0]
        assert await recalled(app, query, "rust") == exhaustive(rust | elsewhere, embedding, 5), query
        assert await recalled(app, query, "rust", project="mine") == exhaustive(rust, embedding, 5), query
    held = app.memory.catalog.view("pattern").vectors["rust"]
    assert len(held) == LARGE + OTHERS >= CODED_FROM

    # Writes after the load are followed: a new nearest memory is found, a deleted one is gone.
    query = QUERIES[0]
    embedding = embedder.encode([query])[0]
    written = app.memory.remember_blocking(
        pattern_draft("times", "def times(x, y):\n    return x * y\n", "rust", "", {}, [])
    )
    rust[written.id] = np.asarray(app.store.vectors("pattern", [written.id])[written.id], dtype=np.float32)
    assert written.id in await recalled(app, query, "rust")
    assert await recalled(app, query, "rust", project="mine") == exhaustive(rust, embedding, 5)
    first = exhaustive(rust, embedding, 1)[0]
    await app.memory.delete(first)
    del rust[first]
    assert await recalled(app, query, "rust", project="mine") == exhaustive(rust, embedding, 5)
    assert len(held) == LARGE + OTHERS


async def test_held_vectors_take_the_writes_of_other_servers(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "SYNC_SECONDS", 0.0)
    app = MemoryApp(settings, embedder=embedder)
    app.memory.catalog.shared = True
    store_patterns(app, "rust", 200, seed=4)
    query = QUERIES[0]
    await recalled(app, query, "rust")  # reads rust's vectors
    held = app.memory.catalog.view("pattern").vectors["rust"]

    other_store = MemoryStore(embedder, settings.data_dir, database=Database(settings.database_url, settings.data_dir))
    times = pattern_draft("times", "def times(x, y):\n    return x * y\n", "rust", "", {}, [])
    written = MemoryService(settings, embedder, other_store).remember_blocking(times)
    other_store.settle()  # that server's write has landed (its vector follows its answer)

    assert (await recalled(app, query, "rust"))[0] == written.id
    assert app.memory.catalog.view("pattern").vectors["rust"] is held and len(held) == 201  # not read again


def test_a_language_is_read_without_holding_up_the_type_and_takes_the_writes_made_meanwhile(
    large_store: LargeStore, settings: Settings, embedder: Embedder
) -> None:
    """Reading a language's ids and vectors from Chroma takes seconds at a million memories; meanwhile every other
    recall of the type needs the catalog's lock, and writes keep coming. The read holds neither up and misses none."""
    app = open_copy(large_store, settings, embedder)
    rust = large_store.rust | large_store.elsewhere  # the language's vectors, whatever their project
    catalog = app.memory.catalog
    view = catalog.view("pattern")
    query = embedder.encode([QUERIES[1]])[0]
    found: list[list[tuple[str, float]] | None] = []
    reader = threading.Thread(target=lambda: found.append(catalog.nearest_in_language("pattern", "rust", query, 5)))
    reader.start()
    deadline = time.monotonic() + 30
    while "rust" not in view.reading_ids and "rust" not in view.reading_vectors:
        assert time.monotonic() < deadline and reader.is_alive(), "the read never started"
        time.sleep(0.001)

    started = time.monotonic()
    with view.lock:  # what every other recall of the type takes
        waited = time.monotonic() - started
        still_reading = "rust" in view.reading_ids or "rust" in view.reading_vectors
    # A new nearest memory and a deleted one, written while the language is read.
    written = app.memory.remember_blocking(
        pattern_draft("times", "def times(x, y):\n    return x * y\n", "rust", "", {}, [])
    )
    app.store.settle()
    rust[written.id] = np.asarray(app.store.vectors("pattern", [written.id])[written.id], dtype=np.float32)
    first = exhaustive(rust, query, 1)[0]
    app.store.delete("pattern", first)
    del rust[first]
    wrote_during_the_read = "rust" in view.reading_ids or "rust" in view.reading_vectors
    reader.join(60)

    assert still_reading and waited < 0.5  # the lock was free while the language was read
    assert wrote_during_the_read, "the read ended before the writes: lengthen it"
    again = catalog.nearest_in_language("pattern", "rust", query, 5)
    assert again is not None and [item_id for item_id, _ in again] == exhaustive(rust, query, 5)
    held = view.vectors["rust"]
    assert written.id in held.row_of and first not in held.row_of and len(held) == LARGE + OTHERS


async def test_held_vectors_stay_within_the_cache_limit(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A language whose vectors would pass the limit, with what is held already, is not held: its recall takes
    the other paths and is still answered."""
    app = MemoryApp(settings, embedder=embedder)
    store_patterns(app, "rust", 300, seed=6)
    store_patterns(app, "java", 300, seed=7)
    per_language = 300 * (5 * 384 + 8)
    monkeypatch.setattr(catalog_module, "MAX_CACHED_BYTES", per_language + per_language // 2)
    catalog = app.memory.catalog
    query = embedder.encode([QUERIES[0]])[0]
    assert catalog.nearest_in_language("pattern", "rust", query, 5) is not None  # fits alone
    assert catalog.nearest_in_language("pattern", "java", query, 5) is None  # not beside rust
    assert set(catalog.view("pattern").vectors) == {"rust"}
    assert catalog._reserved == 0  # nothing left reserved by either read
    assert len(await recalled(app, QUERIES[0], "java")) == 5
