"""Durable episode records: episodes, their events in sequence, and a lexical index, in one SQLite file.

Why SQLite beside Chroma: events are appended by many agents at once and must never be lost or
reordered, which needs transactions, not vectors. The file lives at ``<data_dir>/episodes.sqlite3``;
this holds even when ``MCP_MEMORY_CHROMA_URL`` points at a Chroma server, so processes that share a
Chroma server share episodes only if they also share the data dir (one machine or a shared volume).

Durability: WAL journal with ``synchronous=FULL``. A commit returns only after the WAL is fsynced, so
an event is on disk when ``append`` returns — it survives the agent, the server and the machine
crashing. (``NORMAL`` would survive a process crash but could lose the last commits on power loss; FULL
costs ~0.15 ms per event on this hardware, far below an agent step.)

Sequence numbers: each append runs in ``BEGIN IMMEDIATE``, which takes the database's write lock before
reading ``last_seq``. Writers in other threads or processes wait for the lock (busy timeout), so no two
of them can read the same ``last_seq``; ``PRIMARY KEY (episode_id, seq)`` would reject a duplicate anyway.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_memory.episode_schema import (
    EPISODE_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    EpisodeRow,
    EventRow,
    NewEvent,
    episode_row,
)
from mcp_memory.errors import Conflict, NotFound, Unavailable
from mcp_memory.ownership import private_dir

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "FILE_NAME",
    "SCHEMA_VERSION",
    "EpisodeRow",
    "EpisodeStore",
    "EventRow",
    "NewEvent",
    "dumps",
]

FILE_NAME = "episodes.sqlite3"
BUSY_TIMEOUT_SECONDS = 30.0


class EpisodeStore:
    """Episodes and events in SQLite; safe for many threads and many processes on one file."""

    def __init__(self, path: Path, not_found_hint: str = "") -> None:
        self.path = path
        self.not_found_hint = not_found_hint  # appended to "not found" errors (e.g. why another server may hold it)
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._opened = False

    # -- connections -------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the file and schema if needed (idempotent, safe to race with other processes)."""
        if self._opened:
            return
        with self._open_lock:
            if self._opened:
                return
            private_dir(self.path.parent)
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                with _transaction(conn):
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    if version > SCHEMA_VERSION:
                        raise Conflict(
                            f"{self.path} was written by a newer mcp-memory (schema {version}). Upgrade mcp-memory."
                        )
                    for statement in SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except sqlite3.OperationalError as exc:
                conn.close()
                raise _unavailable(self.path, exc) from exc
            self._pool.append(conn)
            self._opened = True

    def close(self) -> None:
        with self._pool_lock:
            for conn in self._pool:
                conn.close()
            self._pool.clear()
            self._opened = False

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun explicitly, IMMEDIATE for every write.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.open()
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        conn = conn or self._connect()
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            raise _unavailable(self.path, exc) from exc
        finally:
            with self._pool_lock:
                self._pool.append(conn)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # Writers in this process queue on a lock; only writers in other processes meet SQLite's busy
        # handler, which sleeps in steps of up to 100 ms and would set the p95 of a busy swarm.
        with self._write_lock, self._connection() as conn, _transaction(conn):
            yield conn

    # -- writes ------------------------------------------------------------------------------------

    def create(
        self, episode_id: str, task: str, context_json: str, agent_role: str | None, now: float
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO episodes (id, task, context_json, agent_role, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (episode_id, task, context_json, agent_role, now, now),
            )

    def append(self, episode_id: str, events: Sequence[NewEvent], now: float) -> list[int]:
        """Append events to an open episode; returns their sequence numbers (consecutive, gap-free)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT status, last_seq, roles, ended_at FROM episodes WHERE id = ?", (episode_id,)
            )
            found = row.fetchone()
            if found is None:
                raise _not_found(episode_id, self.not_found_hint)
            status, last_seq, roles, ended_at = found
            if status != "open":
                raise _ended(episode_id, ended_at)
            seqs = list(range(last_seq + 1, last_seq + 1 + len(events)))
            for event in events:
                if f"|{event.agent_role}|" not in roles:
                    roles += f"{event.agent_role}|"
            conn.execute(
                "UPDATE episodes SET last_seq = ?, roles = ?, updated_at = ? WHERE id = ?",
                (last_seq + len(events), roles, now, episode_id),
            )
            conn.executemany(
                "INSERT INTO events (episode_id, seq, event_type, agent_role, data_json, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (episode_id, s, e.event_type, e.agent_role, e.data_json, now)
                    for s, e in zip(seqs, events, strict=True)
                ],
            )
            return seqs

    def end(self, episode_id: str, success: bool, metrics_json: str, summary: str, now: float) -> EpisodeRow:
        """Mark an open episode ended; from then on it takes no events. Its digest is saved separately."""
        with self._write() as conn:
            found = conn.execute(
                "SELECT status, ended_at FROM episodes WHERE id = ?", (episode_id,)
            ).fetchone()
            if found is None:
                raise _not_found(episode_id, self.not_found_hint)
            if found[0] != "open":
                raise _ended(episode_id, found[1])
            conn.execute(
                "UPDATE episodes SET status = 'ended', success = ?, metrics_json = ?, summary = ?, ended_at = ?, "
                "updated_at = ? WHERE id = ?",
                (int(success), metrics_json, summary, now, now, episode_id),
            )
            return episode_row(
                conn.execute(f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?", (episode_id,)).fetchone()
            )

    def save_digest(self, episode_id: str, digest_json: str, task_tokens: str, event_tokens: str) -> None:
        """Store an ended episode's digest and (re)index its words, in one transaction."""
        with self._write() as conn:
            rowid = conn.execute("SELECT n FROM episodes WHERE id = ?", (episode_id,)).fetchone()[0]
            conn.execute("UPDATE episodes SET digest_json = ? WHERE id = ?", (digest_json, episode_id))
            conn.execute("DELETE FROM episode_text WHERE rowid = ?", (rowid,))
            conn.execute(
                "INSERT INTO episode_text (rowid, task, events) VALUES (?, ?, ?)",
                (rowid, task_tokens, event_tokens),
            )

    def mark_indexed(self, episode_ids: Sequence[str], now: float) -> None:
        with self._write() as conn:
            conn.executemany(
                "UPDATE episodes SET indexed_at = ? WHERE id = ?", [(now, i) for i in episode_ids]
            )

    # -- reads -------------------------------------------------------------------------------------

    def get(self, episode_id: str) -> EpisodeRow:
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?", (episode_id,)
            ).fetchone()
        if found is None:
            raise _not_found(episode_id, self.not_found_hint)
        return episode_row(found)

    def rows(self, episode_ids: Sequence[str]) -> dict[str, EpisodeRow]:
        if not episode_ids:
            return {}
        marks = ",".join("?" * len(episode_ids))
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE id IN ({marks})", list(episode_ids)
            )
            return {row.id: row for row in map(episode_row, found.fetchall())}

    def succeeded(self, episode_ids: Sequence[str]) -> set[str]:
        """Which of these episodes ended with success."""
        if not episode_ids:
            return set()
        marks = ",".join("?" * len(episode_ids))
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT id FROM episodes WHERE id IN ({marks}) AND success = 1", list(episode_ids)
            )
            return {row[0] for row in found.fetchall()}

    def events(self, episode_id: str, after_seq: int = 0, limit: int | None = None) -> list[EventRow]:
        with self._connection() as conn:
            found = conn.execute(
                "SELECT seq, event_type, agent_role, data_json, recorded_at FROM events "
                "WHERE episode_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (episode_id, after_seq, -1 if limit is None else limit),
            )
            return [EventRow(*row) for row in found.fetchall()]

    def replay(self, episode_id: str, after_seq: int, limit: int) -> tuple[EpisodeRow, list[EventRow]]:
        """The episode and a page of its events, read in one snapshot (they agree on the event count)."""
        with self._connection() as conn:
            conn.execute("BEGIN")
            try:
                found = conn.execute(f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?", (episode_id,))
                row = found.fetchone()
                events = conn.execute(
                    "SELECT seq, event_type, agent_role, data_json, recorded_at FROM events "
                    "WHERE episode_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (episode_id, after_seq, limit),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        if row is None:
            raise _not_found(episode_id, self.not_found_hint)
        return episode_row(row), [EventRow(*event) for event in events]

    def scan_events(self, episode_id: str, batch: int = 500) -> Iterator[EventRow]:
        """All events in order, read in batches so a long episode never sits in memory at once."""
        after = 0
        while True:
            rows = self.events(episode_id, after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def recent(self, status: str | None, success: bool | None, limit: int) -> tuple[list[EpisodeRow], int]:
        """Newest first, and how many match in all."""
        clauses, params = _filters(status, success)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connection() as conn:
            total = conn.execute(f"SELECT count(*) FROM episodes {where}", params).fetchone()[0]
            found = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes {where} ORDER BY started_at DESC LIMIT ?",
                [*params, limit],
            )
            return [episode_row(row) for row in found.fetchall()], int(total)

    def failed(self, limit: int) -> list[EpisodeRow]:
        """The most recently ended failed episodes."""
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE success = 0 ORDER BY ended_at DESC LIMIT ?",
                (limit,),
            )
            return [episode_row(row) for row in found.fetchall()]

    def pending(self, limit: int) -> list[EpisodeRow]:
        """Ended episodes whose digest or vector is not written yet (after a crash or an unreachable store)."""
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE status = 'ended' "
                "AND (digest_json IS NULL OR indexed_at IS NULL) ORDER BY ended_at LIMIT ?",
                (limit,),
            )
            return [episode_row(row) for row in found.fetchall()]

    def count(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT count(*) FROM episodes").fetchone()[0])

    def count_ended(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT count(*) FROM episodes WHERE status = 'ended'").fetchone()[0])

    # -- lexical index -----------------------------------------------------------------------------

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """In how many ended episodes each term occurs (terms absent from every episode are left out)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        with self._connection() as conn:
            found = conn.execute(f"SELECT term, doc FROM episode_terms WHERE term IN ({marks})", list(terms))
            return {term: int(doc) for term, doc in found.fetchall()}

    def search(self, terms: Sequence[str], limit: int, success_only: bool) -> list[str]:
        """Episode ids ranked by BM25 over their task and events words (any term may match)."""
        if not terms:
            return []
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        only = "AND e.success = 1" if success_only else ""
        with self._connection() as conn:
            found = conn.execute(
                "SELECT e.id FROM episode_text JOIN episodes e ON e.n = episode_text.rowid "
                f"WHERE episode_text MATCH ? {only} ORDER BY episode_text.rank LIMIT ?",
                (match, limit),
            )
            return [row[0] for row in found.fetchall()]

    def indexed_words(self, episode_id: str) -> set[str]:
        """The words the lexical index holds for one episode."""
        with self._connection() as conn:
            found = conn.execute(
                "SELECT t.task, t.events FROM episode_text t JOIN episodes e ON e.n = t.rowid WHERE e.id = ?",
                (episode_id,),
            ).fetchone()
        return set(" ".join(found).split()) if found else set()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _filters(status: str | None, success: bool | None) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if success is not None:
        clauses.append("success = ?")
        params.append(int(success))
    return clauses, params


def _not_found(episode_id: str, hint: str = "") -> NotFound:
    return NotFound(
        f"Episode '{episode_id}' not found. Call start_episode to begin one, or list_episodes to find an existing id."
        + (f" {hint}" if hint else "")
    )


def _ended(episode_id: str, ended_at: float | None) -> Conflict:
    when = datetime.fromtimestamp(ended_at or 0, tz=UTC).isoformat(timespec="seconds")
    return Conflict(
        f"Episode '{episode_id}' already ended at {when}; it takes no more events and cannot end twice. "
        "Call start_episode for a new one."
    )


def _unavailable(path: Path, exc: sqlite3.OperationalError) -> Unavailable:
    return Unavailable(
        f"The episode database {path} cannot be used now ({exc}). Retry shortly; check disk and permissions."
    )


def dumps(value: Any) -> str:
    """Compact JSON as stored in the database."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
