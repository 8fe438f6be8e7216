"""Durable episode records: episodes, their events in sequence, and their words, in the shared database.

Why the database and not the vector store: events are appended by many agents at once, on many servers, and must
never be lost or reordered, which takes transactions. SQLite in the data dir by default, PostgreSQL when servers
share one memory (``storage/database.py``); one set of queries serves both.

Sequence numbers: an append is one transaction that first bumps the episode's counter
(``UPDATE ... SET last_seq = last_seq + n WHERE id = ? AND status = 'open' RETURNING last_seq``) and then inserts
the events under the numbers it got. The update holds the episode's row lock (PostgreSQL) or the write lock
(SQLite, ``BEGIN IMMEDIATE``) until the commit, so concurrent writers on any server get consecutive, distinct
numbers; ``PRIMARY KEY (episode_id, seq)`` would reject a repeat anyway. Durable when ``append`` returns (SQLite
commits with ``synchronous=FULL``; PostgreSQL's commit is flushed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, true, update

from mcp_memory.errors import Conflict, Forbidden, NotFound
from mcp_memory.storage import episode_words
from mcp_memory.storage.change_feed import StoreFacts
from mcp_memory.storage.database import Database
from mcp_memory.storage.episode_lists import EpisodeLists
from mcp_memory.storage.episode_models import EpisodeCopy, EpisodeRow, EventRow, NewEvent, episode_row
from mcp_memory.storage.schema import episodes, events
from mcp_memory.words import TOKENS_VERSION

__all__ = ["EpisodeCopy", "EpisodeRow", "EpisodeStore", "EventRow", "NewEvent", "dumps"]

EVENT_COLUMNS = (
    events.c.seq,
    events.c.event_type,
    events.c.agent_role,
    events.c.data_json,
    events.c.recorded_at,
    events.c.agent,
)
# The ``store_facts`` key holding which version of the tokenizer made the episode words (none: the first one, which
# recorded nothing).
WORDS_VERSION_FACT = "episode_words_version"
LEGACY_WORDS_VERSION = "1"  # the words an earlier release's episode file holds


class EpisodeStore(EpisodeLists):
    """Episodes and events in the database; safe for many threads, processes and servers at once."""

    def __init__(self, database: Database, legacy_file: Path | None = None) -> None:
        self.db = database
        self.legacy_file = legacy_file  # an episode file of earlier releases, moved in on open
        self._opened = False
        self._open_lock = threading.Lock()

    def open(self) -> None:
        """Open the database, move in the episodes of an earlier release's file once, and record which tokenizer
        made the episode words when the store holds none yet (every word it gets is made by this one)."""
        if self._opened:
            return
        with self._open_lock:
            if self._opened:
                return
            self.db.open()
            facts = StoreFacts(self.db)
            if self.legacy_file is not None:
                from mcp_memory.storage.episode_legacy import import_legacy_file

                if import_legacy_file(self.db, self._insert_copies, self.legacy_file):
                    facts.set_fact(WORDS_VERSION_FACT, LEGACY_WORDS_VERSION)
            if facts.fact(WORDS_VERSION_FACT) is None:
                with self.db.read() as conn:
                    worded = conn.execute(select(episodes.c.n).where(episodes.c.task_words.is_not(None)).limit(1))
                    holds_words = worded.first() is not None
                if not holds_words:
                    facts.fact_or_set(WORDS_VERSION_FACT, TOKENS_VERSION)
            self._opened = True

    def _read(self) -> Any:
        self.open()
        return self.db.read()

    def _write(self) -> Any:
        self.open()
        return self.db.write()

    # -- writes ------------------------------------------------------------------------------------

    def create(
        self,
        episode_id: str,
        task: str,
        context_json: str,
        agent_role: str | None,
        now: float,
        started_by: str = "",
        project: str = "",
    ) -> None:
        with self._write() as conn:
            conn.execute(
                insert(episodes).values(
                    id=episode_id, task=task, context_json=context_json, agent_role=agent_role, status="open",
                    started_by=started_by, project=project,
                    metrics_json="{}", summary="", roles="|", last_seq=0, started_at=now, updated_at=now,
                )
            )  # fmt: skip

    def append(self, episode_id: str, new: Sequence[NewEvent], now: float) -> list[int]:
        """Append events to an open episode; returns their sequence numbers (consecutive, gap-free)."""
        with self._write() as conn:
            bumped = conn.execute(
                update(episodes)
                .where(episodes.c.id == episode_id, episodes.c.status == "open")
                .values(last_seq=episodes.c.last_seq + len(new), updated_at=now)
                .returning(episodes.c.last_seq, episodes.c.roles)
            ).one_or_none()
            if bumped is None:
                raise self._refusal(conn, episode_id)
            last, roles = bumped
            added = roles + "".join(f"{r}|" for r in dict.fromkeys(e.agent_role for e in new) if f"|{r}|" not in roles)
            if added != roles:  # the row is locked by the update above until the commit
                conn.execute(update(episodes).where(episodes.c.id == episode_id).values(roles=added))
            seqs = list(range(last - len(new) + 1, last + 1))
            if new:
                conn.execute(
                    insert(events),
                    [
                        {"episode_id": episode_id, "seq": s, "event_type": e.event_type, "agent_role": e.agent_role,
                         "data_json": e.data_json, "recorded_at": now, "agent": e.agent}
                        for s, e in zip(seqs, new, strict=True)
                    ],
                )  # fmt: skip
            return seqs

    def end(
        self, episode_id: str, success: bool, metrics_json: str, summary: str, now: float, by: str | None = None
    ) -> EpisodeRow:
        """Mark an open episode ended; from then on it takes no events. Its digest is saved separately. With
        ``by``, only the agent that started it may (episodes started before agents were recorded: anyone)."""
        allowed = true() if by is None else or_(episodes.c.started_by == "", episodes.c.started_by == by)
        with self._write() as conn:
            ended = conn.execute(
                update(episodes)
                .where(episodes.c.id == episode_id, episodes.c.status == "open", allowed)
                .values(status="ended", success=success, metrics_json=metrics_json, summary=summary, ended_at=now,
                        updated_at=now)
                .returning(*episodes.c)
            ).one_or_none()  # fmt: skip
            if ended is None:
                raise self._refusal(conn, episode_id)
            return episode_row(ended)

    def _refusal(self, conn: Any, episode_id: str) -> NotFound | Conflict | Forbidden:
        """Why an episode took no write: it does not exist, it has ended, or another agent started it."""
        found = conn.execute(
            select(episodes.c.ended_at, episodes.c.started_by).where(episodes.c.id == episode_id)
        ).one_or_none()
        if found is None:
            return _not_found(episode_id)
        if found.ended_at is not None:
            return _ended(episode_id, found.ended_at)
        return Forbidden(
            f"Episode '{episode_id}' was started by '{found.started_by}'; only it or an admin may end it. "
            "Record your part with record_event."
        )

    def save_digest(self, episode_id: str, digest_json: str, task_tokens: str, event_tokens: str) -> None:
        """Store an ended episode's digest and (re)index its words, in one transaction."""
        with self._write() as conn:
            n = conn.execute(
                update(episodes)
                .where(episodes.c.id == episode_id)
                .values(digest_json=digest_json)
                .returning(episodes.c.n)
            ).scalar_one()
            episode_words.write(conn, n, task_tokens, event_tokens)

    def save_words(self, words: Sequence[tuple[str, str, str]]) -> None:
        """Index episodes' words again, in one transaction: (episode id, task tokens, event tokens) each."""
        with self._write() as conn:
            for episode_id, task_tokens, event_tokens in words:
                n = conn.execute(select(episodes.c.n).where(episodes.c.id == episode_id)).scalar_one()
                episode_words.write(conn, n, task_tokens, event_tokens)

    def words_version(self) -> str | None:
        """Which version of the tokenizer made the stored episode words (None: the first, unrecorded one)."""
        self.open()
        return StoreFacts(self.db).fact(WORDS_VERSION_FACT)

    def set_words_version(self, version: str) -> None:
        self.open()
        StoreFacts(self.db).set_fact(WORDS_VERSION_FACT, version)

    def mark_indexed(self, episode_ids: Sequence[str], now: float) -> None:
        with self._write() as conn:
            conn.execute(update(episodes).where(episodes.c.id.in_(list(episode_ids))).values(indexed_at=now))

    def insert_copies(self, copies: Sequence[EpisodeCopy]) -> int:
        """Write episodes not stored yet, with their events as recorded, in one transaction; returns how many."""
        self.open()
        return self._insert_copies(copies)

    def _insert_copies(self, copies: Sequence[EpisodeCopy]) -> int:
        added = 0
        with self.db.write() as conn:
            for copy in copies:
                roles = "|" + "".join(f"{r}|" for r in dict.fromkeys(e.agent_role for e in copy.events))
                values = {
                    "id": copy.id, "task": copy.task, "context_json": copy.context_json, "agent_role": copy.agent_role,
                    "status": copy.status, "success": copy.success, "metrics_json": copy.metrics_json,
                    "summary": copy.summary, "roles": roles, "last_seq": len(copy.events),
                    "started_at": copy.started_at, "updated_at": copy.updated_at, "ended_at": copy.ended_at,
                    "digest_json": copy.digest_json, "indexed_at": copy.indexed_at, "started_by": copy.started_by,
                    "project": copy.project,
                }  # fmt: skip
                if not conn.execute(self.db.insert_or_ignore(episodes, values)).rowcount:
                    continue  # stored already: left as it is
                added += 1
                if copy.events:
                    conn.execute(
                        insert(events),
                        [
                            {"episode_id": copy.id, "seq": e.seq, "event_type": e.event_type,
                             "agent_role": e.agent_role, "data_json": e.data_json, "recorded_at": e.recorded_at,
                             "agent": e.agent}
                            for e in copy.events
                        ],
                    )  # fmt: skip
                if copy.words is not None and copy.digest_json is not None:
                    n = conn.execute(select(episodes.c.n).where(episodes.c.id == copy.id)).scalar_one()
                    episode_words.write(conn, n, *copy.words)
        return added

    # -- reads -------------------------------------------------------------------------------------

    def get(self, episode_id: str) -> EpisodeRow:
        with self._read() as conn:
            found = conn.execute(select(episodes).where(episodes.c.id == episode_id)).one_or_none()
        if found is None:
            raise _not_found(episode_id)
        return episode_row(found)

    def rows(self, episode_ids: Sequence[str]) -> dict[str, EpisodeRow]:
        if not episode_ids:
            return {}
        with self._read() as conn:
            found = conn.execute(select(episodes).where(episodes.c.id.in_(list(episode_ids))))
            return {row.id: row for row in map(episode_row, found)}

    def kept(
        self,
        episode_ids: Sequence[str],
        success_only: bool,
        ended_since: float | None = None,
        ended_until: float | None = None,
    ) -> set[str]:
        """Which of these episodes ended (with success, when ``success_only``) within the bounds given."""
        if not episode_ids:
            return set()
        query = episode_words.ended_within(
            select(episodes.c.id).where(episodes.c.id.in_(list(episode_ids))), success_only, ended_since, ended_until
        )
        with self._read() as conn:
            return {row[0] for row in conn.execute(query)}

    def events(self, episode_id: str, after_seq: int = 0, limit: int | None = None) -> list[EventRow]:
        with self._read() as conn:
            return _events(conn, episode_id, after_seq, limit)

    def replay(self, episode_id: str, after_seq: int, limit: int) -> tuple[EpisodeRow, list[EventRow]]:
        """The episode and a page of its events; they agree on the event count (events past it are left out)."""
        with self._read() as conn:
            found = conn.execute(select(episodes).where(episodes.c.id == episode_id)).one_or_none()
            if found is None:
                raise _not_found(episode_id)
            row = episode_row(found)
            return row, _events(conn, episode_id, after_seq, limit, up_to=row.event_count)

    def scan_events(self, episode_id: str, batch: int = 500) -> Iterator[EventRow]:
        """All events in order, read in batches so a long episode never sits in memory at once."""
        after = 0
        while True:
            rows = self.events(episode_id, after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def copies(self) -> Iterator[EpisodeCopy]:
        """Every episode with its events, oldest first (the durable facts only: derived ones are rebuilt)."""
        with self._read() as conn:
            found = conn.execute(select(episodes).order_by(episodes.c.started_at, episodes.c.id))
            for row in found.all():
                yield EpisodeCopy(
                    id=row.id, task=row.task, context_json=row.context_json, agent_role=row.agent_role,
                    status=row.status, success=None if row.success is None else bool(row.success),
                    metrics_json=row.metrics_json, summary=row.summary, started_at=row.started_at,
                    updated_at=row.updated_at, ended_at=row.ended_at,
                    events=_events(conn, row.id, 0, None, up_to=row.last_seq), started_by=row.started_by,
                    project=row.project,
                )  # fmt: skip

    # -- word index --------------------------------------------------------------------------------

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """In how many indexed episodes each term occurs (terms absent from every episode are left out)."""
        with self._read() as conn:
            return episode_words.document_frequencies(conn, terms)

    def search(
        self,
        terms: Sequence[str],
        limit: int,
        success_only: bool,
        projects: Collection[str] | None = None,
        ended_since: float | None = None,
        ended_until: float | None = None,
    ) -> list[str]:
        """Episode ids ranked by BM25 over their task and events words (any term may match), of ``projects`` and
        ended within the bounds when given."""
        with self._read() as conn:
            return episode_words.search(conn, terms, limit, success_only, projects, ended_since, ended_until)

    def indexed_words(self, episode_id: str) -> set[str]:
        """The words the word index holds for one episode."""
        with self._read() as conn:
            return episode_words.words_of(conn, episode_id)


def _events(conn: Any, episode_id: str, after_seq: int, limit: int | None, up_to: int | None = None) -> list[EventRow]:
    query = select(*EVENT_COLUMNS).where(events.c.episode_id == episode_id, events.c.seq > after_seq)
    if up_to is not None:
        query = query.where(events.c.seq <= up_to)
    return [EventRow(*row) for row in conn.execute(query.order_by(events.c.seq).limit(limit))]


def _not_found(episode_id: str) -> NotFound:
    return NotFound(
        f"Episode '{episode_id}' not found. Call start_episode to begin one, or list_episodes to find an existing id."
    )


def _ended(episode_id: str, ended_at: float | None) -> Conflict:
    when = datetime.fromtimestamp(ended_at or 0, tz=UTC).isoformat(timespec="seconds")
    return Conflict(
        f"Episode '{episode_id}' already ended at {when}; it takes no more events and cannot end twice. "
        "Call start_episode for a new one."
    )


def dumps(value: Any) -> str:
    """Compact JSON as stored in the database."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
