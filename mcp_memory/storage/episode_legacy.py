"""Moving in the episodes of earlier releases, which kept them in their own SQLite file (``episodes.sqlite3``).

On open, a data dir that still has that file gets every episode, event and digest copied into the database, with
the words of its full-text index, once: ``store_facts`` records the file as imported. Copies are keyed by episode
id and inserted only when missing, so two servers opening the same data dir at once, or an import cut short and
run again, store each episode once. The old file is left in place (it is the backup).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from mcp_memory.errors import Unavailable
from mcp_memory.storage.change_feed import StoreFacts
from mcp_memory.storage.database import Database
from mcp_memory.storage.episode_models import EpisodeCopy, EventRow

logger = logging.getLogger(__name__)

LEGACY_FILE = "episodes.sqlite3"
LEGACY_SCHEMA = 1
BATCH = 200
BUSY_TIMEOUT_SECONDS = 30.0


def fact_key(path: Path) -> str:
    """The ``store_facts`` key saying this file was imported (one per file: several data dirs may share a database)."""
    return "legacy_episodes:" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:40]


def import_legacy_file(database: Database, insert: Callable[[Sequence[EpisodeCopy]], int], path: Path) -> int:
    """Copy the file's episodes into the database with ``insert`` unless done before; returns how many were new."""
    if not path.exists():
        return 0
    facts = StoreFacts(database)
    key = fact_key(path)
    if facts.fact(key) is not None:
        return 0
    added = total = 0
    for batch in _batches(path):
        added += insert(batch)
        total += len(batch)
    facts.fact_or_set(key, json.dumps({"path": str(path), "episodes": total, "added": added, "at": time.time()}))
    if total:
        logger.warning("moved %d episodes (%d new) from %s into the database %s", total, added, path, database.shown)
    return added


def _batches(path: Path) -> Iterator[list[EpisodeCopy]]:
    """The file's episodes with their events and words, read in one snapshot, a batch at a time."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise Unavailable(f"Cannot read the episode file {path} of an earlier release ({exc}).") from exc
    with closing(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != LEGACY_SCHEMA:
            raise Unavailable(
                f"{path} has episode schema {version}; this release moves in schema {LEGACY_SCHEMA} only. Export it "
                "with the release that wrote it (mcp-memory export) and import the file here."
            )
        conn.execute("BEGIN")
        found = conn.execute(
            "SELECT n, id, task, context_json, agent_role, status, success, metrics_json, summary, last_seq, "
            "started_at, updated_at, ended_at, digest_json, indexed_at FROM episodes ORDER BY n"
        )
        while rows := found.fetchmany(BATCH):
            yield [_copy(conn, row) for row in rows]
        conn.execute("COMMIT")


def _copy(conn: sqlite3.Connection, row: tuple[Any, ...]) -> EpisodeCopy:
    (n, episode_id, task, context_json, agent_role, status, success, metrics_json, summary, last_seq,
     started_at, updated_at, ended_at, digest_json, indexed_at) = row  # fmt: skip
    events = [
        EventRow(*event)
        for event in conn.execute(
            "SELECT seq, event_type, agent_role, data_json, recorded_at FROM events "
            "WHERE episode_id = ? AND seq <= ? ORDER BY seq",
            (episode_id, last_seq),
        )
    ]
    words = conn.execute("SELECT task, events FROM episode_text WHERE rowid = ?", (n,)).fetchone()
    return EpisodeCopy(
        id=episode_id, task=task, context_json=context_json, agent_role=agent_role, status=status,
        success=None if success is None else bool(success), metrics_json=metrics_json, summary=summary,
        started_at=started_at, updated_at=updated_at, ended_at=ended_at, events=events,
        digest_json=digest_json if words else None, indexed_at=indexed_at if words else None,
        words=tuple(words) if words else None,
    )  # fmt: skip
