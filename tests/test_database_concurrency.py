"""Counters, de-duplication and the outcome log stay exact when many writers hit one database at the same moment:
threads of several apps on both databases, and writer processes on one PostgreSQL database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.edge.server import build_server
from mcp_memory.storage.embeddings import Embedder
from tests.conftest import BOTH_DATABASES, REPO_ROOT, call
from tests.helpers import server_env
from tests.writer_process import reported_draft, run_together, stored_draft, write_once, writer_success

pytestmark = pytest.mark.anyio

APPS = 3
THREADS = 24
PROCESSES = 3
THREADS_PER_PROCESS = 8


def counters(app: MemoryApp, memory_id: str) -> tuple[int, int, int]:
    [item] = app.store.get(None, [memory_id])
    meta = item.metadata
    return meta["usage_count"], meta["success_count"], meta["failure_count"]


def assert_exact(app: MemoryApp, acks: list[dict[str, Any]], stored_id: str, reported_id: str, before: int) -> None:
    """Every acknowledged store and report is counted once, on one row with one vector, and logged once; ``before``
    stores (that failed) preceded the writers'."""
    writers = len(acks)
    worked = sum(writer_success(ack["writer"]) for ack in acks)
    assert {ack["id"] for ack in acks} == {stored_id}
    assert counters(app, stored_id) == (before + writers, worked, before + writers - worked)
    assert counters(app, reported_id) == (1 + writers, 1 + worked, writers - worked)
    # Each report's atomic increment returned its own value: no two reports read the same count.
    assert sorted(ack["reported"] for ack in acks) == list(range(2, writers + 2))
    assert app.store.count("error") == app.store.index.count("error") == 2
    log = app.store.rows.outcome_log(reported_id)
    assert len(log) == writers
    assert sorted(note.agent for note in log) == sorted(f"w{ack['writer']}" for ack in acks)
    assert sum(note.success for note in log) == worked


async def assert_counter_filters_answer_from_the_database(app: MemoryApp, stored_id: str, reported_id: str) -> None:
    usage, successes, _ = counters(app, reported_id)
    async with Client(build_server(app)) as client:
        both = await call(client, "search_memory", query="concurrent writers", where={"success_count": {"$gte": 3}})
        assert {hit["id"] for hit in both["results"]} == {stored_id, reported_id}
        top = await call(client, "search_memory", query="database", where={"success_count": {"$gte": successes}})
        assert [(hit["id"], hit["usage_count"]) for hit in top["results"]] == [(reported_id, usage)]
        above = await call(client, "search_memory", query="database", where={"usage_count": {"$gt": usage}})
        assert above["results"] == []


def numbered(writer: int, ack: dict[str, Any]) -> dict[str, Any]:
    return {"writer": writer, **ack}


@BOTH_DATABASES
async def test_threads_of_several_apps_storing_and_reporting_at_once_are_counted_exactly(
    settings: Settings, embedder: Embedder
) -> None:
    apps = [MemoryApp(settings, embedder=embedder) for _ in range(APPS)]
    reported = apps[0].memory.remember_blocking(reported_draft())
    for app in apps:
        app.store.open()

    # Nobody stored the memory yet: every thread races to insert it.
    acks = run_together(THREADS, lambda i: numbered(i, write_once(apps[i % APPS], i, reported.id)))

    assert [ack["duplicate"] for ack in acks].count(False) == 1
    stored_id = acks[0]["id"]
    assert_exact(apps[1], acks, stored_id, reported.id, before=0)
    await assert_counter_filters_answer_from_the_database(apps[2], stored_id, reported.id)


def start_writer(tmp_path: Path, database_url: str, reported_id: str, first_writer: int) -> subprocess.Popen[str]:
    spec = {
        "data_dir": str(tmp_path / f"writer-{first_writer}"),
        "database_url": database_url,
        "reported_id": reported_id,
        "first_writer": first_writer,
        "threads": THREADS_PER_PROCESS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.writer_process", json.dumps(spec)],
        cwd=REPO_ROOT,
        env=server_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
async def test_writer_processes_and_apps_sharing_one_postgres_database_are_counted_exactly(
    tmp_path: Path, postgres_url: str, embedder: Embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "main", database_url=postgres_url, seed_on_start=False, _env_file=None)  # type: ignore[call-arg]
    apps = [MemoryApp(settings, embedder=embedder) for _ in range(APPS)]
    stored = apps[0].memory.remember_blocking(stored_draft(False))
    reported = apps[0].memory.remember_blocking(reported_draft())
    local_writers = (APPS - 1) * THREADS_PER_PROCESS
    writers = [
        start_writer(tmp_path, postgres_url, reported.id, local_writers + n * THREADS_PER_PROCESS)
        for n in range(PROCESSES)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stderr is not None
            assert writer.stdout.readline().strip() == "ready", writer.stderr.read()[-2000:]
        for app in apps[1:]:
            app.store.open()
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        acks = run_together(local_writers, lambda i: numbered(i, write_once(apps[1 + i % (APPS - 1)], i, reported.id)))
        for n, writer in enumerate(writers):
            out, err = writer.communicate(timeout=120)
            assert writer.returncode == 0, err[-2000:]
            first = local_writers + n * THREADS_PER_PROCESS
            acks += [numbered(first + i, ack) for i, ack in enumerate(json.loads(out))]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()

    assert len(acks) == local_writers + PROCESSES * THREADS_PER_PROCESS
    assert not any(ack["duplicate"] is False for ack in acks)
    assert_exact(apps[0], acks, stored.id, reported.id, before=1)
    await assert_counter_filters_answer_from_the_database(apps[0], stored.id, reported.id)
