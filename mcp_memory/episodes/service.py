"""Episodic memory: what a swarm did on a task, event by event, and how it ended.

``record_event`` is on every agent's hot path, so it touches only the database (its own worker threads, never
queued behind the model); the summary is embedded once, when the episode ends.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio

from mcp_memory.config import Settings
from mcp_memory.episodes.digest import DigestBuilder, EpisodeDigest, token_text
from mcp_memory.episodes.index import EpisodeIndex
from mcp_memory.episodes.views import episode_event, episode_info, iso, shorten, timeline_markdown
from mcp_memory.errors import Conflict, InvalidInput, MemoryStoreError
from mcp_memory.memory.error_signature import exception_line
from mcp_memory.memory.moments import TimeWindow
from mcp_memory.memory.projects import EVERY_PROJECT, EVERYWHERE, ProjectScope, require_project
from mcp_memory.memory.service import MemoryService
from mcp_memory.memory.trust import Subject
from mcp_memory.memory.validation import require_json_object, require_n_results, require_text
from mcp_memory.models import (
    EpisodeEnded,
    EpisodeList,
    EpisodeReplay,
    EpisodeStarted,
    EpisodeStatus,
    EventRecorded,
    SimilarEpisode,
    SimilarEpisodes,
)
from mcp_memory.storage.episode_legacy import LEGACY_FILE
from mcp_memory.storage.episode_store import EpisodeRow, EpisodeStore, NewEvent, dumps
from mcp_memory.words import TOKENS_VERSION

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ID_CHARS = 200
MAX_NAME_CHARS = 100
MAX_EVENTS_PER_CALL = 10_000
PENDING_BATCH = 256
# Database work gets its own threads, so a burst of embeddings never delays an event.
DATABASE_THREADS = 16


class EpisodeService:
    """Start, record, end, replay, list and recall episodes.

    Episodes live in the database memories live in, so servers sharing one database share them.
    """

    def __init__(self, settings: Settings, memory: MemoryService, store: EpisodeStore | None = None) -> None:
        self.settings = settings
        self.memory = memory
        self.store = store or EpisodeStore(memory.store.db, settings.data_dir / LEGACY_FILE)
        self.index = EpisodeIndex(self.store, memory.store, memory.embedder, memory.recaller.dense)
        self._limiter = anyio.CapacityLimiter(DATABASE_THREADS)
        self._pending_checked = False
        self._pending_lock = threading.Lock()
        self._words_checked = False
        self._words_lock = threading.Lock()

    async def _db(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(
        self, task: str, context: dict[str, Any], agent_role: str | None, agent: str = "", project: str = ""
    ) -> EpisodeStarted:
        """``agent`` (the token's) is recorded as who started it: only it or an admin may end it. The episode
        belongs to ``project`` ("" is global)."""
        return await self._db(self.start_blocking, task, context, agent_role, agent, project)

    def start_blocking(
        self, task: str, context: dict[str, Any], agent_role: str | None, agent: str = "", project: str = ""
    ) -> EpisodeStarted:
        require_text("task", task, self.settings.max_text_chars)
        context_json = dumps(require_json_object("context", context, self.settings.max_text_chars))
        role = _name("agent_role", agent_role) if agent_role is not None else None
        project = require_project(project, allow_every=False) or ""
        episode_id = f"ep_{uuid.uuid4().hex}"
        now = time.time()
        self.store.create(episode_id, task, context_json, role, now, started_by=agent, project=project)
        return EpisodeStarted(
            episode_id=episode_id,
            task=task,
            project=project,
            started_at=iso(now) or "",
            message="Started. Record each step with record_event and finish with end_episode.",
        )

    async def record(
        self, episode_id: str, event_type: str, agent_role: str, data: dict[str, Any], agent: str = ""
    ) -> EventRecorded:
        """Any writer may add an event to an open episode (a swarm shares episodes); each records its ``agent``."""
        event = dataclasses.replace(self._event(event_type, agent_role, data), agent=agent)
        require_text("episode_id", episode_id, MAX_ID_CHARS)
        seq = (await self._db(self.store.append, episode_id, [event], time.time()))[0]
        return EventRecorded(episode_id=episode_id, seq=seq, event_type=event.event_type)

    def record_many_blocking(self, episode_id: str, events: Sequence[tuple[str, str, dict[str, Any]]]) -> list[int]:
        """Append several events in one transaction (imports); same checks as record_event."""
        require_text("episode_id", episode_id, MAX_ID_CHARS)
        if len(events) > MAX_EVENTS_PER_CALL:
            raise InvalidInput("events", f"{len(events):,} in one call; the limit is {MAX_EVENTS_PER_CALL:,}.")
        new = [self._event(event_type, role, data) for event_type, role, data in events]
        return self.store.append(episode_id, new, time.time()) if new else []

    async def learned_fix(
        self,
        episode_id: str,
        memory_id: str,
        error_message: str,
        resolution: str,
        success: bool,
        agent: str,
        agent_role: str | None,
    ) -> str:
        """An error fix (or failed attempt) stored during an episode: linked to it (learned_from) and, while the
        episode is open, recorded in it as an ``error_fixed`` or ``fix_failed`` event. Says what was done."""
        episode_id = require_text("episode_id", episode_id, MAX_ID_CHARS).strip()
        linked = await self.memory.run(self.memory.links.learned_in, [memory_id], episode_id, agent)
        if not linked:
            return f"No episode '{episode_id}': the fix is stored, not linked to an episode."
        line = shorten(exception_line(error_message) or error_message, 300)
        if success:
            event_type, data = "error_fixed", {"memory_id": memory_id, "fixed": line, "fix": shorten(resolution, 500)}
        else:
            event_type, data = (
                "fix_failed",
                {"memory_id": memory_id, "error": line, "attempt": shorten(resolution, 500)},
            )
        try:
            event = await self.record(episode_id, event_type, agent_role or agent or "agent", data, agent)
        except Conflict:  # ended: the link stands, the replay is closed
            return f"Linked to episode {episode_id} (it has ended: no event recorded)."
        return f"Linked to episode {episode_id} and recorded there as event #{event.seq} ({event_type})."

    def _event(self, event_type: str, agent_role: str, data: dict[str, Any]) -> NewEvent:
        if not isinstance(data, dict):
            raise InvalidInput("data", f"expected a JSON object, got {type(data).__name__}.", 'e.g. {"passed": true}.')
        try:
            data_json = dumps(data)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("data", f"is not JSON-serializable ({exc}).") from exc
        limit = self.settings.max_event_data_chars
        if len(data_json) > limit:
            raise InvalidInput(
                "data",
                f"is {len(data_json):,} characters as JSON; the limit is {limit:,} (MCP_MEMORY_MAX_EVENT_DATA_CHARS).",
                "Nothing was recorded and the episode is unchanged: record an excerpt (e.g. the last 50 lines of "
                "output) or a path to the full log, then call record_event again.",
            )
        return NewEvent(_name("event_type", event_type), _name("agent_role", agent_role), data_json)

    async def end(
        self,
        episode_id: str,
        success: bool,
        metrics: dict[str, Any],
        summary: str,
        *,
        index: bool = True,
        by: str | None = None,
    ) -> EpisodeEnded:
        """End durably first; then save the digest and embed the summary (a failure there is repaired later).
        With ``by``, only the agent that started the episode may end it (``None``: an admin, or local use)."""
        row = await self._db(self.end_blocking, episode_id, success, metrics, summary, by)
        indexed, note = False, "It will be indexed for recall_similar_episodes later."
        if index:
            try:
                await self.memory.run(self.index.add, [row])
                indexed, note = True, "recall_similar_episodes can find it now."
            except (MemoryStoreError, OSError) as exc:
                logger.warning("episode %s ended but not indexed yet: %s", episode_id, exc)
                note = f"Indexing failed for now ({exc}); it is retried on the next recall."
        verdict = "succeeded" if success else "failed"
        return EpisodeEnded(
            episode_id=episode_id,
            success=success,
            event_count=row.event_count,
            indexed=indexed,
            message=f"Ended ({verdict}, {row.event_count} events). {note}",
        )

    def end_blocking(
        self, episode_id: str, success: bool, metrics: dict[str, Any], summary: str, by: str | None = None
    ) -> EpisodeRow:
        require_text("episode_id", episode_id, MAX_ID_CHARS)
        if not isinstance(success, bool):
            raise InvalidInput("success", f"expected true or false, got {success!r}.")
        metrics_json = dumps(require_json_object("metrics", metrics, self.settings.max_text_chars))
        require_text("summary", summary, self.settings.max_text_chars, allow_empty=True)
        row = self.store.end(episode_id, success, metrics_json, summary, time.time(), by)
        return self._save_digest(row)

    def _save_digest(self, row: EpisodeRow) -> EpisodeRow:
        """Read the ended episode once and store its salient facts and words."""
        digest, task_tokens, event_tokens = self._digest(row)
        digest_json = digest.model_dump_json()
        self.store.save_digest(row.id, digest_json, task_tokens, event_tokens)
        return dataclasses.replace(row, digest_json=digest_json)

    def _digest(self, row: EpisodeRow) -> tuple[EpisodeDigest, str, str]:
        """An ended episode's digest and its words (task and files, then events), from one read of its events."""
        builder = DigestBuilder(row.task, json.loads(row.metrics_json), row.summary)
        for event in self.store.scan_events(row.id):
            builder.add(event.seq, event.event_type, event.agent_role, json.loads(event.data_json))
        digest = builder.finish(bool(row.success))
        return digest, token_text(row.task, " ".join(digest.files_changed)), token_text(builder.lexical_events())

    def ensure_words_blocking(self) -> None:
        """Once per process, after the start (in the warm-up) or before the first recall, whichever comes first:
        index the episodes' words again if an earlier tokenizer made them. Not part of the start itself: on a large
        store it reads every event, and memory calls wait for the start."""
        if self._words_checked:
            return
        with self._words_lock:
            if not self._words_checked:
                reindexed = self.reindex_words_blocking()
                if reindexed:
                    logger.warning("indexed the words of %d episodes again (tokenizer %s)", reindexed, TOKENS_VERSION)
                self._words_checked = True

    def reindex_words_blocking(self) -> int:
        """Index every episode's words again unless the current tokenizer made them; returns how many.

        Servers sharing the database may do it at once: each writes the same words. The version is recorded last,
        so a re-index cut short is done again from the start.
        """
        if self.store.words_version() == TOKENS_VERSION:
            return 0
        done = after = 0
        while page := self.store.with_words(after, PENDING_BATCH):
            words: list[tuple[str, str, str]] = []
            for _, row in page:
                _, task_tokens, event_tokens = self._digest(row)
                words.append((row.id, task_tokens, event_tokens))
            self.store.save_words(words)
            after, done = page[-1][0], done + len(page)
        self.store.set_words_version(TOKENS_VERSION)
        return done

    def finish_pending_blocking(self) -> int:
        """Digest and index every ended episode that lacks either (after a crash or an unreachable store)."""
        done = 0
        while rows := self.store.pending(PENDING_BATCH):
            rows = [row if row.digest_json else self._save_digest(row) for row in rows]
            self.index.add(rows)
            done += len(rows)
        return done

    async def ensure_indexed(self) -> None:
        """Once per process, before the first recall: words of an earlier tokenizer made again
        (``ensure_words_blocking``), and what an earlier crash left pending repaired."""
        if self._pending_checked:
            return

        def repair() -> None:
            self.ensure_words_blocking()
            with self._pending_lock:
                if not self._pending_checked:
                    repaired = self.finish_pending_blocking()
                    if repaired:
                        logger.info("indexed %d episodes left pending", repaired)
                    self._pending_checked = True

        await self.memory.run(repair)

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, episode_id: str, after_seq: int = 0, max_events: int = 1000) -> EpisodeReplay:
        return await self._db(self.get_blocking, episode_id, after_seq, max_events)

    def get_blocking(self, episode_id: str, after_seq: int = 0, max_events: int = 1000) -> EpisodeReplay:
        require_text("episode_id", episode_id, MAX_ID_CHARS)
        require_n_results(max_events, MAX_EVENTS_PER_CALL, "max_events")
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise InvalidInput("after_seq", f"must be 0 or a sequence number, got {after_seq!r}.")
        episode, rows = self.store.replay(episode_id, after_seq, max_events + 1)
        info = episode_info(episode)
        more = len(rows) > max_events
        events = [episode_event(row) for row in rows[:max_events]]
        next_after = events[-1].seq if more and events else None
        return EpisodeReplay(
            episode=info,
            timeline=timeline_markdown(info, events, next_after),
            events=events,
            next_after_seq=next_after,
        )

    async def list_episodes(
        self, status: EpisodeStatus | None, success: bool | None, limit: int, project: str | None = EVERY_PROJECT
    ) -> EpisodeList:
        """Newest first: of ``project`` and global ones (``"*"``, the default here: every project)."""
        if status not in (None, "open", "ended"):
            raise InvalidInput("status", f"must be 'open', 'ended' or null, got {status!r}.")
        require_n_results(limit, 1000, "limit")
        scope = ProjectScope.of(project)
        rows, total = await self._db(self.store.recent, status, success, limit, scope.projects)
        return EpisodeList(episodes=[episode_info(row) for row in rows], total=total)

    # -- for people: the console's pages and the CLI's counts ---------------------------------------------------

    def page(
        self, outcome: str | None, role: str | None, text: str | None, offset: int, limit: int, project: str | None
    ) -> tuple[list[EpisodeRow], int, list[str]]:
        """A filtered page, newest first; how many match; every role known (see ``EpisodeLists.page``)."""
        return self.store.page(outcome, role, text, offset, limit, project)

    def started_per_bucket(self, seconds: int) -> list[tuple[int, str, bool | None, int, int]]:
        return self.store.started_per_bucket(seconds)

    def task_of(self, episode_id: str) -> str:
        return self.store.get(episode_id).task

    def count_blocking(self) -> int:
        return self.store.count()

    async def recent_failures(self, limit: int, scope: ProjectScope = EVERYWHERE) -> list[EpisodeRow]:
        """The most recently ended failed episodes in ``scope``, with their digests."""
        return await self._db(self.store.failed, limit, scope.projects)

    async def recall_similar(
        self,
        task_description: str,
        n_results: int,
        success_only: bool,
        project: str | None = EVERY_PROJECT,
        since: str | None = None,
        until: str | None = None,
    ) -> SimilarEpisodes:
        """Ended episodes like the task: of ``project`` and global ones (``"*"``, the default here: every project),
        that ended between ``since`` and ``until`` when given."""
        require_text("task_description", task_description, self.settings.max_text_chars)
        require_n_results(n_results, self.settings.max_results)
        scope = ProjectScope.of(project)
        window = TimeWindow.of(since, until)
        await self.ensure_indexed()
        results = await self.memory.run(
            self._similar_blocking, task_description, n_results, success_only, scope, window
        )
        note = None
        if not results:
            note = "No ended episode matches yet." + (" (Only successful ones were searched.)" if success_only else "")
            if not window.open:
                note += " Only episodes that ended in the since/until window were searched."
            if self.index.dense.left_out("episode", scope):
                note += ' Episodes of other projects were not searched; project="*" searches them too.'
        return SimilarEpisodes(project=scope.label, results=results, note=note)

    def _similar_blocking(
        self, task_description: str, n_results: int, success_only: bool, scope: ProjectScope, window: TimeWindow
    ) -> list[SimilarEpisode]:
        results = self.index.similar(task_description, n_results, success_only, scope, window)
        if not self.memory.trust.configured:
            return results
        verdicts = self.memory.verdicts_blocking([Subject(r.episode_id, r.agent, "episode") for r in results])
        return [r if verdicts[r.episode_id].trusted else r.model_copy(update={"trusted": False}) for r in results]


def _name(field: str, value: str | None) -> str:
    """A short label such as an event type or agent role: non-empty, one line, at most 100 characters."""
    example = "Use a short label such as 'test_run' or 'QA_SENTINEL'."
    text = (value or "").strip()
    if not text:
        raise InvalidInput(field, "must not be empty.", example)
    if "\n" in text or len(text) > MAX_NAME_CHARS:
        raise InvalidInput(field, f"must be one line of at most {MAX_NAME_CHARS} characters.", example)
    return text
