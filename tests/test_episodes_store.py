"""The episode records in SQLite: gap-free sequence numbers under threads and processes, durability, repair."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from chromadb.api.shared_system_client import SharedSystemClient

from mcp_memory import episode_index
from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.embeddings import Embedder
from mcp_memory.episode_store import FILE_NAME, EpisodeStore, NewEvent
from mcp_memory.episodes import EpisodeService
from mcp_memory.errors import Conflict
from mcp_memory.memory import MemoryService
from mcp_memory.store import MemoryStore

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mcp_memory.episode_store import EpisodeStore, NewEvent

    path, episode_id, name, count, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
    store = EpisodeStore(Path(path))
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


def new_store(tmp_path: Path) -> tuple[EpisodeStore, str]:
    store = EpisodeStore(tmp_path / FILE_NAME)
    store.create("ep_shared", "One task, many agents", "{}", None, time.time())
    return store, "ep_shared"


def start_writers(
    tmp_path: Path, episode_id: str, names: list[str], count: int, crash: bool = False
) -> list[str]:
    """Processes that append ``count`` events each, all released at the same instant; returns their seqs."""
    go = tmp_path / "go"
    env = {"CRASH": "1"} if crash else {}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / FILE_NAME), episode_id, name, str(count), str(go)],
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
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    return outputs


def test_three_processes_appending_to_one_episode_get_every_number_exactly_once(tmp_path: Path) -> None:
    store, episode_id = new_store(tmp_path)

    outputs = start_writers(tmp_path, episode_id, ["WORKER_A", "WORKER_B", "WORKER_C"], 100)

    per_process = [list(map(int, output.split())) for output in outputs]
    assert all(len(seqs) == 100 and seqs == sorted(seqs) for seqs in per_process)
    assert sorted(s for seqs in per_process for s in seqs) == list(range(1, 301))
    assert [e.seq for e in store.events(episode_id)] == list(range(1, 301))
    assert store.get(episode_id).event_count == 300
    assert sorted(store.get(episode_id).roles) == ["WORKER_A", "WORKER_B", "WORKER_C"]


def test_eight_threads_appending_to_one_episode_get_every_number_exactly_once(tmp_path: Path) -> None:
    store, episode_id = new_store(tmp_path)
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


def test_events_recorded_by_a_process_that_is_killed_are_all_there(tmp_path: Path) -> None:
    _, episode_id = new_store(tmp_path)

    outputs = start_writers(tmp_path, episode_id, ["WORKER_A"], 50, crash=True)

    assert list(map(int, outputs[0].split())) == list(range(1, 51))
    reopened = EpisodeStore(tmp_path / FILE_NAME)
    assert [e.seq for e in reopened.events(episode_id)] == list(range(1, 51))


def test_the_database_is_in_wal_mode_and_commits_with_full_sync(tmp_path: Path) -> None:
    store, _ = new_store(tmp_path)

    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store._connection() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_batch_append_is_all_or_nothing_and_an_ended_episode_refuses_it(tmp_path: Path) -> None:
    store, episode_id = new_store(tmp_path)
    assert store.append(episode_id, [NewEvent("a", "R", "{}"), NewEvent("b", "R", "{}")], time.time()) == [
        1,
        2,
    ]
    store.end(episode_id, True, "{}", "", time.time())

    with pytest.raises(Conflict, match="already ended"):
        store.append(episode_id, [NewEvent("c", "R", "{}")], time.time())

    assert store.get(episode_id).event_count == 2


def test_recording_never_loads_the_model_or_opens_chroma(settings: Settings) -> None:
    embedder = Embedder()
    vectors = MemoryStore(embedder, settings.data_dir)
    episodes = EpisodeService(settings, MemoryService(settings, embedder, vectors))

    started = episodes.start_blocking("Refactor the parser", {}, "ORCHESTRATOR")
    episodes.record_many_blocking(started.episode_id, [("edit", "WORKER_BACKEND", {"file": "parser.py"})])
    replay = episodes.get_blocking(started.episode_id)

    assert [e.data for e in replay.events] == [{"file": "parser.py"}]
    assert (embedder.loaded, vectors.is_open) == (False, False)


@pytest.mark.anyio
async def test_an_episode_ended_but_not_indexed_before_a_crash_is_found_after_restart(
    settings: Settings, embedder: Embedder
) -> None:
    app = MemoryApp(settings, embedder=embedder)
    digested = app.episodes.start_blocking("Migrate the billing service to Postgres", {}, None).episode_id
    app.episodes.record_many_blocking(
        digested, [("migration", "WORKER_BACKEND", {"files": ["billing/db.py"]})]
    )
    app.episodes.end_blocking(
        digested, True, {}, "Moved billing tables to Postgres."
    )  # crashed before the vector
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
async def test_an_unknown_episode_on_a_shared_chroma_server_says_episodes_stay_with_their_server(
    tmp_path: Path, embedder: Embedder
) -> None:
    from mcp_memory.errors import NotFound

    local = MemoryApp(Settings(data_dir=tmp_path / "a", _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    shared = MemoryApp(
        Settings(data_dir=tmp_path / "b", chroma_url="http://127.0.0.1:8000", _env_file=None),  # type: ignore[call-arg]
        embedder=embedder,
    )
    with pytest.raises(NotFound) as plain:
        await local.episodes.record("ep_started_elsewhere", "note", "QA", {})
    assert "Chroma" not in str(plain.value)
    with pytest.raises(NotFound) as explained:
        await shared.episodes.record("ep_started_elsewhere", "note", "QA", {})
    message = str(explained.value)
    assert "'ep_started_elsewhere' not found" in message
    assert "Episodes live in each server's own data dir" in message and "MCP_MEMORY_EPISODES_URL" in message


@pytest.mark.anyio
async def test_an_unreachable_episode_server_is_a_clear_error_and_a_bad_url_a_setting_error(
    tmp_path: Path, embedder: Embedder
) -> None:
    from pydantic import ValidationError

    from mcp_memory.errors import Unavailable
    from tests.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    app = MemoryApp(Settings(data_dir=tmp_path, episodes_url=url, _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    with pytest.raises(Unavailable) as raised:
        await app.episode_log.start("Ship the release", {}, None)
    assert url in str(raised.value) and "MCP_MEMORY_EPISODES_URL" in str(raised.value)
    assert "could not be reached (ConnectError" in str(raised.value) and "Nothing was recorded" in str(raised.value)
    assert not (tmp_path / FILE_NAME).exists()  # nothing was kept here instead

    with pytest.raises(ValidationError, match="not an http"):
        Settings(episodes_url="episodes-host:8765", _env_file=None)  # type: ignore[call-arg]
