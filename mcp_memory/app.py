"""The running memory: settings, model, store and services, started lazily and exactly once."""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from mcp_memory import collector_pause
from mcp_memory.config import Settings
from mcp_memory.errors import MemoryStoreError, StoreDamaged
from mcp_memory.memory.schedule import ScheduledConsolidation

if TYPE_CHECKING:  # imported when the app is first used: a server answers its handshake before paying for them
    from mcp_memory.episodes.failures import FailureAnalyst
    from mcp_memory.episodes.service import EpisodeService
    from mcp_memory.knowledge.service import KnowledgeBase
    from mcp_memory.learning.service import PatternLearning
    from mcp_memory.memory.consolidation import Consolidator
    from mcp_memory.memory.service import MemoryService
    from mcp_memory.models import ReconcileReport
    from mcp_memory.storage.console_sessions import ConsoleSessions
    from mcp_memory.storage.database import Database
    from mcp_memory.storage.embeddings import Embedder
    from mcp_memory.storage.store import MemoryStore

logger = logging.getLogger(__name__)
WARMUP_DELAY_SECONDS = 0.5
# A warm-up that the system interrupts (out of descriptors) tries again this often, this long apart.
WARMUP_ATTEMPTS = 5
WARMUP_RETRY_SECONDS = 2.0
# At exit, how long to let a warm-up that is still running finish (it is seconds of work at most).
EXIT_WAIT_SECONDS = 30.0
# A store in flight while the start-up reconcile looks has its vector added within this time.
RECONCILE_SETTLE_SECONDS = 2.0
_warmups: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_schedules: weakref.WeakSet[ScheduledConsolidation] = weakref.WeakSet()
_exiting = threading.Event()


@atexit.register
def _let_warmups_finish() -> None:
    """A daemon thread still inside torch or Chroma while the interpreter tears down their native thread pools
    aborts the process ("terminate called without an active exception"); so at exit a warm-up stops before its
    next step (opening the store, seeding, loading the model, one encode, the word index), and one in the middle
    of a step is given the time to finish it."""
    _exiting.set()
    for schedule in list(_schedules):  # a consolidation stops between two steps
        schedule.stop()
    index_answered_stores()
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for thread in [*_warmups, *(schedule.thread for schedule in list(_schedules))]:
        if thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))


def index_answered_stores(timeout: float = EXIT_WAIT_SECONDS) -> None:
    """Before the process ends: the vectors of stores it answered are indexed now, not at the next start."""
    backlogs = sys.modules.get("mcp_memory.storage.vector_backlog")  # not imported: nothing was stored
    if backlogs is not None:
        backlogs.settle_all(timeout)


def warming_up() -> bool:
    """Whether a warm-up thread is still running (importing, opening the store, loading the model)."""
    return any(thread.is_alive() for thread in list(_warmups))


class _Beside:
    """A step of the start run on its own thread beside the others; ``join`` waits for it and raises what it
    raised. Counted as a warm-up, so that an exit waits for it rather than tear native code down under it."""

    def __init__(self, step: Callable[[], None], stop: threading.Event | None) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(step, stop), name="mcp-memory-encoder", daemon=True)
        _warmups.add(self.thread)
        self.thread.start()

    def _run(self, step: Callable[[], None], stop: threading.Event | None) -> None:
        if stop is not None and stop.is_set():
            return
        try:
            step()
        except BaseException as exc:  # raised again by join, in the thread that waits for the start
            self.error = exc

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def configured_embedder(settings: Settings, batch_threads: int | None = None) -> Embedder:
    """The embedding model as the settings ask for it (``batch_threads`` for a bulk import's batches)."""
    from mcp_memory.storage.embeddings import Embedder

    return Embedder(
        model_path=settings.model_folder(),
        threads=settings.embed_threads,
        batch_size=settings.embed_batch_size,
        batch_threads=batch_threads,
        encoder=settings.encoder,
        cache_dir=settings.cache_dir,
    )


def open_console_sessions(settings: Settings) -> ConsoleSessions:
    """The console's login sessions, kept in the memory's database so they outlive restarts and every server
    knows them."""
    from mcp_memory.storage.console_sessions import ConsoleSessions
    from mcp_memory.storage.database import Database

    return ConsoleSessions(Database(settings.database_url, settings.data_dir), settings.port)


@dataclass(frozen=True)
class _Parts:
    """The model, the store and the services over them, made together on first use."""

    embedder: Embedder
    database: Database
    store: MemoryStore
    memory: MemoryService
    knowledge: KnowledgeBase
    episodes: EpisodeService
    failures: FailureAnalyst
    learning: PatternLearning
    consolidator: Consolidator


def _made_parts(settings: Settings, embedder: Embedder) -> _Parts:
    from mcp_memory.episodes.failures import FailureAnalyst
    from mcp_memory.episodes.service import EpisodeService
    from mcp_memory.knowledge.service import KnowledgeBase
    from mcp_memory.learning.service import PatternLearning
    from mcp_memory.memory.consolidation import Consolidator
    from mcp_memory.memory.service import MemoryService
    from mcp_memory.storage.database import Database
    from mcp_memory.storage.store import MemoryStore

    database = Database(settings.database_url, settings.data_dir)
    store = MemoryStore(embedder, settings.data_dir, settings.chroma_url, database=database)
    memory = MemoryService(settings, embedder, store)
    episodes = EpisodeService(settings, memory)
    return _Parts(
        embedder=embedder,
        database=database,
        store=store,
        memory=memory,
        knowledge=KnowledgeBase(memory, settings.seeds_dir),
        episodes=episodes,
        failures=FailureAnalyst(episodes, memory),
        learning=PatternLearning(settings, memory, episodes),
        consolidator=Consolidator(memory, settings.archive_after),
    )


class MemoryApp:
    """Everything a server, the CLI or a benchmark needs, with no protocol in it. The services are made (and
    their modules imported: the database library, Chroma's client, numpy) on first use, so that a server answers
    its client's handshake first."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._parts: _Parts | None = None
        self._parts_lock = threading.Lock()
        self.schedule: ScheduledConsolidation | None = None
        self._start_lock = threading.Lock()
        self._started = False
        # Why the last start failed (a data dir, database or Chroma server out of reach), until a start succeeds.
        self.start_error: MemoryStoreError | None = None
        self._warmup: threading.Thread | None = None
        self._handshake_done = threading.Event()

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            with self._parts_lock:
                if self._parts is None:
                    self._parts = _made_parts(self.settings, self.embedder)
        return self._parts

    @property
    def embedder(self) -> Embedder:
        """Made apart from the services (light: nothing of the model is loaded), so that the encoder loads beside
        their imports."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = configured_embedder(self.settings)
        return self._embedder

    @property
    def database(self) -> Database:
        return self.parts.database

    @property
    def store(self) -> MemoryStore:
        return self.parts.store

    @property
    def memory(self) -> MemoryService:
        return self.parts.memory

    @property
    def knowledge(self) -> KnowledgeBase:
        return self.parts.knowledge

    @property
    def episodes(self) -> EpisodeService:
        return self.parts.episodes

    @property
    def failures(self) -> FailureAnalyst:
        return self.parts.failures

    @property
    def learning(self) -> PatternLearning:
        return self.parts.learning

    @property
    def consolidator(self) -> Consolidator:
        return self.parts.consolidator

    def start_blocking(self, stop: threading.Event | None = None) -> None:
        """Open the store, seed the knowledge base if configured, and load the model (a set ``stop`` ends the
        start between two of those steps, unfinished: the next call starts again)."""
        if self._started:
            return
        with self._start_lock:
            if self._started:
                return
            # ONNX Runtime builds the encoder's session (~0.2 s) without the GIL: beside the imports of the store's
            # open, which hold it, it costs the start next to nothing.
            encoder = _Beside(self._load_encoder, stop)
            steps = (self.store.open, self.episodes.store.open, self._seed_if_configured, encoder.join)
            for step in steps:
                if stop is not None and stop.is_set():
                    return
                try:
                    step()
                except MemoryStoreError as exc:
                    self.start_error = exc
                    raise
            self.start_error = None
            self._started = True

    def _load_encoder(self) -> None:
        self.embedder.load()
        self.embedder.warm()

    def check_started(self) -> None:
        """Raise why the last start failed, for calls that do not wait for a start of their own (episodes)."""
        if self.start_error is not None:
            raise self.start_error

    async def open_store(self) -> None:
        """Open the store now (not in the warm-up), so that a server that cannot reach it stops before listening."""
        await anyio.to_thread.run_sync(self.open_blocking)

    def open_blocking(self) -> None:
        """Open the store without the rest of a start (no seeding, no model): what a command needs."""
        self.store.open()

    def open_rows_only(self) -> None:
        """Open the database alone, leaving the vector index to the server that owns it."""
        self.store.open_rows_only()

    @property
    def is_open(self) -> bool:
        return self.store.is_open

    def backup_database(self, target: Path) -> bool:
        """An online copy of an SQLite database file at ``target``; False for PostgreSQL (use pg_dump)."""
        return self.database.backup_to(target)

    def _seed_if_configured(self) -> None:
        if self.settings.seed_on_start:
            counts = self.knowledge.seed_blocking()
            logger.info("knowledge base seeded: %s", counts.model_dump())

    def start_in_background(self, delay: float = WARMUP_DELAY_SECONDS) -> threading.Thread | None:
        """Warm up in a thread once the handshake is likely done; the first tool call waits only for what is left.

        After the start proper, the thread builds the error word index (a recall that comes first waits for
        that build instead of starting its own), then reconciles the rows with the vector index (seconds for a
        large store: not before the index a first recall needs), then makes episode words again if an earlier
        tokenizer made them.

        The short delay keeps the import of the services and Chroma (which holds the GIL for long stretches) from
        slowing the client's ``initialize`` and ``tools/list``, which arrive in the first milliseconds; it ends
        early once the client has listed the tools (``handshake_done``).
        """
        if self._started or self._warmup is not None:
            return self._warmup

        def steps() -> None:
            self.start_blocking(stop=_exiting)
            for step in (self.memory.warm_indexes, self.reconcile, self.episodes.ensure_words_blocking):
                if not self._started or _exiting.is_set():
                    return
                step()

        def warm() -> None:
            try:
                if delay > 0 and not self._start_lock.locked():
                    self._handshake_done.wait(delay)
                for attempt in range(1, WARMUP_ATTEMPTS + 1):
                    if _exiting.is_set():
                        return
                    try:
                        steps()
                        return
                    except OSError as exc:  # out of descriptors, say: every step is safe to run again
                        if attempt == WARMUP_ATTEMPTS:
                            raise
                        logger.warning("background start interrupted (%s); trying again", exc)
                        _exiting.wait(WARMUP_RETRY_SECONDS)
            except StoreDamaged:  # start_error holds it: the server stops, saying so once (runner.stop_if_damaged)
                return
            except MemoryStoreError as exc:  # expected (a database that is down): the first tool call retries
                logger.warning("background start failed: %s", exc)
            except Exception:  # the first tool call retries and reports the cause to the agent
                if _exiting.is_set():
                    # The client left and the interpreter is shutting down under the warm-up (imports and thread
                    # pools refuse new work): nobody is waiting for this start, so it ends quietly.
                    return
                logger.exception("background start failed")
            finally:
                collector_pause.started()

        thread = threading.Thread(target=warm, name="mcp-memory-warmup", daemon=True)
        _warmups.add(thread)
        thread.start()
        self._warmup = thread
        return thread

    @property
    def warmup(self) -> threading.Thread | None:
        """The background start, once one was begun (it ends when the store, the model and the indexes are ready)."""
        return self._warmup

    def handshake_done(self) -> None:
        """The client has listed the tools: the warm-up need not wait out the rest of its delay."""
        self._handshake_done.set()

    def consolidate_on_schedule(self) -> ScheduledConsolidation | None:
        """Consolidate every MCP_MEMORY_CONSOLIDATE_EVERY (None when it is 0), until ``stop_background_work`` or exit;
        for the process that owns the store (or a server on a shared database)."""
        if self.settings.consolidate_every <= 0 or self.schedule is not None:
            return self.schedule
        self.schedule = ScheduledConsolidation(
            lambda: self.consolidator, self.settings.consolidate_every, self.start_blocking, stop=threading.Event()
        )
        _schedules.add(self.schedule)
        self.schedule.start()
        return self.schedule

    def stop_background_work(self) -> None:
        """Stop consolidating, and wait for a run's current step: the store may pass to another process next. Then
        write when memories were last recalled (the tracker writes every 30 s: a short-lived process would lose
        them all, and archiving would take those memories for unused)."""
        if self.schedule is not None:
            self.schedule.stop(wait=EXIT_WAIT_SECONDS)
        if self._parts is not None:
            self._parts.memory.usage.flush()

    def reconcile(self, settle_seconds: float = RECONCILE_SETTLE_SECONDS) -> ReconcileReport:
        """Mend what a crash between a row and its vector left behind (see ``MemoryStore.reconcile``)."""
        from mcp_memory.memory.redraft import embed_text_of

        report = self.store.reconcile(embed_text_of, self.embedder.encode_batch, settle_seconds)
        if report.embedded or report.removed:
            logger.warning(
                "reconciled the vector index: %d embedded again, %d removed", report.embedded, report.removed
            )
        return report

    async def ready(self) -> None:
        if not self._started:
            await anyio.to_thread.run_sync(self.start_blocking)
