"""A writer process for the concurrency tests: its own ``MemoryApp`` on a shared database, several threads that
store one memory again and report outcomes on another, all released at once.

Run as ``python -m tests.writer_process SPEC_JSON``; it prints ``ready`` once open, starts when a line arrives on
stdin, and prints one JSON line of what was acknowledged.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp_memory.app import MemoryApp
from mcp_memory.config import Settings
from mcp_memory.memory.drafts import error_draft
from mcp_memory.memory.records import MemoryDraft

STORED_ERROR = "psycopg.errors.SerializationFailure: could not serialize access due to concurrent update"
REPORTED_ERROR = "sqlite3.OperationalError: database is locked"


def stored_draft(success: bool, agent: str | None = None) -> MemoryDraft:
    """The memory every writer stores again (its success varies; its content, and so its id, does not); each
    writer is an agent of its own, so each one's success is a vote of its own."""
    draft = error_draft(STORED_ERROR, "many writers at once", "retry the transaction", success, language="python")
    draft.agent = agent
    return draft


def reported_draft() -> MemoryDraft:
    """The memory every writer reports an outcome on."""
    return error_draft(REPORTED_ERROR, "two processes writing", "use WAL and a busy timeout", True, language="python")


def writer_success(writer: int) -> bool:
    """Whether writer number ``writer`` says its store and its report worked (two in three do)."""
    return writer % 3 != 0


def write_once(app: MemoryApp, writer: int, reported_id: str) -> dict[str, Any]:
    """One writer's share: the store again, then one outcome report; what the server acknowledged."""
    stored = app.memory.remember_blocking(stored_draft(writer_success(writer), f"w{writer}"))
    report = app.memory.report_outcome_blocking(reported_id, writer_success(writer), f"writer {writer}", f"w{writer}")
    return {"id": stored.id, "duplicate": stored.duplicate, "reported": report.usage_count}


def run_together(count: int, work: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``work(0..count-1)`` on as many threads, released together by a barrier; re-raises the first failure."""
    barrier = threading.Barrier(count)
    results: list[dict[str, Any] | None] = [None] * count
    errors: list[BaseException] = []

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


def main(spec: dict[str, Any]) -> None:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=Path(spec["data_dir"]), database_url=spec["database_url"], seed_on_start=False, _env_file=None
    )
    app = MemoryApp(settings)
    app.store.open()
    print("ready", flush=True)
    sys.stdin.readline()
    first = spec["first_writer"]
    acks = run_together(spec["threads"], lambda i: write_once(app, first + i, spec["reported_id"]))
    print(json.dumps(acks), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
