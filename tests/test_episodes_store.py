"""The episode records in the database, on SQLite and PostgreSQL: gap-free sequence numbers under threads,
processes and servers, durability, repair, the word index, and the move from the file of earlier releases."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromadb.api.shared_system_client import SharedSystemClient

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.episodes import index as episode_index
from mcp_memory.episodes.digest import query_terms
from mcp_memory.episodes.service import EpisodeService
from mcp_memory.errors import Conflict, NotFound
from mcp_memory.memory.service import MemoryService
from mcp_memory.storage.change_feed import StoreFacts
from mcp_memory.storage.database import Database
from mcp_memory.storage.embeddings import Embedder
from mcp_memory.storage.episode_legacy import LEGACY_FILE, fact_key
from mcp_memory.storage.episode_store import WORDS_VERSION_FACT, EpisodeStore, NewEvent
from mcp_memory.storage.store import MemoryStore
from mcp_memory.words import TOKENS_VERSION, code_tokens

LEGACY_DATA_DIR = Path(__file__).parent / "data" / "episodes-v1"  # written by the release that kept episodes.sqlite3
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mcp_memory.storage.episode_store import WORDS_VERSION_FACT, EpisodeStore, NewEvent
    from mcp_memory.storage.database import Database

    url, episode_id, name, count, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
    store = EpisodeStore(Database(url, None))
    store.open()
    Path(f"{go}.{name}").touch()
    while not go.exists():
        time.sleep(0.001)
    seqs = [store.append(episode_id, [NewEvent("edit", name, f'{{"i": {i}}}')], time.time())[0] for i in range(count)]
    print(" ".join(map(str, seqs)), flush=True)
    if os.environ.get("CRASH"):
        os._exit(9)  # no close, no checkpoint: what a killed server leaves behind
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database: an SQLite file, or a PostgreSQL database in the session's cluster."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'memory.sqlite3'}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = Database(database_url, None)
    yield opened
    opened.close()


def new_store(database: Database) -> tuple[EpisodeStore, str]:
    store = EpisodeStore(database)
    store.create("ep_shared", "One task, many agents", "{}", None, time.time())
    return store, "ep_shared"


def forget_words_version(database: Database) -> None:
    """Leave the database as the release before left it: no record of the tokenizer that made its words."""
    with database.write() as conn:
        conn.exec_driver_sql(f"DELETE FROM store_facts WHERE key = '{WORDS_VERSION_FACT}'")


def start_writers(
    tmp_path: Path, url: str, episode_id: str, names: list[str], count: int, crash: bool = False
) -> list[str]:
    """Processes that append ``count`` events each, all released at the same instant; returns their seqs."""
    go = tmp_path / "go"
    env = {"CRASH": "1"} if crash else {}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, episode_id, name, str(count), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for name in names
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"go.{name}").exists() for name in names):
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.01)
    go.touch()
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    return outputs


def test_three_processes_appending_to_one_episode_get_every_number_exactly_once(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    store, episode_id = new_store(database)

    outputs = start_writers(tmp_path, database_url, episode_id, ["WORKER_A", "WORKER_B", "WORKER_C"], 100)

    per_process = [list(map(int, output.split())) for output in outputs]
    assert all(len(seqs) == 100 and seqs == sorted(seqs) for seqs in per_process)
    assert sorted(s for seqs in per_process for s in seqs) == list(range(1, 301))
    assert [e.seq for e in store.events(episode_id)] == list(range(1, 301))
    assert store.get(episode_id).event_count == 300
    assert sorted(store.get(episode_id).roles) == ["WORKER_A", "WORKER_B", "WORKER_C"]


def test_eight_threads_appending_to_one_episode_get_every_number_exactly_once(database: Database) -> None:
    store, episode_id = new_store(database)
    seqs: list[int] = []
    barrier = threading.Barrier(8)

    def write(name: str) -> None:
        barrier.wait()
        for i in range(50):
            seqs.extend(store.append(episode_id, [NewEvent("edit", name, f'{{"i": {i}}}')], time.time()))

    threads = [threading.Thread(target=write, args=(f"WORKER_{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(seqs) == list(range(1, 401))
    assert [e.seq for e in store.events(episode_id)] == list(range(1, 401))


def test_events_recorded_by_a_process_that_is_killed_are_all_there(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    _, episode_id = new_store(database)

    outputs = start_writers(tmp_path, database_url, episode_id, ["WORKER_A"], 50, crash=True)

    assert list(map(int, outputs[0].split())) == list(range(1, 51))
    reopened = EpisodeStore(Database(database_url, None))
    assert [e.seq for e in reopened.events(episode_id)] == list(range(1, 51))


def test_the_sqlite_database_is_in_wal_mode_and_commits_with_full_sync(tmp_path: Path) -> None:
    store, _ = new_store(Database(None, tmp_path))

    with sqlite3.connect(tmp_path / "memory.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_batch_append_is_all_or_nothing_and_an_ended_episode_refuses_it(database: Database) -> None:
    store, episode_id = new_store(database)
    assert store.append(episode_id, [NewEvent("a", "R", "{}"), NewEvent("b", "R", "{}")], time.time()) == [1, 2]
    store.end(episode_id, True, "{}", "", time.time())

    with pytest.raises(Conflict, match="already ended"):
        store.append(episode_id, [NewEvent("c", "R", "{}")], time.time())
    with pytest.raises(Conflict, match="cannot end twice"):
        store.end(episode_id, False, "{}", "", time.time())
    with pytest.raises(NotFound, match="Call start_episode"):
        store.append("ep_missing", [NewEvent("c", "R", "{}")], time.time())

    assert store.get(episode_id).event_count == 2
    assert [e.seq for e in store.events(episode_id)] == [1, 2]


def test_labels_of_the_longest_accepted_length_are_recorded(database: Database) -> None:
    store, episode_id = new_store(database)
    label = "x" * 100  # the longest event type and agent role record_event accepts

    assert store.append(episode_id, [NewEvent(label, label, '{"note": "naïve ✓"}')], time.time()) == [1]
    [event] = store.events(episode_id)
    assert (event.event_type, event.agent_role, event.data_json) == (label, label, '{"note": "naïve ✓"}')


def test_word_search_ranks_rare_shared_words_first_and_can_keep_only_successes(database: Database) -> None:
    store = EpisodeStore(database)
    words = {
        "ep_limits": ("rate limiting gateway", "edit gateway limits py token bucket token bucket"),
        "ep_bucket": ("storage cleanup", "delete old bucket objects"),
        "ep_docs": ("write guide", "edit docs guide md"),
    }
    for number, (episode_id, (task, events)) in enumerate(words.items()):
        store.create(episode_id, task, "{}", None, time.time() + number)
        store.end(episode_id, episode_id != "ep_limits", "{}", "", time.time())
        store.save_digest(episode_id, "{}", task, events)

    assert store.document_frequencies(["bucket", "gateway", "unknown"]) == {"bucket": 2, "gateway": 1}
    assert store.search(["token", "bucket"], 10, success_only=False) == ["ep_limits", "ep_bucket"]
    assert store.search(["token", "bucket"], 10, success_only=True) == ["ep_bucket"]
    assert store.search(["guide"], 10, success_only=False) == ["ep_docs"]
    assert store.indexed_words("ep_docs") == {"write", "guide", "edit", "docs", "md"}
    store.save_digest("ep_docs", "{}", "write manual", "edit docs manual")  # indexed again: old words go
    assert store.search(["guide"], 10, success_only=False) == []


def test_recording_never_loads_the_model_or_opens_chroma(settings: Settings) -> None:
    embedder = Embedder()
    vectors = MemoryStore(embedder, settings.data_dir)
    episodes = EpisodeService(settings, MemoryService(settings, embedder, vectors))

    started = episodes.start_blocking("Refactor the parser", {}, "ORCHESTRATOR")
    episodes.record_many_blocking(started.episode_id, [("edit", "WORKER_BACKEND", {"file": "parser.py"})])
    replay = episodes.get_blocking(started.episode_id)

    assert [e.data for e in replay.events] == [{"file": "parser.py"}]
    assert (embedder.loaded, vectors.is_open) == (False, False)


def test_a_new_store_records_its_tokenizer_so_its_words_are_never_indexed_again(database: Database) -> None:
    store = EpisodeStore(database)
    store.create("ep_new", "Fix the json.decoder crash", "{}", None, time.time())

    assert store.words_version() == TOKENS_VERSION


def test_words_an_earlier_tokenizer_made_are_indexed_again_once_and_found_by_the_new_words(settings: Settings) -> None:
    embedder = Embedder()  # never loaded: only the words are read and written
    vectors = MemoryStore(embedder, settings.data_dir)
    earlier = EpisodeService(settings, MemoryService(settings, embedder, vectors))
    task = "Fix the json.decoder crash in ConfigLoader"
    episode_id = earlier.start_blocking(task, {}, None).episode_id
    earlier.end_blocking(episode_id, True, {}, "")
    # What the release before wrote: dotted names only split, and no tokenizer version recorded.
    earlier.store.save_words([(episode_id, "fix json decoder crash configloader config loader", "")])
    forget_words_version(earlier.store.db)
    assert earlier.store.search(["json.decoder"], 5, success_only=False) == []

    upgraded = EpisodeService(settings, MemoryService(settings, embedder, vectors))
    assert upgraded.store.words_version() is None  # opening a store that holds words records nothing
    upgraded.ensure_words_blocking()

    assert upgraded.store.indexed_words(episode_id) == set(code_tokens(task))
    assert upgraded.store.search(query_terms("json.decoder crash"), 5, success_only=False) == [episode_id]
    assert upgraded.store.words_version() == TOKENS_VERSION
    assert upgraded.reindex_words_blocking() == 0  # recorded in the database: the next server does nothing


def test_the_background_start_makes_episode_words_of_an_earlier_tokenizer_again(
    settings: Settings, embedder: Embedder
) -> None:
    app = MemoryApp(settings, embedder=embedder)
    episode_id = app.episodes.start_blocking("Fix the json.decoder crash", {}, None).episode_id
    app.episodes.end_blocking(episode_id, True, {}, "")
    app.episodes.store.save_words([(episode_id, "fix json decoder crash", "")])  # as the release before wrote them
    forget_words_version(app.database)
    SharedSystemClient.clear_system_cache()

    restarted = MemoryApp(settings, embedder=embedder)
    warmup = restarted.start_in_background(delay=0)
    assert warmup is not None
    warmup.join(timeout=60)

    assert restarted.episodes.store.search(["json.decoder"], 5, success_only=False) == [episode_id]
    assert restarted.episodes.store.words_version() == TOKENS_VERSION


@pytest.mark.anyio
async def test_an_episode_ended_but_not_indexed_before_a_crash_is_found_after_restart(
    settings: Settings, embedder: Embedder
) -> None:
    app = MemoryApp(settings, embedder=embedder)
    digested = app.episodes.start_blocking("Migrate the billing service to Postgres", {}, None).episode_id
    app.episodes.record_many_blocking(digested, [("migration", "WORKER_BACKEND", {"files": ["billing/db.py"]})])
    app.episodes.end_blocking(digested, True, {}, "Moved billing tables to Postgres.")  # crashed before the vector
    bare = app.episodes.start_blocking("Migrate the invoices service to Postgres", {}, None).episode_id
    app.episodes.store.end(bare, False, "{}", "", time.time())  # crashed before the digest too
    SharedSystemClient.clear_system_cache()

    restarted = MemoryApp(settings, embedder=embedder)
    found = await restarted.episodes.recall_similar("Move a service database to Postgres", 5, False)

    assert {r.episode_id for r in found.results} == {digested, bare}
    assert restarted.episodes.store.pending(10) == []


@pytest.mark.anyio
async def test_success_only_recall_falls_back_to_the_vector_filter_when_failures_fill_the_nearest(
    app: MemoryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(episode_index, "FUSION_DEPTH", 1)
    monkeypatch.setattr(episode_index, "SUCCESS_WIDENING", 1)
    for task in ("Upgrade the payments SDK to v3", "Upgrade the payments SDK to v4"):
        failed = app.episodes.start_blocking(task, {}, None).episode_id
        await app.episodes.end(failed, False, {}, "")  # the two nearest: no success among them
    worked = app.episodes.start_blocking("Rotate the TLS certificates of the edge proxies", {}, None).episode_id
    await app.episodes.end(worked, True, {}, "")

    found = await app.episodes.recall_similar("Upgrade the payments SDK", 1, success_only=True)

    assert [r.episode_id for r in found.results] == [worked]


@pytest.mark.anyio
async def test_servers_sharing_one_postgresql_database_share_their_episodes(
    tmp_path: Path, postgres_url: str, embedder: Embedder
) -> None:
    one, two = (
        MemoryApp(Settings(data_dir=tmp_path / name, database_url=postgres_url, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
        for name in ("machine-1", "machine-2")
    )
    started = await one.episodes.start("Ship the release", {}, "ORCHESTRATOR")
    first = await one.episodes.record(started.episode_id, "build", "WORKER_A", {"ok": True})
    second = await two.episodes.record(started.episode_id, "deploy", "WORKER_B", {"ok": True})
    await two.episodes.end(started.episode_id, True, {}, "Released.", index=False)

    replay = await one.episodes.get(started.episode_id)
    assert (first.seq, second.seq) == (1, 2)
    assert [(e.event_type, e.agent_role) for e in replay.events] == [("build", "WORKER_A"), ("deploy", "WORKER_B")]
    assert replay.episode.outcome == "succeeded"


def test_three_threads_of_three_servers_on_postgresql_number_300_events_1_to_300(postgres_url: str) -> None:
    stores = [EpisodeStore(Database(postgres_url, None)) for _ in range(3)]
    stores[0].create("ep_swarm", "One task, three servers", "{}", None, time.time())
    seqs: list[int] = []
    barrier = threading.Barrier(3)

    def write(store: EpisodeStore, name: str) -> None:
        barrier.wait()
        for i in range(100):
            seqs.extend(store.append("ep_swarm", [NewEvent("edit", name, f'{{"i": {i}}}')], time.time()))

    threads = [threading.Thread(target=write, args=(store, f"SERVER_{n}")) for n, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(seqs) == list(range(1, 301))
    assert [e.seq for e in stores[2].events("ep_swarm")] == list(range(1, 301))


def legacy_rows(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every episode and event as the earlier release stored them."""
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT id, task, context_json, agent_role, status, success, metrics_json, summary, roles, last_seq, "
            "started_at, ended_at, digest_json FROM episodes ORDER BY id"
        ).fetchall()
        events = conn.execute(
            "SELECT episode_id, seq, event_type, agent_role, data_json, recorded_at FROM events "
            "ORDER BY episode_id, seq"
        ).fetchall()
    return found, events


@pytest.mark.anyio
async def test_a_data_dir_of_the_release_with_an_episode_file_moves_every_episode_and_event_into_the_database(
    tmp_path: Path, database_url: str, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(LEGACY_DATA_DIR, data_dir)
    episodes_before, events_before = legacy_rows(data_dir / LEGACY_FILE)
    settings = Settings(data_dir=data_dir, database_url=database_url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    app = MemoryApp(settings, embedder=embedder)

    rows = app.episodes.store.rows([row[0] for row in episodes_before])
    moved = [
        (r.id, r.task, r.context_json, r.agent_role, r.status, None if r.success is None else int(r.success),
         r.metrics_json, r.summary, "|" + "".join(f"{role}|" for role in r.roles), r.event_count, r.started_at,
         r.ended_at, r.digest_json)
        for r in (rows[row[0]] for row in episodes_before)
    ]  # fmt: skip
    assert moved == episodes_before
    moved_events = [
        (episode_id, e.seq, e.event_type, e.agent_role, e.data_json, e.recorded_at)
        for episode_id in sorted(rows)
        for e in app.episodes.store.events(episode_id)
    ]
    assert moved_events == events_before
    assert StoreFacts(app.database).fact(fact_key(data_dir / LEGACY_FILE)) is not None

    [limits] = [row[0] for row in episodes_before if "rate limiting" in str(row[1])]
    assert app.episodes.store.search(["limits", "gateway"], 5, success_only=False) == [limits]
    assert "limits.py" not in app.episodes.store.indexed_words(limits)  # the file's words, by that release's tokenizer
    found = await app.episodes.recall_similar("Rate limits in gateway/limits.py", 3, False)  # indexed again first
    assert [r.episode_id for r in found.results][:1] == [limits]
    assert "limits.py" in app.episodes.store.indexed_words(limits)
    assert app.episodes.store.words_version() == TOKENS_VERSION
    [still_open] = [row for row in episodes_before if row[4] == "open"]
    recorded = await app.episodes.record(str(still_open[0]), "edit", "WRITER", {"file": "docs/faq.md"})
    assert recorded.seq == int(str(still_open[9])) + 1

    SharedSystemClient.clear_system_cache()
    again = MemoryApp(settings, embedder=embedder)  # the next start imports nothing twice
    assert again.episodes.store.count() == len(episodes_before)
    assert len(again.episodes.store.events(str(still_open[0]))) == int(str(still_open[9])) + 1
    assert json.loads(again.episodes.get_blocking(limits).episode.model_dump_json())["outcome"] == "succeeded"
