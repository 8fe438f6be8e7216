"""The catalog (word index, signatures, languages) stays consistent with Chroma: adds, deletes, restarts, crashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory import catalog as catalog_module
from mcp_memory.memory import dense as dense_module
from mcp_memory.memory.drafts import error_draft, pattern_draft
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.type_catalog import Reading
from mcp_memory.storage.database import Database
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.store import MemoryStore
from tests.conftest import BOTH_DATABASES, as_a_new_process

pytestmark = pytest.mark.anyio

FASTAPI = "ModuleNotFoundError: No module named 'fastapi'"
ENV = "KeyError: 'DATABASE_URL'"


async def error_ids(app: MemoryApp, query: str, n: int = 5) -> list[str]:
    return [hit.id for hit in (await app.memory.recall(query, ["error"], n)).results]


def restart(settings: Settings, embedder: Embedder) -> MemoryApp:
    as_a_new_process()
    return MemoryApp(settings, embedder=embedder)


async def test_words_follow_add_delete_and_restart(settings: Settings, embedder: Embedder) -> None:
    app = MemoryApp(settings, embedder=embedder)
    fastapi = app.memory.remember_blocking(error_draft(FASTAPI, "", "pip install fastapi", True))
    assert (await error_ids(app, "Cannot import fastapi"))[0] == fastapi.id  # builds the catalog

    env = app.memory.remember_blocking(error_draft(ENV, "", "export DATABASE_URL", True))  # added after the build
    app.store.settle()  # its vector, and with it the catalog, follows the answer
    words = app.memory.catalog.view("error").words
    assert words is not None and env.id in words
    assert (await error_ids(app, "KeyError: 'PORT'"))[0] == env.id

    await app.memory.delete(fastapi.id)
    assert fastapi.id not in words
    assert fastapi.id not in await error_ids(app, "Cannot import fastapi")

    restarted = restart(settings, embedder)
    found = await error_ids(restarted, "DATABASE_URL missing")
    assert found == [env.id]
    rebuilt = restarted.memory.catalog.view("error")
    assert set(rebuilt.facts) == {env.id}
    assert rebuilt.signature_ids("KeyError: <name>") == {env.id}


async def test_a_write_that_bypassed_this_process_is_read_at_the_next_start(
    settings: Settings, embedder: Embedder
) -> None:
    app = MemoryApp(settings, embedder=embedder)
    app.memory.remember_blocking(error_draft(ENV, "", "export DATABASE_URL", True))
    await error_ids(app, "KeyError")  # catalog built

    # Another writer (a process that crashed right after its Chroma write, say) adds behind our back.
    other = MemoryApp(settings, embedder=embedder)
    written = other.memory.remember_blocking(error_draft(FASTAPI, "", "pip install fastapi", True))

    restarted = restart(settings, embedder)
    assert (await error_ids(restarted, "Cannot import fastapi"))[0] == written.id


@BOTH_DATABASES
async def test_a_shared_store_picks_up_writes_of_other_servers(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "SYNC_SECONDS", 0.0)
    app = MemoryApp(settings, embedder=embedder)
    app.memory.catalog.shared = True
    kept = app.memory.remember_blocking(error_draft(ENV, "", "export DATABASE_URL", True))
    await error_ids(app, "KeyError")

    # Another server on the same collections and the same database.
    other_store = MemoryStore(embedder, settings.data_dir, database=Database(settings.database_url, settings.data_dir))
    MemoryService(settings, embedder, other_store).remember_blocking(error_draft(FASTAPI, "", "pip install", True))
    other_store.delete("error", kept.id)

    found = await error_ids(app, "Cannot import fastapi")
    assert len(found) == 1 and found[0] != kept.id
    assert kept.id not in app.memory.catalog.view("error").facts


@BOTH_DATABASES
async def test_another_servers_write_reaches_a_language_being_read_with_its_vector(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write another server made while this one reads a language's vectors is kept for the read with its vector,
    so the read is complete and kept (with no vector it would be answered from but read again next time)."""
    monkeypatch.setattr(catalog_module, "SYNC_SECONDS", 3600.0)
    app = MemoryApp(settings, embedder=embedder)
    catalog = app.memory.catalog
    catalog.shared = True
    app.memory.remember_blocking(pattern_draft("first", "fn first() -> u8 { 1 }", "rust", "", {}, []))
    view = catalog.view("pattern")
    reading = view.reading_vectors["rust"] = Reading()  # a read of rust's vectors is under way

    other_store = MemoryStore(embedder, settings.data_dir, database=Database(settings.database_url, settings.data_dir))
    written = MemoryService(settings, embedder, other_store).remember_blocking(
        pattern_draft("second", "fn second() -> u8 { 2 }", "rust", "", {}, [])
    )
    other_store.settle()
    catalog.follow()
    kept = dict(reading.writes)  # the feed is re-read a little way back: earlier writes may come again
    assert written.id in kept and kept[written.id] is not None


@pytest.mark.parametrize("scanned", [150_000, 0], ids=["scan", "over-fetch"])
async def test_language_recall_matches_the_chroma_filter_on_both_fast_paths(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, scanned: int
) -> None:
    monkeypatch.setattr(dense_module, "MAX_SCANNED_VECTORS", scanned)  # 0: python (89%) is over-fetched
    app = MemoryApp(settings, embedder=embedder)
    drafts = [
        pattern_draft(f"helper {i}", f"def helper_{i}(x):\n    return x * {i}\n", "python", "", {}, [])
        for i in range(40)
    ]
    drafts += [pattern_draft("cobol report", "DISPLAY 'REPORT'.", "cobol", "print a report", {}, [])]
    drafts += [
        pattern_draft(f"go helper {i}", f"func helper{i}() int {{ return {i} }}", "go", "", {}, []) for i in range(4)
    ]
    app.memory.remember_many_blocking(drafts)

    for language in ("python", "cobol", "go"):
        ours = await app.memory.recall("a helper that multiplies", ["pattern"], 5, language=language)
        embedding = embedder.encode(["a helper that multiplies"])[0]
        truth = app.store.query("pattern", embedding, 5, {"language": language})
        assert [h.id for h in ours.results] == [m.item.id for m in truth], language
        assert {h.language for h in ours.results} == {language}

    view = app.memory.catalog.view("pattern")
    assert not view.complete and "cobol" in view.vectors  # the rare language went through the in-memory vectors
    assert ("python" in view.vectors) == (scanned > 0)
    new = app.memory.remember_blocking(pattern_draft("cobol total", "ADD A TO B.", "cobol", "add numbers", {}, []))
    ids = [h.id for h in (await app.memory.recall("add two numbers", ["pattern"], 5, language="cobol")).results]
    assert new.id in ids and len(ids) == 2
    await app.memory.delete(new.id)
    ids = [h.id for h in (await app.memory.recall("add two numbers", ["pattern"], 5, language="cobol")).results]
    assert new.id not in ids and len(ids) == 1
    assert (await app.memory.recall("x", ["pattern"], 5, language="rust")).results == []


def test_catalog_facts_of_an_error_hold_its_signature(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)
    stored = app.memory.remember_blocking(error_draft(ENV, "", "export it", True, language="python"))
    view = app.memory.catalog.view("error")
    facts = view.facts[stored.id]
    assert (facts.language, facts.signature, facts.words) == ("python", "KeyError: <name>", ENV)
    assert app.store.get("error", [stored.id])[0].metadata["signature"] == "KeyError: <name>"


async def test_the_background_start_builds_the_error_index_before_the_first_recall(
    settings: Settings, embedder: Embedder
) -> None:
    first = MemoryApp(settings, embedder=embedder)
    env = first.memory.remember_blocking(error_draft(ENV, "", "export DATABASE_URL", True))

    restarted = restart(settings, embedder)
    assert not restarted.memory.catalog.built("error")
    warmup = restarted.start_in_background(delay=0)
    assert warmup is not None
    warmup.join(timeout=60)
    assert restarted.memory.catalog.built("error")
    assert env.id in (restarted.memory.catalog.view("error").words or ())
    assert (await error_ids(restarted, "KeyError: 'PORT'")) == [env.id]


def test_a_language_read_while_a_new_vector_waits_for_the_catalog_does_not_stall(
    settings: Settings, embedder: Embedder
) -> None:
    """A recall reading a language's vectors holds the catalog's lock; a store's vector, written behind its answer,
    waits for that lock to tell the catalog. The read must not wait for that vector (each would wait for the other)."""
    app = MemoryApp(settings, embedder=embedder)
    add = app.memory.remember_blocking(pattern_draft("add", "def add(a, b):\n    return a + b\n", "rust", "", {}, []))
    app.store.settle()
    query = embedder.encode(["multiply two numbers"])[0]
    view = app.memory.catalog.view("pattern")
    with view.lock:  # as a recall reading the language holds it
        times = app.memory.remember_blocking(
            pattern_draft("times", "def times(a, b):\n    return a * b\n", "rust", "", {}, [])
        )
        started = time.monotonic()
        found = app.memory.catalog.nearest_in_language("pattern", "rust", query, 5)
        assert time.monotonic() - started < 5  # not the backlog's 30 s wait
        assert found is not None and add.id in {item_id for item_id, _ in found}
    app.store.settle()  # the waiting vector lands and the held language vectors take it
    after = app.memory.catalog.nearest_in_language("pattern", "rust", query, 5)
    assert after is not None and after[0][0] == times.id
